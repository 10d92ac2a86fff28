package modules

import (
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"

	"context"
	"strconv"

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
// LMS client is configured to).
//
// Observe records the learner's state before the line's first write (the
// enrollment, and whether the email had a pre-enrollment); Fulfill records
// in its Grant what the order changed relative to that state — not relative
// to what its own read found, which after a lost answer is its own earlier
// write — and Revoke restores that state:
//
//   - the order created or reactivated the enrollment: Revoke unenrolls;
//   - it moved an active enrollment from mode X: Revoke moves it back to X;
//   - it pre-enrolled the email: Revoke unenrolls the learner if they have
//     registered since (and so been auto-enrolled) and removes the
//     pre-enrollment;
//   - the learner was already actively enrolled in that mode (or a paid one
//     when the seat is free) before the order: the order granted nothing,
//     and Revoke leaves the enrollment alone. Refunding this order must not
//     take away access the learner has from elsewhere (another order, a
//     staff enrollment).
//
// A line whose fulfill may have written without its answer arriving is
// revoked with the observation alone, with the same rules. A line of an
// order from before observation, with neither, is unenrolled only when the
// enrollment carries this order line's stamp (see revokeUnrecorded).
type Seat struct {
	lms enrollmentAPI
	log *zap.Logger
}

// Observe reads, without writing, the learner's enrollment in the course run
// and, when the fulfill could pre-enroll them (no enrollment, an email, the
// client pre-enrolls by email), whether their email has a pre-enrollment.
func (s *Seat) Observe(ctx context.Context, req Request) Result {
	p, r, ok := observeEnrollment(ctx, s.lms, req)
	if !ok {
		return r
	}
	if p[PriorExists] == "false" && req.User.Email != "" && s.lms.PreEnrollByEmail() {
		allowed, err := s.lms.HasEnrollmentAllowed(ctx, req.User.Email, req.Line.CourseID)
		if err != nil {
			return ResultFromError(err)
		}
		p[PriorAllowed] = strconv.FormatBool(allowed)
	}
	s.log.Info("seat observed", lineFields(req, zap.String(PriorActive, p[PriorActive]), zap.String(PriorMode, p[PriorMode]),
		zap.String(PriorAllowed, p[PriorAllowed]))...)
	return Success(p)
}

// Fulfill enrolls the learner. With req.Prior its grant says what the order
// changed relative to it; without (a line never observed) what this call's
// own read found. A fresh req.Prior stands in for the read.
func (s *Seat) Fulfill(ctx context.Context, req Request) Result {
	if r, ok := checkEnrollmentLine(req); !ok {
		return r
	}
	er := enrollRequest(req, req.Line.Mode)
	er.Observed = freshEnrollment(req)
	out, err := s.lms.Enroll(ctx, er)
	if err != nil {
		return ResultFromError(err)
	}
	g := priorGrant(out)
	if len(req.Prior) > 0 {
		g = seatGrant(req.Prior, out, req.Line.Mode)
	}
	if out.PreEnrolled && !lms.IsFreeMode(req.Line.Mode) {
		// Registering gives the learner the course's default mode, not
		// the paid one they bought: the line waits for their account and
		// is fulfilled again once it exists (the order checks with
		// backoff). The grant says what is done so far.
		s.log.Info("seat pre-enrolled, waiting for the learner's account", lineFields(req, zap.String("mode", req.Line.Mode))...)
		return Result{Status: StatusFailure, ErrorType: contract.ErrorTypeAwaitingAccount, Grant: g,
			Message: "the learner has no LMS account yet: pre-enrolled by email; the " + req.Line.Mode +
				" seat is completed once their account exists"}
	}
	s.log.Info("seat fulfilled", lineFields(req, zap.String("mode", req.Line.Mode), zap.String("action", g[GrantAction]),
		zap.String("call_action", out.Action))...)
	return Success(g)
}

// seatGrant is the grant of a fulfill made with the observation p: the prior
// keys, and what the order changed relative to them.
func seatGrant(p map[string]string, out lms.Outcome, mode string) map[string]string {
	g := withPrior(map[string]string{}, p)
	if !out.PreEnrolled {
		g[GrantAction] = enrollmentAction(p, mode, lms.ModeSatisfies)
		return g
	}
	allowedBefore := out.PriorAllowed
	if v, ok := p[PriorAllowed]; ok {
		allowedBefore = v == "true"
	}
	if allowedBefore {
		g[GrantAction] = lms.ActionNone
	} else {
		g[GrantAction], g[GrantPreEnrolled] = lms.ActionPreEnrolled, "true"
	}
	return g
}

// Revoke undoes what the line's fulfill did:
//
//   - with a grant recorded from an observation, or with the observation
//     alone (req.Prior, the fulfill's answer never recorded), it restores
//     the observed state, no less and no more;
//   - with a grant recorded before observation existed, it undoes what that
//     grant says, as it always has;
//   - with neither, it unenrolls only an enrollment carrying this order
//     line's stamp, and otherwise writes nothing and answers action none.
func (s *Seat) Revoke(ctx context.Context, req Request) Result {
	if r, ok := checkEnrollmentLine(req); !ok {
		return r
	}
	switch {
	case observed(req.Grant):
		return s.restore(ctx, req, req.Grant, req.Grant[GrantAction])
	case len(req.Prior) > 0:
		// Also when a grant without prior keys comes along (a fulfill run
		// by a worker from before observation): the observation is the
		// better record.
		return s.restore(ctx, req, req.Prior, "")
	case len(req.Grant) > 0:
		return s.revokeGrant(ctx, req)
	}
	return s.revokeUnrecorded(ctx, req)
}

// restore brings the learner back to the prior state p. did is what the
// fulfill recorded it did ("" when its answer never arrived).
func (s *Seat) restore(ctx context.Context, req Request, p map[string]string, did string) Result {
	mode := req.Line.Mode
	ours := p[GrantPreEnrolled] == "true"
	if ours && req.User.Email == "" {
		return invalidLine("the seat was pre-enrolled by email but the order has no email")
	}
	if !ours && p[PriorAllowed] == "false" && req.User.Email != "" {
		// A pre-enrollment that was not there before the order is the
		// fulfill's, whose answer may never have arrived.
		has, err := s.lms.HasEnrollmentAllowed(ctx, req.User.Email, req.Line.CourseID)
		if err != nil {
			return ResultFromError(err)
		}
		ours = has
	}
	var out lms.Outcome
	var err error
	switch {
	case did == lms.ActionNone, priorActiveIn(p, mode, lms.ModeSatisfies):
		// The order granted nothing: the access is from elsewhere.
		out = lms.Outcome{Action: lms.ActionNone}
	case p[PriorActive] == "true":
		back := enrollRequest(req, p[PriorMode])
		back.FromMode = mode
		out, err = s.lms.ChangeMode(ctx, back)
	case ours:
		// The learner may have registered since and been auto-enrolled, in
		// the course's default mode: no mode guard. Unenrolled before the
		// pre-enrollment is removed, so that a retry still knows it is ours.
		out, err = s.lms.Unenroll(ctx, enrollRequest(req, ""))
	case did == "" && p[PriorAllowed] == "true" && lms.IsFreeMode(mode):
		// A pre-enrollment from elsewhere stood for this learner: the
		// fulfill wrote only if they had an account, and their
		// registration would have enrolled them in the course's default
		// (free) mode. An active free-mode enrollment may be that one; it
		// costs nothing to leave it.
		out = lms.Outcome{Action: lms.ActionNone}
	default:
		out, err = s.lms.Unenroll(ctx, enrollRequest(req, mode))
	}
	if err != nil {
		return ResultFromError(err)
	}
	revoked := map[string]string{GrantAction: out.Action}
	if ours {
		allowance, err := s.lms.RemoveEnrollmentAllowed(ctx, req.User.Email, req.Line.CourseID)
		if err != nil {
			return ResultFromError(err)
		}
		revoked["allowance_action"] = allowance.Action
		if out.Action == lms.ActionNone {
			revoked[GrantAction] = allowance.Action
		}
	}
	s.logRevoked(req, revoked[GrantAction], out)
	return Success(revoked)
}

// revokeGrant undoes a grant recorded before observation existed, by what it
// says the fulfill found and did.
func (s *Seat) revokeGrant(ctx context.Context, req Request) Result {
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
	revoked[GrantAction] = out.Action
	s.logRevoked(req, out.Action, out)
	return Success(revoked)
}

// revokeUnrecorded revokes a line of an order from before observation whose
// fulfill recorded no grant (an attempt cut short or failed transiently).
// Only an active enrollment carrying this order line's stamp, evidence that
// our write made it, is unenrolled; anything else — an enrollment from
// another order or from staff, or an LMS that does not answer enrollment
// attributes — is left alone, and the answer is action none.
func (s *Seat) revokeUnrecorded(ctx context.Context, req Request) Result {
	e, err := s.lms.Lookup(ctx, enrollRequest(req, req.Line.Mode))
	if err != nil {
		return ResultFromError(err)
	}
	out := lms.Outcome{Action: lms.ActionNone}
	if e != nil && e.IsActive && e.WrittenFor(req.OrderNumber, req.Line.ID) {
		if out, err = s.lms.Unenroll(ctx, enrollRequest(req, req.Line.Mode)); err != nil {
			return ResultFromError(err)
		}
	}
	s.logRevoked(req, out.Action, out)
	return Success(map[string]string{GrantAction: out.Action})
}

func (s *Seat) logRevoked(req Request, action string, out lms.Outcome) {
	s.log.Info("seat revoked", lineFields(req, zap.String("action", action), zap.Bool("mode_mismatch", out.ModeMismatch))...)
}

// lineFields are the log fields naming a line (never the learner) and more.
func lineFields(req Request, more ...zap.Field) []zap.Field {
	return append([]zap.Field{zap.String("order", req.OrderNumber), zap.String("line", req.Line.ID),
		zap.String("course_id", req.Line.CourseID)}, more...)
}
