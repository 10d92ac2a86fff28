package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/coursefulfill/fulfillment/api/problem"
	"github.com/coursefulfill/fulfillment/codec"
)

func testCodec(t *testing.T, id string) *codec.Codec {
	t.Helper()
	k, err := codec.NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.FromKeys(k)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func codecDo(t *testing.T, h http.Handler, method, path, token, origin, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestCodecHandler(t *testing.T) {
	c := testCodec(t, "k1")
	ch, err := CodecHandler(CodecConfig{Codec: c, Token: "tok", Origins: []string{"http://ui:8233"}})
	if err != nil {
		t.Fatal(err)
	}
	h := withCodec(http.NotFoundHandler(), ch)
	enc, err := c.Encode([]*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"ada@example.com"`)}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)

	w := codecDo(t, h, http.MethodPost, "/codec/decode", "tok", "http://ui:8233", body)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "ImFkYUBleGFtcGxlLmNvbSI=") {
		t.Fatalf("decode: %d %s", w.Code, w.Body)
	}
	if w.Header().Get("Access-Control-Allow-Origin") != "http://ui:8233" {
		t.Fatalf("no CORS grant for the UI's origin: %v", w.Header())
	}

	for _, tc := range []struct {
		name, method, path, token, body string
		code                            int
		typ                             string
	}{
		{"no token", http.MethodPost, "/codec/decode", "", body, http.StatusUnauthorized, problem.TypeUnauthorized},
		{"wrong token", http.MethodPost, "/codec/decode", "nope", body, http.StatusUnauthorized, problem.TypeUnauthorized},
		{"GET", http.MethodGet, "/codec/decode", "tok", "", http.StatusMethodNotAllowed, problem.TypeMethodNotAllowed},
		{"other path", http.MethodPost, "/codec/other", "tok", body, http.StatusNotFound, problem.TypeNotFound},
		{"malformed", http.MethodPost, "/codec/decode", "tok", "{not json", http.StatusBadRequest, problem.TypeMalformed},
		{"too large", http.MethodPost, "/codec/decode", "tok", strings.Repeat(" ", maxCodecBody+1), http.StatusRequestEntityTooLarge, problem.TypeTooLarge},
	} {
		w := codecDo(t, h, tc.method, tc.path, tc.token, "", tc.body)
		if w.Code != tc.code || w.Header().Get("Content-Type") != problem.ContentType || !strings.Contains(w.Body.String(), tc.typ) {
			t.Errorf("%s: %d %s %s, want %d %s", tc.name, w.Code, w.Header().Get("Content-Type"), w.Body, tc.code, tc.typ)
		}
	}

	// A key this endpoint does not hold: the id is named, never a key.
	other, err := CodecHandler(CodecConfig{Codec: testCodec(t, "k9"), Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	w = codecDo(t, other, http.MethodPost, "/codec/decode", "tok", "", body)
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `\"k1\"`) {
		t.Fatalf("unknown key: %d %s", w.Code, w.Body)
	}

	// Preflights carry no credentials: answered for the UI's origin only.
	w = codecDo(t, h, http.MethodOptions, "/codec/decode", "", "http://ui:8233", "")
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Methods") == "" {
		t.Fatalf("preflight: %d %v", w.Code, w.Header())
	}
	w = codecDo(t, h, http.MethodOptions, "/codec/decode", "", "http://elsewhere", "")
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin granted: %v", w.Header())
	}

	// Other paths go to the API.
	if w := codecDo(t, h, http.MethodGet, "/api/v1/orders", "", "", ""); w.Code != http.StatusNotFound {
		t.Fatalf("non-codec path: %d", w.Code)
	}
	if _, err := CodecHandler(CodecConfig{Codec: c}); err == nil {
		t.Fatal("codec endpoint without a token accepted")
	}
}
