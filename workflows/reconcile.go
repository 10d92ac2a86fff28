package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/contract"
)

// Defaults of a sweep (contract.ReconcileInput).
const (
	reconcilePageSize      = 50
	reconcileMaxOrdersRun  = 500
	reconcileMaxRows       = 100
	reconcileMaxUnread     = 20
	reconcileParallel      = 4
	reconcileDetailRows    = 10
	reconcileReadTimeout   = 2 * time.Hour
	reconcileListTimeout   = time.Minute
	reconcileHeartbeat     = 2 * time.Minute
	reconcileReadAttempts  = 5
	reconcileRetryInterval = 5 * time.Second
)

// ReconcileWorkflow is the drift sweep: it pages through the orders that
// ended fulfilled or refunded (open and closed, from visibility), reads what
// each of their lines should have in the LMS and what the LMS holds now (an
// activity paced against the LMS), and reports the lines that drifted — a
// fulfilled line whose access is gone, a refunded line whose access is back —
// with what an operator can do. Its result lists them (bounded), its
// ReconcileStatus and DriftCount search attributes find it, and its current
// details show a short table. A long sweep continues as new every
// MaxOrdersPerRun orders.
func ReconcileWorkflow(ctx workflow.Context, in contract.ReconcileInput) (contract.ReconcileResult, error) {
	in = reconcileDefaults(in)
	res := contract.ReconcileResult{StartedAt: workflow.Now(ctx)}
	if in.Carry != nil {
		res = *in.Carry
	}
	res.Runs++
	if err := upsertReconcile(ctx, contract.ReconcileRunning, res.DriftCount); err != nil {
		return res, err
	}
	listCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: reconcileListTimeout,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: reconcileRetryInterval, MaximumAttempts: reconcileReadAttempts}})
	readCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: reconcileReadTimeout, HeartbeatTimeout: reconcileHeartbeat,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: reconcileRetryInterval, MaximumAttempts: reconcileReadAttempts}})
	token, checked := in.PageToken, 0
	for {
		var page contract.ReconcilePage
		if err := workflow.ExecuteActivity(listCtx, contract.ActivityReconcileListOrders,
			contract.ReconcileListInput{Query: in.Query, PageSize: in.PageSize, PageToken: token}).Get(ctx, &page); err != nil {
			return res, fmt.Errorf("list orders: %w", err)
		}
		for start := 0; start < len(page.OrderNumbers); start += reconcileParallel {
			chunk := page.OrderNumbers[start:min(start+reconcileParallel, len(page.OrderNumbers))]
			futures := make([]workflow.Future, len(chunk))
			for i, n := range chunk {
				futures[i] = workflow.ExecuteActivity(readCtx, contract.ActivityReconcileReadOrder, n)
			}
			for i, f := range futures {
				var o contract.ReconcileOrder
				if err := f.Get(ctx, &o); err != nil {
					res.LinesUnread++
					addUnread(&res, chunk[i]+": the order could not be read")
					continue
				}
				addOrder(&res, o, in.MaxRows)
			}
		}
		checked += len(page.OrderNumbers)
		workflow.SetCurrentDetails(ctx, reconcileDetails(res, true))
		token = page.NextPageToken
		if len(token) == 0 {
			break
		}
		if checked >= in.MaxOrdersPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			next := in
			next.PageToken, next.Carry = token, &res
			return res, workflow.NewContinueAsNewError(ctx, contract.WorkflowReconcile, next)
		}
	}
	res.Status = reconcileOutcome(res)
	workflow.SetCurrentDetails(ctx, reconcileDetails(res, false))
	if err := upsertReconcile(ctx, res.Status, res.DriftCount); err != nil {
		return res, err
	}
	workflow.GetLogger(ctx).Info("reconcile done", "status", res.Status, "orders", res.OrdersChecked,
		"lines", res.LinesChecked, "drift", res.DriftCount, "unread", res.LinesUnread)
	return res, nil
}

func reconcileDefaults(in contract.ReconcileInput) contract.ReconcileInput {
	if in.PageSize <= 0 {
		in.PageSize = reconcilePageSize
	}
	if in.MaxOrdersPerRun <= 0 {
		in.MaxOrdersPerRun = reconcileMaxOrdersRun
	}
	if in.MaxRows <= 0 {
		in.MaxRows = reconcileMaxRows
	}
	return in
}

// addOrder adds one order's lines to the sweep's result.
func addOrder(res *contract.ReconcileResult, o contract.ReconcileOrder, maxRows int) {
	res.OrdersChecked++
	for _, rl := range o.Lines {
		if !rl.Expect.Check {
			continue
		}
		res.LinesChecked++
		if rl.Found == nil {
			res.LinesUnread++
			addUnread(res, o.OrderNumber+"/"+rl.Line.ID+": "+rl.ReadError)
			continue
		}
		row, drift := contract.LineDrift(o.OrderNumber, rl)
		if !drift {
			continue
		}
		res.DriftCount++
		if len(res.Drift) < maxRows {
			res.Drift = append(res.Drift, row)
		} else {
			res.DriftOmitted++
		}
	}
}

func addUnread(res *contract.ReconcileResult, what string) {
	if len(res.Unread) < reconcileMaxUnread {
		res.Unread = append(res.Unread, what)
	}
}

func reconcileOutcome(res contract.ReconcileResult) contract.ReconcileStatus {
	switch {
	case res.DriftCount > 0:
		return contract.ReconcileDrift
	case res.LinesUnread > 0:
		return contract.ReconcileIncomplete
	}
	return contract.ReconcileClean
}

func upsertReconcile(ctx workflow.Context, st contract.ReconcileStatus, drift int) error {
	if err := workflow.UpsertTypedSearchAttributes(ctx, contract.ReconcileStatusKey.ValueSet(string(st)),
		contract.DriftCountKey.ValueSet(int64(drift))); err != nil {
		return fmt.Errorf("upsert reconcile search attributes: %w", err)
	}
	return nil
}

// reconcileDetails is the sweep's current details: counts and the first
// drifted lines as a table (markdown, as the Web UI renders it).
func reconcileDetails(res contract.ReconcileResult, running bool) string {
	var b strings.Builder
	state := string(res.Status)
	if running {
		state = string(contract.ReconcileRunning)
	}
	b.WriteString(fmt.Sprintf("**Drift sweep: %s** — %d order(s), %d line(s) checked, %d drifted, %d unread.\n\n",
		state, res.OrdersChecked, res.LinesChecked, res.DriftCount, res.LinesUnread))
	if len(res.Drift) == 0 {
		return b.String()
	}
	b.WriteString("| order | line | course | expected | found |\n|---|---|---|---|---|\n")
	for i, r := range res.Drift {
		if i == reconcileDetailRows {
			b.WriteString(fmt.Sprintf("\n…and %d more: see the result.\n", res.DriftCount-reconcileDetailRows))
			break
		}
		b.WriteString(fmt.Sprintf("| %s | %s | %s | %s | %s |\n", r.OrderNumber, r.LineID, r.Course, r.Expected, r.Found))
	}
	b.WriteString("\nWhat to do for each is in the result's `options` (docs/operations.md, \"Drift between orders and the LMS\").\n")
	return b.String()
}
