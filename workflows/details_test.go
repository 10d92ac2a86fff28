package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/testsuite"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/modules"
	"github.com/coursefulfill/fulfillment/order"
)

// metadata reads what the Web UI reads of a workflow: its current details
// and the descriptions of its queries, signals and updates.
func metadata(t *testing.T, env *testsuite.TestWorkflowEnvironment) *sdkpb.WorkflowMetadata {
	t.Helper()
	v, err := env.QueryWorkflow("__temporal_workflow_metadata")
	require.NoError(t, err)
	var md sdkpb.WorkflowMetadata
	require.NoError(t, v.Get(&md))
	return &md
}

func descriptions(defs []*sdkpb.WorkflowInteractionDefinition) map[string]string {
	out := map[string]string{}
	for _, d := range defs {
		out[d.GetName()] = d.GetDescription()
	}
	return out
}

// The order's page in the Web UI says why a line failed and what to do,
// lists ignored signals, and describes what an operator can send.
func TestCurrentDetailsShowTheReasonAndTheNextStep(t *testing.T) {
	fixed := false
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		if !fixed && req.Line.ID == "2" {
			return contract.Result{Status: contract.StatusFailure, ErrorType: "CourseNotFound", Message: "No course 'course-v1:edX+Gone+2026' found for enrollment"}
		}
		return modules.Success(nil)
	}}
	env := newEnv(t, m)
	o := testOrder(2)
	o.Lines[1].CourseID = "course-v1:edX+Gone+2026"
	var failed, ignored, done *sdkpb.WorkflowMetadata
	env.RegisterDelayedCallback(func() {
		failed = metadata(t, env)
		env.SignalWorkflow(contract.SignalRetry, map[string]any{"lines": []string{"2"}})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		ignored = metadata(t, env)
		fixed = true
		env.SignalWorkflow(contract.SignalRetry, nil)
	}, 2*time.Minute)
	env.RegisterDelayedCallback(func() { done = metadata(t, env) }, 3*time.Minute)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: o, Options: fastOpts})
	require.NoError(t, env.GetWorkflowError())

	d := failed.GetCurrentDetails()
	t.Log(d)
	require.Contains(t, d, "**fulfillment_error**")
	require.Contains(t, d, "1 need a person")
	require.Contains(t, d, "| 2 · seat · course-v1:edX+Gone+2026 | failed | **CourseNotFound**: No course 'course-v1:edX+Gone+2026' found for enrollment | create the course run in the LMS")
	require.NotContains(t, d, "| 1 · seat", "a fulfilled line is not listed")
	require.NotContains(t, d, "ada", "no personal data")

	require.Contains(t, ignored.GetCurrentDetails(), "**Signals not acted on**")
	require.Contains(t, ignored.GetCurrentDetails(), "`retry`: not a retry request")

	require.Contains(t, done.GetCurrentDetails(), "**fulfilled** · 2 line(s) · nothing to do.")
	require.NotContains(t, done.GetCurrentDetails(), "| line |")

	def := failed.GetDefinition()
	signals := descriptions(def.GetSignalDefinitions())
	require.Contains(t, signals[contract.SignalRetry], "Send an Update `retry`")
	require.Contains(t, signals[contract.SignalRefund], "Send an Update `refund`")
	require.True(t, strings.HasPrefix(signals[contract.SignalLineOutcomes], "INTERNAL, do not send"), signals)
	require.Len(t, signals, 3)
	updates := descriptions(def.GetUpdateDefinitions())
	require.Contains(t, updates[contract.UpdateRetry], "Input `{}`")
	require.Contains(t, updates[contract.UpdateRefund], `{"refund_id":"R-1","line_ids":["1"]}`)
	require.Contains(t, descriptions(def.GetQueryDefinitions())[contract.QueryStatus], "status document")
}

// A large order lists the first lines that need attention and how many more.
func TestCurrentDetailsBoundTheTable(t *testing.T) {
	w := &orderRun{in: contract.OrderInput{Order: testOrder(100)}, index: map[string]int{}}
	for i, l := range w.in.Order.Lines {
		w.index[l.ID] = i
		w.lines = append(w.lines, contract.LineStatus{ID: l.ID, ProductType: l.ProductType, CourseID: l.CourseID, State: contract.LineFailed,
			Result: &contract.Result{Status: contract.StatusFailure, ErrorType: "ServerError", Message: "a | b\nc"}})
	}
	d := w.currentDetails()
	require.Equal(t, maxDetailRows+2, strings.Count(d, "\n| "), d)
	require.Contains(t, d, "… and 75 more line(s)")
	require.Contains(t, d, "**: a \\| b c |", "pipes and newlines cannot break the table")
}

// Activity summaries name the line, its product, course and mode — never
// the learner.
func TestLineSummaries(t *testing.T) {
	l := order.Line{ID: "1", ProductType: order.ProductSeat, CourseID: "course-v1:edX+DemoX+Demo_Course", Mode: "verified"}
	require.Equal(t, "line 1 · seat · enroll in course-v1:edX+DemoX+Demo_Course as verified", lineSummary(contract.ActionFulfill, l, 1))
	require.Equal(t, "line 1 · seat · revoke what was granted in course-v1:edX+DemoX+Demo_Course (retries)", lineSummary(contract.ActionRevoke, l, 2))
	ent := order.Line{ID: "e", ProductType: order.ProductEntitlement, CourseUUID: "0000-uuid", Mode: "verified"}
	require.Equal(t, "line e · entitlement · grant an entitlement to 0000-uuid as verified", lineSummary(contract.ActionFulfill, ent, 1))
}

// A line whose revoke failed is explained by its revoke's result — in the
// current details and in ErrorTypes — not by the fulfillment that went
// well (or failed differently) before it.
func TestRevokeFailedLineShowsTheRevokesError(t *testing.T) {
	o := testOrder(2)
	w := &orderRun{in: contract.OrderInput{Order: o}, index: map[string]int{"1": 0, "2": 1}}
	w.lines = []contract.LineStatus{
		{ID: "1", ProductType: o.Lines[0].ProductType, CourseID: o.Lines[0].CourseID, State: contract.LineRevokeFailed, RefundID: "R-1",
			Result:    &contract.Result{Status: contract.StatusFailure, ErrorType: "ServerError", Message: "an earlier fulfill attempt"},
			LastError: "Forbidden: the LMS refused the unenrollment"},
		{ID: "2", ProductType: o.Lines[1].ProductType, CourseID: "course-v1:edX+Other+2026", State: contract.LineRevokeFailed, RefundID: "R-2",
			Result: &contract.Result{Status: contract.StatusSuccess}, LastError: "child workflow execution error"},
	}
	w.refunds = []contract.RefundStatus{
		{RefundID: "R-1", State: contract.RefundCompleted, Lines: []contract.RefundLine{{ID: "1", State: contract.LineRevokeFailed,
			Result: &contract.Result{Status: contract.StatusFailure, ErrorType: "Forbidden", Message: "the LMS refused the unenrollment"}}}},
		{RefundID: "R-2", State: contract.RefundCompleted, Lines: []contract.RefundLine{{ID: "2", State: contract.LineRevokeFailed}}},
	}
	courses, types := w.failureAttrs()
	require.Equal(t, []string{"course-v1:edX+DemoX+Demo_Course", "course-v1:edX+Other+2026"}, courses)
	require.Equal(t, []string{"Forbidden"}, types, "the revoke's error type, not the fulfillment's")
	d := w.currentDetails()
	require.Contains(t, d, "| revoke_failed | **Forbidden**: the LMS refused the unenrollment |", d)
	require.Contains(t, d, "| revoke_failed | **revoke failed**: child workflow execution error |", d)
	require.NotContains(t, d, "an earlier fulfill attempt")
}
