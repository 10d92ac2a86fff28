package modules

import (
	"github.com/coursefulfill/fulfillment/order"

	"context"

	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/lms"
)

// UpgradeFallbackMode is the mode a revoked upgrade returns the learner to
// when they had no active enrollment to come back to.
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
// the learner's enrollment to the line's mode and records the prior mode —
// the one Observe read before the line's first write, so that a retry after
// a lost answer does not take the upgraded mode for the prior one.
// Revoking an upgrade takes back the upgrade, not the course: the learner
// goes back to the prior mode (audit when they had no active enrollment), and
// only while they are still in the upgraded mode. A learner who was already
// in that mode before the order is left alone (see Seat for why).
type Upgrade struct {
	lms enrollmentAPI
	log *zap.Logger
}

// Observe reads, without writing, the learner's enrollment in the course run.
func (u *Upgrade) Observe(ctx context.Context, req Request) Result {
	p, r, ok := observeEnrollment(ctx, u.lms, req)
	if !ok {
		return r
	}
	u.log.Info("upgrade observed", lineFields(req, zap.String(PriorActive, p[PriorActive]), zap.String(PriorMode, p[PriorMode]))...)
	return Success(p)
}

// Fulfill changes the learner's mode to the line's. With req.Prior its grant
// says what the order changed relative to it.
func (u *Upgrade) Fulfill(ctx context.Context, req Request) Result {
	if r, ok := checkEnrollmentLine(req); !ok {
		return r
	}
	er := enrollRequest(req, req.Line.Mode)
	er.Observed = freshEnrollment(req)
	out, err := u.lms.ChangeMode(ctx, er)
	if err != nil {
		return ResultFromError(err)
	}
	g := priorGrant(out)
	if len(req.Prior) > 0 {
		g = withPrior(map[string]string{GrantAction: enrollmentAction(req.Prior, req.Line.Mode, sameMode)}, req.Prior)
	}
	u.log.Info("upgrade fulfilled", lineFields(req, zap.String("mode", req.Line.Mode),
		zap.String("prior_mode", g[GrantPriorMode]), zap.String("action", g[GrantAction]))...)
	return Success(g)
}

// Revoke returns the learner to the prior mode: the one in req.Grant, or in
// req.Prior when the fulfill's answer was never recorded. With neither (a
// line of an order from before observation) it acts only on an enrollment
// carrying this order line's stamp.
func (u *Upgrade) Revoke(ctx context.Context, req Request) Result {
	if r, ok := checkEnrollmentLine(req); !ok {
		return r
	}
	p := req.Grant // a grant, with or without prior keys
	switch {
	case observed(req.Grant):
	case len(req.Prior) > 0:
		// Also over a grant without prior keys (a fulfill run by a worker
		// from before observation): the observation is the better record.
		p = req.Prior
	case len(req.Grant) == 0:
		e, err := u.lms.Lookup(ctx, enrollRequest(req, req.Line.Mode))
		if err != nil {
			return ResultFromError(err)
		}
		if e == nil || !e.IsActive || e.Mode != req.Line.Mode || !e.WrittenFor(req.OrderNumber, req.Line.ID) {
			u.log.Info("upgrade revoked", lineFields(req, zap.String("action", lms.ActionNone))...)
			return Success(map[string]string{GrantAction: lms.ActionNone})
		}
		// Our write, from an unknown prior mode: back to the fallback.
		p = map[string]string{}
	}
	if grantedNothing(p) || priorActiveIn(p, req.Line.Mode, sameMode) {
		return Success(map[string]string{GrantAction: lms.ActionNone})
	}
	target := UpgradeFallbackMode
	if p[GrantPriorActive] == "true" && p[GrantPriorMode] != "" {
		target = p[GrantPriorMode]
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
	u.log.Info("upgrade revoked", lineFields(req, zap.String("to_mode", target), zap.String("action", out.Action))...)
	return Success(map[string]string{GrantAction: out.Action})
}
