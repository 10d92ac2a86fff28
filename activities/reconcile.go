package activities

import (
	"context"
	"fmt"
	"strings"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/starter"
)

// DefaultReconcileRate is how many line reads per second the drift sweep
// makes against the LMS by default.
const DefaultReconcileRate = 5

// Reconciler holds the dependencies of the drift sweep's activities: the
// Temporal client (visibility, orders' status), the modules (their Observe
// reads the LMS without writing) and the limiter that paces those reads.
type Reconciler struct {
	Client  client.Client
	Starter *starter.Starter
	Modules ModuleSource
	Limiter *rate.Limiter
	Logger  *zap.Logger
}

// NewReconciler returns a Reconciler reading at most perSecond lines a
// second from the LMS (DefaultReconcileRate when not positive). dc decodes
// orders' inputs read from history (nil: the SDK's default); it must match
// the client's.
func NewReconciler(c client.Client, dc converter.DataConverter, mods ModuleSource, perSecond float64, log *zap.Logger) *Reconciler {
	if perSecond <= 0 {
		perSecond = DefaultReconcileRate
	}
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Reconciler{Client: c, Starter: starter.New(c, starter.Config{DataConverter: dc}), Modules: mods,
		Limiter: rate.NewLimiter(rate.Limit(perSecond), 1), Logger: log}
}

// ReconcileListOrders lists one page of order workflows, open and closed,
// whose OrderStatus is one the sweep checks.
func (r *Reconciler) ReconcileListOrders(ctx context.Context, in contract.ReconcileListInput) (contract.ReconcilePage, error) {
	states := make([]string, len(contract.ReconcileOrderStates))
	for i, s := range contract.ReconcileOrderStates {
		states[i] = "'" + string(s) + "'" // our constants: safe to quote
	}
	q := fmt.Sprintf("WorkflowType = '%s' AND %s IN (%s)", contract.WorkflowOrder, contract.SearchAttrOrderStatus, strings.Join(states, ", "))
	if in.Query != "" {
		q += " AND (" + in.Query + ")"
	}
	resp, err := r.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: q, PageSize: int32(in.PageSize), NextPageToken: in.PageToken,
	})
	if err != nil {
		return contract.ReconcilePage{}, fmt.Errorf("list orders to reconcile: %w", err)
	}
	page := contract.ReconcilePage{NextPageToken: resp.GetNextPageToken()}
	for _, ex := range resp.GetExecutions() {
		if n, ok := contract.OrderNumberOf(ex.GetExecution().GetWorkflowId()); ok {
			page.OrderNumbers = append(page.OrderNumbers, n)
		}
	}
	return page, nil
}

// ReconcileReadOrder reads an order's status document (with its refunds
// after close) and lines, and, for each line the sweep checks, what the LMS
// holds now through the line's module's Observe, paced by the limiter. The
// answer names no learner.
func (r *Reconciler) ReconcileReadOrder(ctx context.Context, number string) (contract.ReconcileOrder, error) {
	doc, err := r.Starter.Status(ctx, number)
	if err != nil {
		return contract.ReconcileOrder{}, fmt.Errorf("status of order %s: %w", number, err)
	}
	in, err := r.Starter.OrderInput(ctx, number)
	if err != nil {
		return contract.ReconcileOrder{}, fmt.Errorf("input of order %s: %w", number, err)
	}
	o := in.Order
	lines := make(map[string]order.Line, len(o.Lines))
	for _, l := range o.Lines {
		lines[l.ID] = l
	}
	out := contract.ReconcileOrder{OrderNumber: number, Status: doc.Status}
	for _, st := range doc.Lines {
		l, ok := lines[st.ID]
		if !ok {
			continue
		}
		rl := contract.ReconcileLine{Line: l, Expect: contract.ExpectLine(l, st)}
		if rl.Expect.Check {
			r.observe(ctx, o, &rl)
			// A large order's reads take long at the paced rate: the
			// heartbeat tells a stuck worker from a slow read.
			activity.RecordHeartbeat(ctx, st.ID)
		}
		out.Lines = append(out.Lines, rl)
	}
	return out, nil
}

// observe reads what the LMS holds for one line into rl.
func (r *Reconciler) observe(ctx context.Context, o order.Order, rl *contract.ReconcileLine) {
	m, ok := r.Modules.Module(rl.Line.ProductType)
	obs, isObserver := m.(modules.Observer)
	if !ok || !isObserver {
		rl.Expect = contract.Expectation{Why: "its module does not write to the LMS"}
		return
	}
	if err := r.Limiter.Wait(ctx); err != nil {
		rl.ReadError = "Canceled: " + err.Error()
		return
	}
	res := obs.Observe(ctx, modules.Request{OrderNumber: o.Number, User: o.User, Line: rl.Line})
	if !res.OK() {
		rl.ReadError = string(res.ErrorType)
		r.Logger.Warn("reconcile read failed", zap.String("order", o.Number), zap.String("line", rl.Line.ID),
			zap.String("error_type", string(res.ErrorType)))
		return
	}
	g := res.Grant
	f := &contract.LMSState{Exists: g[modules.PriorExists] == "true", Active: g[modules.PriorActive] == "true", Mode: g[modules.PriorMode]}
	if f.Active {
		f.Satisfies = modules.ModeGives(rl.Line.ProductType, f.Mode, rl.Line.Mode)
	}
	if v := g[modules.PriorEntitlements]; v != "" {
		f.ActiveEntitlements = strings.Split(v, ",")
	}
	rl.Found = f
}
