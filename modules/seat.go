package modules

import (
	"github.com/coursefulfill/fulfillment/order"

	"context"

	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/lms"
)

func init() {
	Register(order.ProductSeat, func(d Deps) (Module, error) {
		if d.LMS == nil {
			return nil, errNoLMS
		}
		return &Seat{lms: d.LMS, log: d.Logger}, nil
	})
}

// Seat fulfills a seat in a course run: it enrolls the learner in the line's
// mode, or pre-enrolls their email when they have no LMS account yet (and the
// LMS client is configured to). Its Grant records what it found and did, so
// that Revoke undoes exactly that:
//
//   - it created or reactivated the enrollment: Revoke unenrolls;
//   - it moved an active enrollment from mode X: Revoke moves it back to X;
//   - it pre-enrolled the email: Revoke removes the pre-enrollment, and the
//     enrollment the learner got from it if they have registered since;
//   - the learner was already actively enrolled in that mode (or a paid one
//     when the seat is free) before the order: the order granted nothing,
//     and Revoke leaves the enrollment alone. Refunding this order must not
//     take away access the learner has from elsewhere (another order, a
//     staff enrollment). The price of this choice: if a fulfill's write
//     succeeded but its answer was lost, the retry finds the learner
//     enrolled and records it as prior, so that refund keeps the learner
//     enrolled; an operator can unenroll them by hand.
type Seat struct {
	lms enrollmentAPI
	log *zap.Logger
}

// Fulfill enrolls the learner.
func (s *Seat) Fulfill(ctx context.Context, req Request) Result {
	if r, ok := checkEnrollmentLine(req); !ok {
		return r
	}
	out, err := s.lms.Enroll(ctx, enrollRequest(req, req.Line.Mode))
	if err != nil {
		return ResultFromError(err)
	}
	s.log.Info("seat fulfilled", zap.String("order", req.OrderNumber), zap.String("line", req.Line.ID),
		zap.String("course_id", req.Line.CourseID), zap.String("mode", req.Line.Mode), zap.String("action", out.Action))
	return Success(priorGrant(out))
}

// Revoke undoes what Fulfill recorded in req.Grant. Without a grant (the
// fulfill's answer was never recorded) it unenrolls from the line's mode.
func (s *Seat) Revoke(ctx context.Context, req Request) Result {
	if r, ok := checkEnrollmentLine(req); !ok {
		return r
	}
	g := req.Grant
	revoked := map[string]string{}
	var out lms.Outcome
	var err error
	switch {
	case g[GrantPreEnrolled] == "true":
		if req.User.Email == "" {
			return invalidLine("the seat was pre-enrolled by email but the order has no email")
		}
		allowance, err := s.lms.RemoveEnrollmentAllowed(ctx, req.User.Email, req.Line.CourseID)
		if err != nil {
			return ResultFromError(err)
		}
		revoked["allowance_action"] = allowance.Action
		// The learner may have registered since and been auto-enrolled
		// (in the course's default mode, hence no mode guard).
		if out, err = s.lms.Unenroll(ctx, enrollRequest(req, "")); err != nil {
			return ResultFromError(err)
		}
	case grantedNothing(g):
		out = lms.Outcome{Action: lms.ActionNone}
	case g[GrantAction] == lms.ActionModeChanged && g[GrantPriorMode] != "":
		back := enrollRequest(req, g[GrantPriorMode])
		back.FromMode = req.Line.Mode
		if out, err = s.lms.ChangeMode(ctx, back); err != nil {
			return ResultFromError(err)
		}
	default:
		if out, err = s.lms.Unenroll(ctx, enrollRequest(req, req.Line.Mode)); err != nil {
			return ResultFromError(err)
		}
	}
	s.log.Info("seat revoked", zap.String("order", req.OrderNumber), zap.String("line", req.Line.ID),
		zap.String("course_id", req.Line.CourseID), zap.String("action", out.Action), zap.Bool("mode_mismatch", out.ModeMismatch))
	revoked[GrantAction] = out.Action
	return Success(revoked)
}
