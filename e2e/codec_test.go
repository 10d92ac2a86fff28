package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/codec"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/stack"
	"github.com/coursefulfill/fulfillment/worker"
)

// TestCodecKeepsLearnersOutOfHistory runs a stack of its own with a codec
// key (the shared one has none), with its Web UI: an order fulfilled and
// refunded through it leaves no learner email or username in any event of
// any workflow's history as the server stores it, while the API reports
// the order and the codec endpoints decode its payloads for the UI and for
// an authenticated caller.
func TestCodecKeepsLearnersOutOfHistory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	keys := ""
	for _, id := range []string{"k2", "k1"} {
		k, err := codec.NewKey(id)
		require.NoError(t, err)
		keys += k + ","
	}
	s, err := stack.Start(ctx, stack.Config{Options: testOptions, LMSAutoRegister: true, CodecKeys: keys, Logger: zap.NewNop()})
	require.NoError(t, err)
	defer s.Close()
	require.NotEmpty(t, s.CodecURL)

	n := orderSeq.Add(1)
	username := fmt.Sprintf("codecLearner%dz", n)
	email := fmt.Sprintf("codec.learner.%d@private.example.org", n)
	number := newNumber("CODEC")
	o := map[string]any{
		"number": number,
		"user":   map[string]any{"username": username, "email": email},
		"lines": []map[string]any{
			{"id": "1", "product_type": "seat", "course_id": sandbox.DemoCourseID, "mode": "verified"},
		},
		"placed_at": "2026-11-21T10:00:00Z",
	}
	require.Equal(t, http.StatusAccepted, callURL(t, http.MethodPost, s.APIURL+"/api/v1/orders", s.APIToken, o, nil))
	// The same order again is the same order (the API compares it with the
	// input it decrypts from history); another content under its number
	// conflicts.
	require.Equal(t, http.StatusOK, callURL(t, http.MethodPost, s.APIURL+"/api/v1/orders", s.APIToken, o, nil))
	other := map[string]any{"number": number, "user": map[string]any{"username": username, "email": email},
		"lines":     []map[string]any{{"id": "1", "product_type": "seat", "course_id": sandbox.DemoCourseID, "mode": "audit"}},
		"placed_at": "2026-11-21T10:00:00Z"}
	var conflict map[string]any
	require.Equal(t, http.StatusConflict, callURL(t, http.MethodPost, s.APIURL+"/api/v1/orders", s.APIToken, other, &conflict))
	require.NotContains(t, fmt.Sprint(conflict), email)

	// The API, whose client decodes, reports the order fulfilled, and the
	// worker enrolled the learner under the username it decrypted.
	statusOf := func() contract.StatusDocument {
		var st contract.StatusDocument
		require.Equal(t, http.StatusOK, callURL(t, http.MethodGet, s.APIURL+"/api/v1/orders/"+number, s.APIToken, nil, &st))
		return st
	}
	require.Eventually(t, func() bool { return statusOf().Status == contract.OrderFulfilled }, time.Minute, 50*time.Millisecond)
	var snap sandbox.Snapshot
	require.Equal(t, http.StatusOK, callURL(t, http.MethodGet, s.LMSURL+"/sandbox/enrollments?"+url.Values{"user": {username}, "course_id": {sandbox.DemoCourseID}}.Encode(), "", nil, &snap))
	require.NotEmpty(t, snap.Enrollments, "the learner was not enrolled")

	// A refund: its workflows carry the learner too.
	require.Equal(t, http.StatusAccepted, callURL(t, http.MethodPost, s.APIURL+"/api/v1/orders/"+number+"/refunds", s.APIToken,
		map[string]any{"refund_id": "R1", "line_ids": []string{"1"}}, nil))
	require.Eventually(t, func() bool {
		st := statusOf()
		return st.Status == contract.OrderRefunded && len(st.Refunds) == 1 && st.Refunds[0].State == contract.RefundCompleted
	}, time.Minute, 50*time.Millisecond)

	// Every event of every workflow, read raw by a client without the
	// codec: neither the email nor the username appears anywhere.
	raw, err := worker.Dial(ctx, s.Server.FrontendAddress(), s.Server.Namespace(), zap.NewNop())
	require.NoError(t, err)
	defer raw.Close()
	resp, err := raw.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: s.Server.Namespace(), PageSize: 100})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(resp.GetExecutions()), 2, "the order and its refund")
	var input *commonpb.Payload
	events := 0
	for _, e := range resp.GetExecutions() {
		id, run := e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()
		iter := raw.GetWorkflowHistory(ctx, id, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			require.NoError(t, err)
			events++
			b, err := proto.Marshal(ev)
			require.NoError(t, err)
			for _, secret := range []string{email, username, "private.example.org"} {
				require.False(t, bytes.Contains(b, []byte(secret)), "%s event %d (%s) holds %q", id, ev.GetEventId(), ev.GetEventType(), secret)
			}
			if id == contract.OrderWorkflowID(number) && ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED {
				input = ev.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()[0]
			}
		}
	}
	require.Greater(t, events, 10)
	require.NotNil(t, input, "no start event for the order")
	require.Equal(t, codec.EncodingEncrypted, string(input.GetMetadata()[codec.MetadataEncoding]))
	require.Equal(t, "k2", string(input.GetMetadata()[codec.MetadataKeyID]), "the first key encrypts")

	// The API's codec endpoint, as the CLI and the SDK's remote codec call
	// it: decoded for the token's holder, refused without it.
	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
		Endpoint: s.APIURL + strings.TrimSuffix(api.CodecPath, "/"),
		ModifyRequest: func(r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+s.APIToken)
			return nil
		},
	})
	dec, err := remote.Decode([]*commonpb.Payload{input})
	require.NoError(t, err)
	require.Contains(t, string(dec[0].GetData()), email)
	require.Contains(t, string(dec[0].GetData()), username)

	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{input}})
	require.NoError(t, err)
	var p map[string]any
	require.Equal(t, http.StatusUnauthorized, callURL(t, http.MethodPost, s.APIURL+api.CodecPath+"decode", "", body, &p))
	require.Equal(t, "urn:coursefulfill:problem:unauthorized", p["type"])
	require.Equal(t, http.StatusUnauthorized, callURL(t, http.MethodPost, s.APIURL+api.CodecPath+"decode", "wrong", body, nil))

	// The Web UI is configured with the loopback endpoint, which answers
	// the UI's origin (CORS) with the payload decoded.
	var settings struct{ Codec struct{ Endpoint string } }
	require.Equal(t, http.StatusOK, callURL(t, http.MethodGet, s.UIURL+"/api/v1/settings", "", nil, &settings))
	require.Equal(t, s.CodecURL, settings.Codec.Endpoint)

	pre, err := http.NewRequestWithContext(ctx, http.MethodOptions, s.CodecURL+"/decode", nil)
	require.NoError(t, err)
	pre.Header.Set("Origin", s.UIURL)
	pre.Header.Set("Access-Control-Request-Method", http.MethodPost)
	pre.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace")
	presp, err := http.DefaultClient.Do(pre)
	require.NoError(t, err)
	require.NoError(t, presp.Body.Close())
	require.Equal(t, http.StatusNoContent, presp.StatusCode)
	require.Equal(t, s.UIURL, presp.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, presp.Header.Get("Access-Control-Allow-Headers"), "X-Namespace")

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.CodecURL+"/decode", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Origin", s.UIURL)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", s.Server.Namespace())
	uresp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	ubody, err := io.ReadAll(uresp.Body)
	require.NoError(t, err)
	require.NoError(t, uresp.Body.Close())
	require.Equal(t, http.StatusOK, uresp.StatusCode, "%s", ubody)
	require.Equal(t, s.UIURL, uresp.Header.Get("Access-Control-Allow-Origin"))
	var decoded commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(ubody, &decoded))
	var in struct {
		Order struct {
			User struct{ Username, Email string }
		}
	}
	require.NoError(t, json.Unmarshal(decoded.GetPayloads()[0].GetData(), &in), "%s", decoded.GetPayloads()[0].GetData())
	require.Equal(t, email, in.Order.User.Email, "%s", decoded.GetPayloads()[0].GetData())
	require.Equal(t, username, in.Order.User.Username)

	// Another origin, or a page that reached the port through a name of its
	// own (DNS rebinding), is refused before anything is decoded.
	for _, h := range []struct{ origin, host string }{{"http://evil.example", ""}, {s.UIURL, "rebind.example:80"}} {
		req2, err := http.NewRequestWithContext(ctx, http.MethodPost, s.CodecURL+"/decode", bytes.NewReader(body))
		require.NoError(t, err)
		req2.Header.Set("Origin", h.origin)
		if h.host != "" {
			req2.Host = h.host
		}
		resp2, err := http.DefaultClient.Do(req2)
		require.NoError(t, err)
		data, err := io.ReadAll(resp2.Body)
		require.NoError(t, err)
		require.NoError(t, resp2.Body.Close())
		require.Equal(t, http.StatusForbidden, resp2.StatusCode, "%+v", h)
		require.Empty(t, resp2.Header.Get("Access-Control-Allow-Origin"))
		require.NotContains(t, string(data), email)
	}
}
