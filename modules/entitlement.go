package modules

import (
	"slices"
	"strings"

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
//
// Observe records the learner's active entitlements to the course before
// the line's first write; an entitlement of this order that is not among
// them is the order's own, also when the fulfill's retry finds it because
// the answer to its create was lost.
type Entitlement struct {
	lms entitlementAPI
	log *zap.Logger
}

// ActionEntitlementRevoked is the action of an entitlement revoke that
// expired at least one entitlement.
const ActionEntitlementRevoked = "entitlement_revoked"

// Observe reads, without writing, the learner's active entitlements to the
// line's course.
func (e *Entitlement) Observe(ctx context.Context, req Request) Result {
	if r, ok := checkEntitlementLine(req); !ok {
		return r
	}
	found, err := e.lms.FindEntitlements(ctx, req.User.Username, req.Line.CourseUUID)
	if err != nil {
		return ResultFromError(err)
	}
	var active []string
	for _, ent := range found {
		if ent.Active() {
			active = append(active, ent.UUID)
		}
	}
	p := map[string]string{PriorEntitlements: joinUUIDs(active)}
	// The learner's active enrollments: the LMS ties a new entitlement to
	// one in a run of its course (upgrading it), and its revoke unenrolls
	// that run; the refund gives it back as it was.
	runs, err := e.lms.ActiveEnrollments(ctx, req.User.Username)
	if err != nil {
		return ResultFromError(err)
	}
	if len(runs) <= maxPriorRuns {
		var list []string
		for _, en := range runs {
			list = append(list, en.CourseID+"="+en.Mode)
		}
		slices.Sort(list)
		p[PriorRuns] = strings.Join(list, " ")
	}
	e.log.Info("entitlement observed", e.fields(req, zap.Int("prior_active_entitlements", len(active)))...)
	return Success(p)
}

// Fulfill creates (or finds) the learner's entitlement for this order. With
// req.Prior, "created" says whether the entitlement is new since the
// observation, not whether this very call made it.
func (e *Entitlement) Fulfill(ctx context.Context, req Request) Result {
	if r, ok := checkEntitlementLine(req); !ok {
		return r
	}
	out, err := e.lms.CreateEntitlement(ctx, lms.EntitlementRequest{Username: req.User.Username,
		CourseUUID: req.Line.CourseUUID, Mode: req.Line.Mode, OrderNumber: req.OrderNumber})
	if err != nil {
		return ResultFromError(err)
	}
	g := map[string]string{GrantEntitlementUUID: out.Entitlement.UUID, GrantCreated: strconv.FormatBool(out.Created)}
	if prior, ok := req.Prior[PriorEntitlements]; ok {
		g[GrantCreated] = strconv.FormatBool(!listedUUID(prior, out.Entitlement.UUID))
		g[PriorEntitlements] = prior
		if runs, ok := req.Prior[PriorRuns]; ok {
			g[PriorRuns] = runs
		}
	}
	e.log.Info("entitlement fulfilled", e.fields(req, zap.String("entitlement_uuid", out.Entitlement.UUID),
		zap.String("created", g[GrantCreated]), zap.Bool("created_by_this_call", out.Created))...)
	return Success(g)
}

// Revoke revokes what the line's fulfill made:
//
//   - with a grant: the entitlement it records — unless the grant was made
//     from an observation and says the entitlement existed before the order;
//   - with the observation alone (the fulfill's answer never recorded): the
//     learner's active entitlements to the course made for this order that
//     were not there before it;
//   - with neither: the learner's active entitlements to the course made for
//     this order (each carries its order number).
func (e *Entitlement) Revoke(ctx context.Context, req Request) Result {
	var uuids []string
	_, fromObservation := req.Grant[PriorEntitlements]
	switch {
	case fromObservation && req.Grant[GrantCreated] == "false":
		// The entitlement was the learner's before the order.
	case req.Grant[GrantEntitlementUUID] != "":
		uuids = append(uuids, req.Grant[GrantEntitlementUUID])
	case req.User.Username == "":
		// Entitlements need the learner's username: the fulfill refused
		// the line before any LMS call, so nothing was written.
		return Success(map[string]string{"revoked": "0", GrantAction: lms.ActionNone})
	default:
		if r, ok := checkEntitlementLine(req); !ok {
			return r
		}
		found, err := e.lms.FindEntitlements(ctx, req.User.Username, req.Line.CourseUUID)
		if err != nil {
			return ResultFromError(err)
		}
		prior, observedPrior := req.Prior[PriorEntitlements]
		for _, ent := range found {
			if ent.Active() && ent.OrderNumber == req.OrderNumber && !(observedPrior && listedUUID(prior, ent.UUID)) {
				uuids = append(uuids, ent.UUID)
			}
		}
	}
	revoked := 0
	for _, u := range uuids {
		// The run the entitlement was used for, read before the revoke
		// unlinks it.
		ent, err := e.lms.GetEntitlement(ctx, u)
		if err != nil {
			return ResultFromError(err)
		}
		did, err := e.lms.RevokeEntitlement(ctx, u)
		if err != nil {
			return ResultFromError(err)
		}
		if did {
			revoked++
		}
		if ent != nil {
			if r, ok := e.restoreRun(ctx, req, ent.EnrollmentCourseRun); !ok {
				return r
			}
		}
	}
	action := lms.ActionNone
	if revoked > 0 {
		action = ActionEntitlementRevoked
	}
	e.log.Info("entitlement revoked", e.fields(req, zap.Int("revoked", revoked))...)
	return Success(map[string]string{"revoked": strconv.Itoa(revoked), GrantAction: action})
}

// restoreRun gives the learner back the enrollment they had in run before
// the order (an active enrollment from elsewhere, which the LMS tied to the
// entitlement and unenrolled with it): access from elsewhere stays.
func (e *Entitlement) restoreRun(ctx context.Context, req Request, run string) (Result, bool) {
	runs, ok := req.Grant[PriorRuns]
	if !ok {
		runs, ok = req.Prior[PriorRuns]
	}
	if !ok || run == "" || req.User.Username == "" {
		return Result{}, true
	}
	mode := ""
	for _, r := range strings.Fields(runs) {
		if id, m, found := strings.Cut(r, "="); found && id == run {
			mode = m
		}
	}
	if mode == "" {
		return Result{}, true
	}
	// Enroll reads first: a learner already active in that mode (or a paid
	// one, for a free mode) is left alone.
	back := enrollRequest(req, mode)
	back.CourseID = run
	out, err := e.lms.Enroll(ctx, back)
	if err != nil {
		return ResultFromError(err), false
	}
	if out.Wrote {
		e.log.Info("entitlement's run enrollment restored", e.fields(req, zap.String("run", run), zap.String("mode", mode))...)
	}
	return Result{}, true
}

func (e *Entitlement) fields(req Request, more ...zap.Field) []zap.Field {
	return append([]zap.Field{zap.String("order", req.OrderNumber), zap.String("line", req.Line.ID),
		zap.String("course_uuid", req.Line.CourseUUID)}, more...)
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
