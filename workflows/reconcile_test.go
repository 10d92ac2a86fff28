package workflows

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// fakeLMSLine is one line of a fake order: its status in the order and what
// the fake LMS holds for it.
type fakeLMSLine struct {
	line  order.Line
	st    contract.LineStatus
	found *contract.LMSState
}

func seatLine(id, mode string) order.Line {
	return order.Line{ID: id, ProductType: order.ProductSeat, CourseID: "course-v1:X+" + id, Mode: mode}
}

// reconcileEnv runs ReconcileWorkflow over fake orders listed pageSize at a
// time; an order missing from orders fails to read.
func reconcileEnv(t *testing.T, numbers []string, orders map[string][]fakeLMSLine) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(ReconcileWorkflow, workflow.RegisterOptions{Name: contract.WorkflowReconcile})
	env.RegisterActivityWithOptions(func(_ context.Context, in contract.ReconcileListInput) (contract.ReconcilePage, error) {
		start := 0
		if len(in.PageToken) > 0 {
			start = int(in.PageToken[0])
		}
		end := min(start+in.PageSize, len(numbers))
		p := contract.ReconcilePage{OrderNumbers: numbers[start:end]}
		if end < len(numbers) {
			p.NextPageToken = []byte{byte(end)}
		}
		return p, nil
	}, activity.RegisterOptions{Name: contract.ActivityReconcileListOrders})
	env.RegisterActivityWithOptions(func(_ context.Context, number string) (contract.ReconcileOrder, error) {
		lines, ok := orders[number]
		if !ok {
			return contract.ReconcileOrder{}, errors.New("order unreadable")
		}
		o := contract.ReconcileOrder{OrderNumber: number}
		for _, l := range lines {
			rl := contract.ReconcileLine{Line: l.line, Expect: contract.ExpectLine(l.line, l.st)}
			if rl.Expect.Check {
				rl.Found = l.found
			}
			o.Lines = append(o.Lines, rl)
		}
		return o, nil
	}, activity.RegisterOptions{Name: contract.ActivityReconcileReadOrder})
	t.Cleanup(func() { env.AssertExpectations(t) })
	return env
}

// driftFixture: order A is clean, B's upgrade lost its mode, C's refunded
// seat is active again, D's refunded seat is active but the learner had it
// before the order, E cannot be read.
func driftFixture() ([]string, map[string][]fakeLMSLine) {
	fulfilled := contract.LineStatus{State: contract.LineFulfilled,
		Result: &contract.Result{Status: contract.StatusSuccess, Grant: map[string]string{"action": "created"}}}
	revoked := func(priorActive string) contract.LineStatus {
		return contract.LineStatus{State: contract.LineRevoked, RefundID: "r1",
			Prior:  map[string]string{"prior_exists": priorActive, "prior_active": priorActive, "prior_mode": "verified"},
			Result: &contract.Result{Status: contract.StatusSuccess, Grant: map[string]string{"action": "created"}}}
	}
	active := func(mode string) *contract.LMSState {
		return &contract.LMSState{Exists: true, Active: true, Mode: mode, Satisfies: mode == "verified"}
	}
	upgrade := order.Line{ID: "2", ProductType: order.ProductUpgrade, CourseID: "course-v1:X+u", Mode: "verified"}
	return []string{"A", "B", "C", "D", "E"}, map[string][]fakeLMSLine{
		"A": {{seatLine("1", "verified"), fulfilled, active("verified")}},
		"B": {{seatLine("1", "verified"), fulfilled, active("verified")}, {upgrade, fulfilled, active("audit")}},
		"C": {{seatLine("1", "verified"), revoked("false"), active("verified")}},
		"D": {{seatLine("1", "verified"), revoked("true"), active("verified")}},
	}
}

func TestReconcileReportsDriftAndOnlyDrift(t *testing.T) {
	numbers, orders := driftFixture()
	env := reconcileEnv(t, numbers, orders)
	env.ExecuteWorkflow(contract.WorkflowReconcile, contract.ReconcileInput{PageSize: 2})
	require.NoError(t, env.GetWorkflowError())
	var res contract.ReconcileResult
	require.NoError(t, env.GetWorkflowResult(&res))

	require.Equal(t, contract.ReconcileDrift, res.Status)
	require.Equal(t, 4, res.OrdersChecked)
	require.Equal(t, 4, res.LinesChecked, "A, B (two lines), C; D's line is the learner's own")
	require.Equal(t, 2, res.DriftCount)
	require.Len(t, res.Drift, 2)
	got := map[string]contract.DriftRow{}
	for _, r := range res.Drift {
		got[r.OrderNumber+"/"+r.LineID] = r
	}
	require.Equal(t, contract.DriftAccessMissing, got["B/2"].Kind)
	require.Equal(t, "active enrollment (audit)", got["B/2"].Found)
	require.Contains(t, got["B/2"].Options, "refund line 2 of order B")
	require.Equal(t, contract.DriftAccessAfterRefund, got["C/1"].Kind)
	require.Contains(t, got["C/1"].Options, "remove the access in the LMS")
	require.Equal(t, 1, res.LinesUnread)
	require.Equal(t, []string{"E: the order could not be read"}, res.Unread)
}

func TestReconcileBoundsRowsAndContinuesAsNew(t *testing.T) {
	numbers, orders := driftFixture()
	env := reconcileEnv(t, numbers, orders)
	env.ExecuteWorkflow(contract.WorkflowReconcile, contract.ReconcileInput{PageSize: 2, MaxOrdersPerRun: 2, MaxRows: 1})
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &can)
	var next contract.ReconcileInput
	require.NoError(t, decodeCAN(can, &next))
	require.NotNil(t, next.Carry)
	require.Equal(t, []byte{2}, next.PageToken)
	require.Equal(t, 2, next.Carry.OrdersChecked)
	require.Equal(t, 1, next.Carry.DriftCount)

	env = reconcileEnv(t, numbers, orders)
	env.ExecuteWorkflow(contract.WorkflowReconcile, next)
	var res contract.ReconcileResult
	can = nil
	err := env.GetWorkflowError()
	require.ErrorAs(t, err, &can, "the second run checks two more orders, then continues again")
	require.NoError(t, decodeCAN(can, &next))
	env = reconcileEnv(t, numbers, orders)
	env.ExecuteWorkflow(contract.WorkflowReconcile, next)
	require.NoError(t, env.GetWorkflowError())
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, 3, res.Runs)
	require.Equal(t, 4, res.OrdersChecked)
	require.Equal(t, 2, res.DriftCount)
	require.Len(t, res.Drift, 1, "rows beyond MaxRows are counted, not listed")
	require.Equal(t, 1, res.DriftOmitted)
}

func TestReconcileDetailsNameNoLearner(t *testing.T) {
	res := contract.ReconcileResult{Status: contract.ReconcileDrift, DriftCount: 1, Drift: []contract.DriftRow{{OrderNumber: "B", LineID: "2",
		Course: "course-v1:X+u", Expected: "e", Found: "f"}}}
	d := reconcileDetails(res, false)
	require.Contains(t, d, "| B | 2 | course-v1:X+u | e | f |")
	require.True(t, strings.HasPrefix(d, "**Drift sweep: drift**"))
}
