package modules

import (
	"github.com/coursefulfill/fulfillment/order"

	"context"
	"strconv"

	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/lms"
)

func init() {
	Register(order.ProductEntitlement, func(d Deps) (Module, error) {
		if d.LMS == nil {
			return nil, errNoLMS
		}
		return &Entitlement{lms: d.LMS, log: d.Logger}, nil
	})
}

// Entitlement fulfills a course entitlement (a seat in "some run of course
// X", chosen later by the learner). The LMS names courses by their catalog
// UUID, so the line needs course_uuid. The entitlement carries the order
// number, which makes the fulfill idempotent and lets a revoke without a
// recorded grant find it.
type Entitlement struct {
	lms entitlementAPI
	log *zap.Logger
}

// Fulfill creates (or finds) the learner's entitlement for this order.
func (e *Entitlement) Fulfill(ctx context.Context, req Request) Result {
	if r, ok := checkEntitlementLine(req); !ok {
		return r
	}
	out, err := e.lms.CreateEntitlement(ctx, lms.EntitlementRequest{Username: req.User.Username,
		CourseUUID: req.Line.CourseUUID, Mode: req.Line.Mode, OrderNumber: req.OrderNumber})
	if err != nil {
		return ResultFromError(err)
	}
	e.log.Info("entitlement fulfilled", zap.String("order", req.OrderNumber), zap.String("line", req.Line.ID),
		zap.String("course_uuid", req.Line.CourseUUID), zap.String("entitlement_uuid", out.Entitlement.UUID),
		zap.Bool("created", out.Created))
	return Success(map[string]string{GrantEntitlementUUID: out.Entitlement.UUID, "created": strconv.FormatBool(out.Created)})
}

// Revoke revokes the entitlement recorded in req.Grant, or, without one, the
// learner's active entitlements to the course made for this order.
func (e *Entitlement) Revoke(ctx context.Context, req Request) Result {
	uuids := []string{}
	if u := req.Grant[GrantEntitlementUUID]; u != "" {
		uuids = append(uuids, u)
	} else {
		if r, ok := checkEntitlementLine(req); !ok {
			return r
		}
		found, err := e.lms.FindEntitlements(ctx, req.User.Username, req.Line.CourseUUID)
		if err != nil {
			return ResultFromError(err)
		}
		for _, ent := range found {
			if ent.Active() && ent.OrderNumber == req.OrderNumber {
				uuids = append(uuids, ent.UUID)
			}
		}
	}
	revoked := 0
	for _, u := range uuids {
		did, err := e.lms.RevokeEntitlement(ctx, u)
		if err != nil {
			return ResultFromError(err)
		}
		if did {
			revoked++
		}
	}
	e.log.Info("entitlement revoked", zap.String("order", req.OrderNumber), zap.String("line", req.Line.ID),
		zap.Int("revoked", revoked))
	return Success(map[string]string{"revoked": strconv.Itoa(revoked)})
}

func checkEntitlementLine(req Request) (Result, bool) {
	switch {
	case req.Line.CourseUUID == "":
		return invalidLine("entitlement lines need the course's catalog UUID (course_uuid); the LMS cannot resolve a course key"), false
	case req.User.Username == "":
		return invalidLine("entitlements need the learner's LMS username"), false
	}
	return Result{}, true
}
