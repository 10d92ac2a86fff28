// Package browser drives the Temporal Web UI of a running stack with a real
// browser (Debian's chromium, headless, through chromedp), as a support
// person would: find a failed order, read why, fix the cause, retry it from
// the UI, see it fulfilled. It saves the screenshots docs/operations.md
// shows.
package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/stack"
)

// envOptional, set to 1, lets the test skip when no chromium is installed
// (a developer machine); CI installs chromium and runs it.
const envOptional = "BROWSER_TESTS_OPTIONAL"

// envShots names a directory to save the screenshots in (docs/img to
// refresh the runbook's); by default they go to the test's temp dir.
const envShots = "BROWSER_SCREENSHOTS"

func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(envOptional) == "1" {
		t.Skip("no chromium installed and " + envOptional + "=1")
	}
	t.Fatalf("no chromium installed: apt-get install -y chromium (or set %s=1 to skip on a machine without it)", envOptional)
	return ""
}

func post(t *testing.T, target, token string, body any, out any) int {
	t.Helper()
	data, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(data))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(b, out), "%s", b)
	}
	return resp.StatusCode
}

func orderStatus(t *testing.T, s *stack.Stack, number string) contract.StatusDocument {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.APIURL+"/api/v1/orders/"+number, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.APIToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var st contract.StatusDocument
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	return st
}

func TestOperatorFixesAFailedOrderInTheWebUI(t *testing.T) {
	bin := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Config{UIPort: 0, LMSAutoRegister: true, Logger: zap.NewNop(),
		Options: contract.Options{RefundWindow: time.Hour, RetryHorizon: 10 * time.Minute, InitialRetryInterval: 100 * time.Millisecond, MaxRetryInterval: time.Second}})
	require.NoError(t, err)
	defer s.Close()

	number := fmt.Sprintf("WEB-%d", time.Now().UnixNano()%1_000_000)
	course := "course-v1:edX+Launch+2026"
	require.Equal(t, http.StatusAccepted, post(t, s.APIURL+"/api/v1/orders", s.APIToken, map[string]any{
		"number": number, "user": map[string]any{"username": "grace"},
		"lines": []map[string]any{
			{"id": "1", "product_type": "seat", "course_id": "course-v1:edX+DemoX+Demo_Course", "mode": "audit"},
			{"id": "2", "product_type": "seat", "course_id": course, "mode": "verified"},
		},
		"placed_at": "2026-11-21T10:00:00Z",
	}, nil))
	require.Eventually(t, func() bool { return orderStatus(t, s, number).Status == contract.OrderFulfillmentError }, 20*time.Second, 100*time.Millisecond)

	shots := os.Getenv(envShots)
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	shot := func(name string) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			var buf []byte
			if err := chromedp.FullScreenshot(&buf, 100).Do(ctx); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name), buf, 0o644)
		})
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 1100),
	}
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	// The browser starts with the first Run, and lives as long as its
	// context: this one.
	require.NoError(t, chromedp.Run(bctx))
	// step runs browser actions with a time limit of their own; on failure
	// it saves the page for a look.
	step := func(name string, actions ...chromedp.Action) {
		t.Helper()
		sctx, scancel := context.WithTimeout(bctx, 20*time.Second)
		defer scancel()
		if err := chromedp.Run(sctx, actions...); err != nil {
			var html string
			dctx, dcancel := context.WithTimeout(bctx, 5*time.Second)
			defer dcancel()
			_ = chromedp.Run(dctx, chromedp.OuterHTML("body", &html, chromedp.ByQuery), shot("failed-"+name+".png"))
			_ = os.WriteFile(filepath.Join(shots, "failed-"+name+".html"), []byte(html), 0o644)
			t.Fatalf("%s: %v (page saved in %s)", name, err, shots)
		}
	}

	list := s.UIURL + "/namespaces/default/workflows?query=" + url.QueryEscape(`OrderStatus="fulfillment_error"`)
	id := contract.OrderWorkflowID(number)
	// 1. Find the orders that need a person.
	step("find", chromedp.Navigate(list), chromedp.WaitVisible(`a[href*="`+id+`"]`, chromedp.ByQuery), shot("01-find-failed-orders.png"))
	// 2. Open the order: its Current Details say why and what to do.
	step("open", chromedp.Click(`a[href*="`+id+`"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`a[href$="/user-metadata"]`, chromedp.ByQuery),
		chromedp.Click(`a[href$="/user-metadata"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//td[contains(., "CourseNotFound")]`, chromedp.BySearch))
	var details string
	step("read", chromedp.Text(`//td[contains(., "CourseNotFound")]/..`, &details, chromedp.BySearch), shot("02-why.png"))
	require.Contains(t, details, course)
	require.Contains(t, details, "failed")
	require.Contains(t, details, "create the course run in the LMS")
	// Each line's activity says which line it is.
	step("history", chromedp.Click(`a[href*="/history"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//*[contains(text(), "line 2 · seat · enroll in `+course+` as verified")]`, chromedp.BySearch),
		chromedp.ScrollIntoView(`//*[contains(text(), "line 2 · seat · enroll in `+course+` as verified")]`, chromedp.BySearch),
		shot("03-history.png"),
		chromedp.Click(`a[href$="/user-metadata"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`//td[contains(., "CourseNotFound")]`, chromedp.BySearch))

	// 3. Send an Update whose input the order refuses: the dialog says why.
	openUpdate := []chromedp.Action{
		clickVisible(`button[aria-controls="workflow-actions"]`, "More Actions"),
		clickVisible(`[data-testid="update-button"]`, "Send an Update"),
		mark(`[data-testid="update-confirmation-modal"]`, "", "dialog"),
		clickVisible(`[data-e2e="dialog"] [data-testid="update-select-button"]`, ""),
		clickVisible(`[data-e2e="dialog"] li[role="option"]`, "retry"),
		mark(`[data-e2e="dialog"] [contenteditable="true"][aria-label="Data"]`, "", "editor"),
	}
	step("update-rejected", append(openUpdate,
		chromedp.SendKeys(`[data-e2e="editor"]`, `{"line_ids":["1"]}`, chromedp.ByQuery),
		clickVisible(`[data-e2e="dialog"] [data-testid="confirm-modal-button"]`, "Submit"),
		chromedp.WaitVisible(`//*[@data-e2e="dialog"]//*[contains(text(), "line 1 is fulfilled, not failed")]`, chromedp.BySearch),
		shot("04-update-rejected.png"),
		clickVisible(`[data-e2e="dialog"] [data-testid="cancel-modal-button"]`, "Cancel"),
	)...)

	// 4. Fix the cause (the course run exists now), then retry from the UI.
	require.Equal(t, http.StatusCreated, post(t, s.LMSURL+"/sandbox/courses", "", map[string]any{
		"course_id": course, "modes": []string{"audit", "verified"}}, nil))
	// (A fresh page: the dialog keeps what was typed before.)
	step("update-retry", append([]chromedp.Action{chromedp.Reload(),
		chromedp.WaitVisible(`//td[contains(., "CourseNotFound")]`, chromedp.BySearch)}, append(openUpdate,
		chromedp.SendKeys(`[data-e2e="editor"]`, `{}`, chromedp.ByQuery),
		shot("05-send-retry.png"),
		clickVisible(`[data-e2e="dialog"] [data-testid="confirm-modal-button"]`, "Submit"),
	)...)...)
	require.Eventually(t, func() bool { return orderStatus(t, s, number).Status == contract.OrderFulfilled }, 20*time.Second, 100*time.Millisecond)

	// 5. The order's page says it is fulfilled.
	step("fulfilled", chromedp.Reload(),
		chromedp.WaitVisible(`//strong[text()="fulfilled"]`, chromedp.BySearch), shot("06-fulfilled.png"))
}

// clickVisible clicks the first visible element that matches sel and holds
// text, once there is one.
func clickVisible(sel, text string) chromedp.Action {
	var ok bool
	return chromedp.Poll(fmt.Sprintf(`(() => {
		const el = [...document.querySelectorAll(%q)].find(e => e.getClientRects().length > 0 && e.textContent.includes(%q));
		if (!el) return false;
		el.click();
		return true;
	})()`, sel, text), &ok, chromedp.WithPollingInterval(100*time.Millisecond))
}

// mark tags the first visible element that matches sel and holds text with
// data-e2e=name, once there is one, so later steps select it alone (the
// UI renders some parts twice, one of them hidden).
func mark(sel, text, name string) chromedp.Action {
	var ok bool
	return chromedp.Poll(fmt.Sprintf(`(() => {
		document.querySelectorAll('[data-e2e=%q]').forEach(e => e.removeAttribute('data-e2e'));
		const el = [...document.querySelectorAll(%q)].find(e => e.getClientRects().length > 0 && e.textContent.includes(%q));
		if (!el) return false;
		el.setAttribute('data-e2e', %q);
		return true;
	})()`, name, sel, text, name), &ok, chromedp.WithPollingInterval(100*time.Millisecond))
}
