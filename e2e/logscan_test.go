package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/stack"
	"github.com/coursefulfill/fulfillment/woocommerce"
)

// logCapture keeps every line a logger writes, JSON-encoded the way
// `fulfillment worker` and `api` write them.
type logCapture struct{ buf syncBuffer }

func newLogCapture() (*logCapture, *zap.Logger) {
	c := &logCapture{}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return c, zap.New(zapcore.NewCore(enc, zapcore.AddSync(&c.buf), zapcore.DebugLevel), zap.AddCaller())
}

func (c *logCapture) lines() []string {
	return strings.Split(strings.TrimSpace(c.buf.String()), "\n")
}

// entries decodes the captured lines.
func (c *logCapture) entries(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range c.lines() {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), "not a JSON log line: %s", l)
		out = append(out, m)
	}
	return out
}

// learnerNeedles are the forms in which a learner's username and email
// could leak: as they are and escaped for a URL path or query.
func learnerNeedles(username, email string) []string {
	var out []string
	for _, s := range []string{username, email} {
		if s != "" {
			out = append(out, s, url.PathEscape(s), url.QueryEscape(s))
		}
	}
	return out
}

// scanLogs returns a description of every line holding one of the needles,
// compared case-insensitively: one per line, naming the first needle found.
func scanLogs(lines []string, needles []string) []string {
	var leaks []string
	for _, l := range lines {
		low := strings.ToLower(l)
		for _, n := range needles {
			if n != "" && strings.Contains(low, strings.ToLower(n)) {
				leaks = append(leaks, fmt.Sprintf("%q in %s", n, l))
				break
			}
		}
	}
	return leaks
}

// The scanner finds what it must: a test that cannot fail proves nothing.
func TestLogScanCatchesALoggedEmail(t *testing.T) {
	c, log := newLogCapture()
	log.Info("order started", zap.String("order_number", "EDX-1"))
	log.Named("lms").Warn("lms call failed", zap.String("error", "The user with the email address Zed.Q@Example.com does not exist."))
	log.Debug("lookup", zap.String("path", "/api/enrollment/v1/enrollments?email="+url.QueryEscape("zed.q+shop@example.com")))
	log.Info("enroll", zap.String("user", "zedq_42"))
	require.NoError(t, log.Sync())

	needles := append(learnerNeedles("zedq_42", "zed.q@example.com"), learnerNeedles("", "zed.q+shop@example.com")...)
	leaks := scanLogs(c.lines(), needles)
	require.Len(t, leaks, 3, "%v", leaks)
	require.Contains(t, leaks[0], "Zed.Q@Example.com")
	require.Contains(t, leaks[1], "zed.q%2Bshop%40example.com")
	require.Contains(t, leaks[2], "zedq_42")
	require.Empty(t, scanLogs(c.lines()[:1], needles), "a clean line is no leak")
}

// Every log line of a whole stack — API, WooCommerce receiver, worker,
// modules, LMS client, sandbox LMS, Temporal SDK and server — is free of
// the learners' emails and usernames, the API token and the other secrets,
// across fulfilment, refunds, unknown learners and an operator retry.
func TestLogsCarryNoPersonalDataNorSecrets(t *testing.T) {
	const token = "logscan-api-token-7c1e"
	const wooKey = "logscan-woo-secret-52d0"
	capture, logger := newLogCapture()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	s, err := stack.Start(ctx, stack.Config{UIPort: -1, Options: testOptions, APIToken: token,
		WooCommerce: woocommerce.Config{Secret: wooKey, AllowAnyStore: true}, Logger: logger})
	cancel()
	require.NoError(t, err)
	closed := false
	defer func() {
		if !closed {
			s.Close()
		}
	}()

	api := func(method, path string, body, out any) int {
		t.Helper()
		return callURL(t, method, s.APIURL+path, token, body, out)
	}
	wait := func(number string, done func(contract.StatusDocument) bool) contract.StatusDocument {
		t.Helper()
		var st contract.StatusDocument
		require.Eventually(t, func() bool {
			return api(http.MethodGet, "/api/v1/orders/"+number, nil, &st) == http.StatusOK && done(st)
		}, 20*time.Second, 50*time.Millisecond, "order %s: %+v", number, st)
		return st
	}
	is := func(want contract.OrderState) func(contract.StatusDocument) bool {
		return func(st contract.StatusDocument) bool { return st.Status == want }
	}
	addUser := func(username, email string) {
		t.Helper()
		require.Less(t, callURL(t, http.MethodPost, s.LMSURL+"/sandbox/users", "", map[string]any{"username": username, "email": email}, nil), 300)
	}
	seq := orderSeq.Add(1)
	name := func(suffix string) string { return fmt.Sprintf("lsk%d%s", seq, suffix) }
	var needles []string
	learner := func(username, email string) (string, string) {
		needles = append(needles, learnerNeedles(username, email)...)
		return username, email
	}
	line := func(id, productType string, extra map[string]any) map[string]any {
		l := map[string]any{"id": id, "product_type": productType}
		for k, v := range extra {
			l[k] = v
		}
		return l
	}
	place := func(number string, user map[string]any, lines ...map[string]any) {
		t.Helper()
		var res map[string]any
		require.Equal(t, http.StatusAccepted, api(http.MethodPost, "/api/v1/orders",
			map[string]any{"number": number, "user": user, "lines": lines, "placed_at": "2026-11-21T10:00:00Z"}, &res), "%v", res)
	}
	seat := func(mode string) map[string]any {
		return map[string]any{"course_id": sandbox.DemoCourseID, "mode": mode}
	}

	// A known learner: seat, entitlement and donation, then a refund.
	knownUser, knownEmail := learner(name("known"), name("known")+"@example.com")
	addUser(knownUser, knownEmail)
	numA := name("-A")
	place(numA, map[string]any{"username": knownUser, "email": knownEmail},
		line("seat", "seat", seat("verified")),
		line("ent", "entitlement", map[string]any{"course_uuid": sandbox.DemoCourseUUID, "mode": "verified"}),
		line("gift", "donation", nil))
	wait(numA, is(contract.OrderFulfilled))
	require.Equal(t, http.StatusAccepted, api(http.MethodPost, "/api/v1/orders/"+numA+"/refunds",
		map[string]any{"refund_id": "R-1", "line_ids": []string{"seat", "ent"}}, nil))
	wait(numA, func(st contract.StatusDocument) bool {
		return st.Status == contract.OrderPartiallyRefunded && len(st.Refunds) == 1 && st.Refunds[0].State != contract.RefundRevoking
	})

	// A known learner named by email only.
	byEmailUser, byEmail := learner(name("mailonly"), name("mailonly")+"@example.org")
	addUser(byEmailUser, byEmail)
	numB := name("-B")
	place(numB, map[string]any{"email": byEmail}, line("1", "seat", seat("audit")))
	wait(numB, is(contract.OrderFulfilled))

	// An unknown username: the LMS answers "The user … does not exist.";
	// an operator retries, it fails again.
	ghostUser, ghostEmail := learner(name("ghost"), name("ghost")+"@example.net")
	numC := name("-C")
	place(numC, map[string]any{"username": ghostUser, "email": ghostEmail}, line("1", "seat", seat("verified")))
	st := wait(numC, is(contract.OrderFulfillmentError))
	require.Equal(t, contract.ErrorType(lms.TypeUserNotFound), st.Lines[0].Result.ErrorType)
	require.Equal(t, http.StatusAccepted, api(http.MethodPost, "/api/v1/orders/"+numC+"/retry", map[string]any{}, nil))
	wait(numC, func(st contract.StatusDocument) bool {
		return st.Status == contract.OrderFulfillmentError && st.Lines[0].Attempts == 2
	})

	// An unknown email.
	_, nobodyEmail := learner("", name("nobody")+"@example.net")
	numD := name("-D")
	place(numD, map[string]any{"email": nobodyEmail}, line("1", "seat", seat("audit")))
	require.Equal(t, contract.ErrorType(lms.TypeUserNotFound), wait(numD, is(contract.OrderFulfillmentError)).Lines[0].Result.ErrorType)

	// An unknown course and a course whose enrollment has closed: the
	// LMS's answers travel into failures, logs and the status document.
	courseUser, courseEmail := learner(name("course"), name("course")+"@example.com")
	addUser(courseUser, courseEmail)
	numE := name("-E")
	place(numE, map[string]any{"username": courseUser, "email": courseEmail},
		line("nocourse", "seat", map[string]any{"course_id": "course-v1:edX+Nowhere+2026", "mode": "verified"}),
		line("closed", "seat", map[string]any{"course_id": sandbox.ClosedCourseID, "mode": "verified"}))
	st = wait(numE, is(contract.OrderFulfillmentError))
	types := map[string]contract.ErrorType{}
	for _, l := range st.Lines {
		types[l.ID] = l.Result.ErrorType
	}
	require.Equal(t, map[string]contract.ErrorType{"nocourse": lms.TypeCourseNotFound, "closed": lms.TypeEnrollmentClosed}, types)

	// A learner who left: their account is gone when the refund's revoke
	// names them, and the LMS answers "The user … does not exist.".
	leftUser, leftEmail := learner(name(".left-x"), name("left")+"@example.com")
	addUser(leftUser, leftEmail)
	numF := name("-F")
	place(numF, map[string]any{"username": leftUser, "email": leftEmail}, line("1", "seat", seat("verified")))
	wait(numF, is(contract.OrderFulfilled))
	require.Equal(t, http.StatusNoContent, callURL(t, http.MethodDelete, s.LMSURL+"/sandbox/users/"+leftUser, "", nil, nil))
	require.Equal(t, http.StatusAccepted, api(http.MethodPost, "/api/v1/orders/"+numF+"/refunds", map[string]any{"refund_id": "R-left"}, nil))
	st = wait(numF, func(st contract.StatusDocument) bool {
		return len(st.Refunds) == 1 && st.Refunds[0].State != contract.RefundRevoking
	})
	require.Equal(t, contract.OrderRevocationError, st.Status, "%+v", st)

	// A WooCommerce order, then its refund.
	wooUser, wooEmail := learner(name("woo"), name("woo")+"@example.com")
	addUser(wooUser, wooEmail)
	wooID := 200000 + seq
	body := fmt.Appendf(nil, `{"id": %d, "status": "processing", "date_created_gmt": "2026-11-21T09:58:02",
	  "billing": {"email": %q, "first_name": "Zed"},
	  "line_items": [{"id": 315, "product_id": 93, "quantity": 1, "sku": "DEMOX",
	    "meta_data": [{"key": "course_id", "value": %q}, {"key": "course_mode", "value": "verified"}]}],
	  "refunds": []}`, wooID, wooEmail, sandbox.DemoCourseID)
	deliver := func(b []byte) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, s.APIURL+"/api/v1/webhooks/woocommerce", bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("X-WC-Webhook-Source", "https://shop.example.com/")
		req.Header.Set("X-WC-Webhook-Topic", "order.updated")
		req.Header.Set("X-WC-Webhook-Signature", woocommerce.Sign(b, wooKey))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusAccepted, deliver(body))
	numW := fmt.Sprintf("shop.example.com-%d", wooID)
	wait(numW, is(contract.OrderFulfilled))
	require.Equal(t, http.StatusOK, deliver(bytes.Replace(body, []byte(`"processing"`), []byte(`"refunded"`), 1)))
	wait(numW, func(st contract.StatusDocument) bool {
		return st.Status == contract.OrderRefunded && st.Refunds[0].State != contract.RefundRevoking
	})

	s.Close()
	closed = true
	require.NoError(t, logger.Sync())

	secrets := []string{token, wooKey, sandbox.DevClientSecret, sandbox.DevAPIKey}
	lines := capture.lines()
	t.Logf("scanned %d log lines", len(lines))
	for _, leak := range scanLogs(lines, append(needles, secrets...)) {
		t.Error("leak: " + leak)
	}

	// The capture saw the whole product, with the fields the design asks for.
	var sawActivity, sawSDKError, sawWorkflowInfo bool
	for _, e := range capture.entries(t) {
		logger, _ := e["logger"].(string)
		parts := strings.Split(logger, ".")
		for i := 1; i < len(parts); i++ {
			require.NotEqual(t, parts[i-1], parts[i], "doubled logger name %q", logger)
		}
		switch {
		case logger == "activities" && e["msg"] == "line attempt failed" && e["order"] == numC:
			sawActivity = true
			require.Equal(t, contract.OrderWorkflowID(numC), e["workflow_id"])
			require.NotEmpty(t, e["run_id"])
			require.Equal(t, "1", e["line"])
		case logger == "temporal" && e["msg"] == "Activity error." && strings.Contains(fmt.Sprint(e["Error"]), "UserNotFound"):
			sawSDKError = true
		case logger == "temporal" && e["level"] == "info" && e["msg"] == "refund accepted":
			sawWorkflowInfo = true
			require.True(t, strings.HasPrefix(fmt.Sprint(e["caller"]), "workflows/"), "workflow logs point at the workflow code: %v", e["caller"])
		}
	}
	require.True(t, sawActivity, "no activity log of the failed line")
	require.True(t, sawSDKError, "no SDK log of the failed activity")
	require.True(t, sawWorkflowInfo, "no workflow info log")
}
