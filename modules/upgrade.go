package modules

import (
	"github.com/coursefulfill/fulfillment/order"

	"context"

	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/lms"
)

// UpgradeFallbackMode is the mode a revoked upgrade returns the learner to
// when the fulfill found no active enrollment to come back to.
const UpgradeFallbackMode = "audit"

func init() {
	Register(order.ProductUpgrade, func(d Deps) (Module, error) {
		if d.LMS == nil {
			return nil, errNoLMS
		}
		return &Upgrade{lms: d.LMS, log: d.Logger}, nil
	})
}

// Upgrade fulfills a mode upgrade (audit to verified, typically): it changes
// the learner's enrollment to the line's mode and records the prior mode.
// Revoking an upgrade takes back the upgrade, not the course: the learner
// goes back to the prior mode (audit when they had no active enrollment), and
// only while they are still in the upgraded mode. A learner who was already
// in that mode before the order is left alone (see Seat for why).
type Upgrade struct {
	lms enrollmentAPI
	log *zap.Logger
}

// Fulfill changes the learner's mode to the line's.
func (u *Upgrade) Fulfill(ctx context.Context, req Request) Result {
	if r, ok := checkEnrollmentLine(req); !ok {
		return r
	}
	out, err := u.lms.ChangeMode(ctx, enrollRequest(req, req.Line.Mode))
	if err != nil {
		return ResultFromError(err)
	}
	u.log.Info("upgrade fulfilled", zap.String("order", req.OrderNumber), zap.String("line", req.Line.ID),
		zap.String("course_id", req.Line.CourseID), zap.String("mode", req.Line.Mode),
		zap.String("prior_mode", out.PriorMode), zap.String("action", out.Action))
	return Success(priorGrant(out))
}

// Revoke returns the learner to the mode recorded in req.Grant.
func (u *Upgrade) Revoke(ctx context.Context, req Request) Result {
	if r, ok := checkEnrollmentLine(req); !ok {
		return r
	}
	g := req.Grant
	if grantedNothing(g) {
		return Success(map[string]string{GrantAction: lms.ActionNone})
	}
	target := UpgradeFallbackMode
	if g[GrantPriorActive] == "true" && g[GrantPriorMode] != "" {
		target = g[GrantPriorMode]
	}
	back := enrollRequest(req, target)
	back.FromMode = req.Line.Mode
	out, err := u.lms.ChangeMode(ctx, back)
	if err != nil {
		if lms.ErrorType(err) != lms.TypeModeUnavailable || target != UpgradeFallbackMode {
			return ResultFromError(err)
		}
		// The course offers no audit mode to fall back to: taking the
		// upgrade back means unenrolling.
		if out, err = u.lms.Unenroll(ctx, enrollRequest(req, req.Line.Mode)); err != nil {
			return ResultFromError(err)
		}
	}
	u.log.Info("upgrade revoked", zap.String("order", req.OrderNumber), zap.String("line", req.Line.ID),
		zap.String("course_id", req.Line.CourseID), zap.String("to_mode", target), zap.String("action", out.Action))
	return Success(map[string]string{GrantAction: out.Action})
}
