package browser

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/codec"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/stack"
)

// TestWebUIDecodesEncryptedPayloads starts a stack with a codec key: the
// history holds the order's input encrypted (e2e's codec test reads it
// raw), and the embedded Web UI, through its codec endpoint, shows the
// learner's email in the order's input.
func TestWebUIDecodesEncryptedPayloads(t *testing.T) {
	bin := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	key, err := codec.NewKey("ui-key")
	require.NoError(t, err)
	s, err := stack.Start(ctx, stack.Config{UIPort: 0, LMSAutoRegister: true, Logger: zap.NewNop(), CodecKeys: key})
	require.NoError(t, err)
	defer s.Close()

	number := fmt.Sprintf("ENC-%d", time.Now().UnixNano()%1_000_000)
	email := fmt.Sprintf("encrypted.learner.%d@private.example.org", time.Now().UnixNano()%1_000_000)
	require.Equal(t, http.StatusAccepted, post(t, s.APIURL+"/api/v1/orders", s.APIToken, map[string]any{
		"number": number, "user": map[string]any{"username": "hopper", "email": email},
		"lines":     []map[string]any{{"id": "1", "product_type": "seat", "course_id": "course-v1:edX+DemoX+Demo_Course", "mode": "audit"}},
		"placed_at": "2026-11-21T10:00:00Z",
	}, nil))
	require.Eventually(t, func() bool { return orderStatus(t, s, number).Status == contract.OrderFulfilled }, 30*time.Second, 100*time.Millisecond)
	id := contract.OrderWorkflowID(number)
	desc, err := s.Client.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	run := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()

	actx, acancel := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(bin), chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1600, 1100))
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	sctx, scancel := context.WithTimeout(bctx, 60*time.Second)
	defer scancel()
	var shown bool
	err = chromedp.Run(sctx,
		chromedp.Navigate(s.UIURL+"/namespaces/default/workflows/"+id+"/"+run+"/history"),
		chromedp.Poll(fmt.Sprintf(`document.body.innerText.includes(%q)`, email), &shown, chromedp.WithPollingInterval(200*time.Millisecond)))
	if err != nil {
		var html string
		dctx, dcancel := context.WithTimeout(bctx, 5*time.Second)
		defer dcancel()
		dir := os.Getenv(envShots)
		if dir == "" {
			dir = t.TempDir()
		}
		if derr := chromedp.Run(dctx, chromedp.OuterHTML("body", &html, chromedp.ByQuery)); derr == nil {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "codec-page.html"), []byte(html), 0o644))
		}
		t.Fatalf("the Web UI never showed the decoded email: %v (page in %s)", err, dir)
	}
	require.True(t, shown)
}
