// Package e2e runs the whole product — a real embedded Temporal server, the
// worker, the HTTP API and the sandbox LMS over real HTTP — and drives it
// from outside, as a shop, a support person and an operator would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/stack"
	"github.com/coursefulfill/fulfillment/woocommerce"
)

// Test-time retry options: the same policy as production, scaled down.
var testOptions = contract.Options{
	MaxParallelLines:     20,
	RetryHorizon:         10 * time.Minute,
	RefundWindow:         time.Hour,
	ActivityTimeout:      15 * time.Second,
	InitialRetryInterval: 100 * time.Millisecond,
	MaxRetryInterval:     time.Second,
}

// shared is the stack every test in this package drives.
var shared *stack.Stack

var orderSeq atomic.Int64

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	s, err := stack.Start(ctx, stack.Config{UIPort: -1, Options: testOptions, LMSAutoRegister: true,
		WooCommerce: woocommerce.Config{Secret: wooSecret, AllowAnyStore: true}, Logger: zap.NewNop()})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start stack:", err)
		os.Exit(1)
	}
	shared = s
	code := m.Run()
	s.Close()
	os.Exit(code)
}

// newNumber returns an order number unique to this test run.
func newNumber(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1_000_000_000, orderSeq.Add(1))
}

// call sends a request to the API with the bearer token and decodes a JSON
// answer into out (when not nil). It returns the status code.
func call(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	return callURL(t, method, shared.APIURL+path, shared.APIToken, body, out)
}

func callURL(t *testing.T, method, target, token string, body any, out any) int {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(t, err)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, target, r)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, out), "body: %s", data)
	}
	return resp.StatusCode
}

// sampleOrder is an order of one verified seat for ada.
func sampleOrder(number string) map[string]any {
	return map[string]any{
		"number": number,
		"user":   map[string]any{"username": "ada", "email": "ada@example.com"},
		"lines": []map[string]any{
			{"id": "1", "product_type": "seat", "course_id": sandbox.DemoCourseID, "mode": "verified"},
		},
		"placed_at": "2026-11-21T10:00:00Z",
	}
}

// newLearnerOrder returns a new learner and a new order of one verified
// seat for them, so a test owns every enrollment it looks at.
func newLearnerOrder(t *testing.T, userPrefix, numberPrefix string) (user, number string, o map[string]any) {
	t.Helper()
	user, number = newUser(t, userPrefix), newNumber(numberPrefix)
	o = sampleOrder(number)
	o["user"] = map[string]any{"username": user}
	return user, number, o
}

func placeOrder(t *testing.T, o map[string]any) {
	t.Helper()
	var res map[string]any
	code := call(t, http.MethodPost, "/api/v1/orders", o, &res)
	require.Equal(t, http.StatusAccepted, code, "%v", res)
}

// status reads the order's status document through the API.
func status(t *testing.T, number string) contract.StatusDocument {
	t.Helper()
	var st contract.StatusDocument
	code := call(t, http.MethodGet, "/api/v1/orders/"+number, nil, &st)
	require.Equal(t, http.StatusOK, code)
	return st
}

// waitStatus polls the order until its status is want.
func waitStatus(t *testing.T, number string, want contract.OrderState, timeout time.Duration) contract.StatusDocument {
	t.Helper()
	var st contract.StatusDocument
	require.Eventually(t, func() bool {
		st = status(t, number)
		return st.Status == want
	}, timeout, 50*time.Millisecond, "order %s never became %s", number, want)
	return st
}

// snapshot reads the sandbox LMS's state through its admin API.
func snapshot(t *testing.T, user, course string) sandbox.Snapshot {
	t.Helper()
	var s sandbox.Snapshot
	q := url.Values{"user": {user}, "course_id": {course}}
	require.Equal(t, http.StatusOK, callURL(t, http.MethodGet, shared.LMSURL+"/sandbox/enrollments?"+q.Encode(), "", nil, &s))
	return s
}

// enrollment returns the learner's enrollment in the course; it fails the
// test when there is none.
func enrollment(t *testing.T, user, course string) *sandbox.EnrollmentView {
	t.Helper()
	e := findEnrollment(t, user, course)
	require.NotNil(t, e, "no enrollment of %s in %s", user, course)
	return e
}

func findEnrollment(t *testing.T, user, course string) *sandbox.EnrollmentView {
	t.Helper()
	for _, e := range snapshot(t, user, course).Enrollments {
		if e.User == user && e.CourseID == course {
			return &e
		}
	}
	return nil
}

func sandboxPost(t *testing.T, path string, body any) {
	t.Helper()
	code := callURL(t, http.MethodPost, shared.LMSURL+path, "", body, nil)
	require.Less(t, code, 300, "sandbox %s answered %d", path, code)
}

// setFaults sets the sandbox's fault injection and clears it when the test ends.
func setFaults(t *testing.T, f map[string]any) {
	t.Helper()
	sandboxPost(t, "/sandbox/faults", f)
	t.Cleanup(func() { sandboxPost(t, "/sandbox/faults", map[string]any{}) })
}

// newUser adds a learner to the sandbox so a test owns its enrollments.
func newUser(t *testing.T, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s%d", prefix, orderSeq.Add(1))
	sandboxPost(t, "/sandbox/users", map[string]any{"username": name, "email": name + "@example.com"})
	return name
}

// visible waits until a visibility query finds the workflow.
func visible(t *testing.T, query, workflowID string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := shared.Client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		require.NoError(t, err)
		for _, e := range resp.GetExecutions() {
			if e.GetExecution().GetWorkflowId() == workflowID {
				return true
			}
		}
		return false
	}, 10*time.Second, 100*time.Millisecond, "query %s never found %s", query, workflowID)
}

// newCourse adds a course run (with a catalog UUID, for entitlements) to the
// sandbox, so a test owns every enrollment in it.
func newCourse(t *testing.T) (courseID, courseUUID string) {
	t.Helper()
	n := orderSeq.Add(1)
	courseID = fmt.Sprintf("course-v1:edX+T%d+2026", n)
	courseUUID = fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n)
	sandboxPost(t, "/sandbox/courses", map[string]any{"course_id": courseID, "course_uuid": courseUUID, "modes": []string{"audit", "verified"}})
	return courseID, courseUUID
}

// waitRefunded polls the order until its status is refunded and every one
// of its refunds has finished revoking.
func waitRefunded(t *testing.T, number string, timeout time.Duration) contract.StatusDocument {
	t.Helper()
	var st contract.StatusDocument
	require.Eventually(t, func() bool {
		st = status(t, number)
		if st.Status != contract.OrderRefunded {
			return false
		}
		for _, r := range st.Refunds {
			if r.State == contract.RefundRevoking {
				return false
			}
		}
		return true
	}, timeout, 50*time.Millisecond, "order %s never finished refunding", number)
	return st
}

// workflowResult waits until the workflow exists (a refund's revoke starts a
// moment after the refund is accepted), then for its result.
func workflowResult(t *testing.T, id string, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.Eventually(t, func() bool {
		_, err := shared.Client.DescribeWorkflowExecution(ctx, id, "")
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "workflow %s never started", id)
	require.NoError(t, shared.Client.GetWorkflow(ctx, id, "").Get(ctx, out))
}
