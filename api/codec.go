package api

import (
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/coursefulfill/fulfillment/api/problem"
	"github.com/coursefulfill/fulfillment/codec"
)

// CodecPath is where the API serves the payload codec (Temporal's remote
// codec protocol, as the Web UI and `temporal --codec-endpoint` call it):
// POST CodecPath+"decode" and CodecPath+"encode" with a JSON
// {"payloads": [...]}.
const CodecPath = "/codec/"

// maxCodecBody bounds a codec request: a history page's payloads.
const maxCodecBody = 8 << 20

// CodecConfig configures the codec endpoint.
type CodecConfig struct {
	// Codec encodes and decodes.
	Codec *codec.Codec
	// Token is the bearer token callers send; empty is refused unless
	// AllowNoAuth is set.
	Token string
	// AllowNoAuth serves callers without a token: only on a loopback
	// listener of a local dev server, where the Web UI (which has no
	// login there) reads it.
	AllowNoAuth bool
	// Origins are the Web UI origins ("http://127.0.0.1:8233") allowed to
	// call from a browser (CORS).
	Origins []string
}

// CodecHandler serves the codec endpoint under CodecPath: bearer token
// required (unless AllowNoAuth), CORS for the configured origins,
// preflights answered without a token, errors as problem documents.
func CodecHandler(cfg CodecConfig) (http.Handler, error) {
	if cfg.Codec == nil {
		return nil, errors.New("api: the codec endpoint needs a codec")
	}
	if cfg.Token == "" && !cfg.AllowNoAuth {
		return nil, errors.New("api: the codec endpoint needs a bearer token")
	}
	want := sha256.Sum256([]byte(cfg.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cfg.AllowNoAuth && !loopbackCaller(r, cfg.Origins) {
			// Without a token, only the Web UI's pages and programs on this
			// machine: a page of another origin (DNS rebinding included,
			// which also shows in Host) is refused before anything is
			// decoded, not merely denied the answer by CORS.
			problem.Write(w, r, problem.New(http.StatusForbidden, problem.TypeForbidden,
				"this codec endpoint answers the Web UI and callers on this machine only"))
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && slices.Contains(cfg.Origins, origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			problem.Write(w, r, problem.New(http.StatusMethodNotAllowed, problem.TypeMethodNotAllowed, "the codec takes POST"))
			return
		}
		if !cfg.AllowNoAuth && !checkBearer(w, r, want) {
			return
		}
		var op func([]*commonpb.Payload) ([]*commonpb.Payload, error)
		switch strings.TrimPrefix(r.URL.Path, CodecPath) {
		case "decode":
			op = cfg.Codec.Decode
		case "encode":
			op = cfg.Codec.Encode
		default:
			problem.Write(w, r, problem.New(http.StatusNotFound, problem.TypeNotFound, "the codec serves "+CodecPath+"decode and "+CodecPath+"encode"))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCodecBody))
		if err != nil {
			problem.Write(w, r, problem.New(http.StatusRequestEntityTooLarge, problem.TypeTooLarge, "the payloads exceed 8 MiB"))
			return
		}
		var in commonpb.Payloads
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &in); err != nil {
			problem.Write(w, r, problem.New(http.StatusBadRequest, problem.TypeMalformed, `want {"payloads": [{"metadata": {...}, "data": "<base64>"}]}`))
			return
		}
		out, err := op(in.Payloads)
		if err != nil {
			// Codec errors name key ids, never keys or payload contents.
			problem.Write(w, r, problem.New(http.StatusBadRequest, problem.TypeValidation, err.Error()))
			return
		}
		b, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
		if err != nil {
			problem.Write(w, r, problem.New(http.StatusInternalServerError, problem.TypeInternal, "encode the answer"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b) // nothing to do when the client has gone
	}), nil
}

// withCodec serves the codec endpoint under CodecPath beside h.
func withCodec(h, codecHandler http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, CodecPath) {
			codecHandler.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// loopbackCaller reports whether r names a loopback host and, when it comes
// from a browser page, one of origins.
func loopbackCaller(r *http.Request, origins []string) bool {
	if origin := r.Header.Get("Origin"); origin != "" && !slices.Contains(origins, origin) {
		return false
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
