package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/coursefulfill/fulfillment/api/problem"
	"github.com/coursefulfill/fulfillment/order"
)

// probeMethods are the methods the Allow header of a 405 can name.
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// unmatched answers a request no route took: 405 with Allow when the path
// is served under other methods, else 404. The route table alone decides,
// so a new route needs no change here.
func unmatched(mux *http.ServeMux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range probeMethods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			problem.Write(w, r, problem.New(http.StatusMethodNotAllowed, problem.TypeMethodNotAllowed,
				"this route answers "+strings.Join(allow, ", ")))
			return
		}
		problem.Write(w, r, problem.New(http.StatusNotFound, problem.TypeNotFound, "no such route: see docs/api.md"))
	}
}

// requireJSON answers 415 to a request whose body is not declared JSON
// (Content-Type application/json, optionally with charset=utf-8). A request
// without a body passes: GETs, and a retry of every failed line.
func requireJSON(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// A chunked body of unknown length without a Content-Type may be
		// empty (a retry of every failed line): the decoder judges it.
		declared := r.ContentLength > 0 || r.ContentLength < 0 && r.Header.Get("Content-Type") != ""
		if declared && !isJSON(r.Header.Get("Content-Type")) {
			w.Header().Set("Accept-Post", "application/json")
			problem.Write(w, r, problem.New(http.StatusUnsupportedMediaType, problem.TypeUnsupportedMediaType,
				"the body must be JSON, sent with Content-Type: application/json"))
			return
		}
		next(w, r)
	}
}

func isJSON(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// takesJSON reports whether a route's bodies are checked by requireJSON:
// every route but the webhooks, which check their deliveries themselves
// (a store's ping is a form).
func takesJSON(pattern string) bool { return !strings.Contains(pattern, "/webhooks/") }

// pageTokenMACSize is the length of the MAC a page token starts with.
const pageTokenMACSize = 16

// errBadPageToken is a page_token this API did not hand out.
var errBadPageToken = errors.New("is not a token this API returned")

// pageTokenKey derives the key that signs page tokens from the API token:
// every replica of the API shares it, and it is never the token itself.
func pageTokenKey(apiToken string) []byte {
	sum := sha256.Sum256([]byte("fulfillment page token\x00" + apiToken))
	return sum[:]
}

// encodePageToken turns Temporal's next-page token into the opaque
// next_page_token: a MAC, so that only tokens this API returned reach
// Temporal (which answers others with an error that reads as an outage),
// and the token, base64url without padding.
func (s *server) encodePageToken(token []byte) string {
	mac := hmac.New(sha256.New, pageTokenKey(s.cfg.Token))
	mac.Write(token)
	return base64.RawURLEncoding.EncodeToString(append(mac.Sum(nil)[:pageTokenMACSize], token...))
}

// decodePageToken is encodePageToken's inverse; errBadPageToken for
// anything it did not make.
func (s *server) decodePageToken(v string) ([]byte, error) {
	if len(v) > 4096 {
		return nil, errBadPageToken
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) <= pageTokenMACSize {
		return nil, errBadPageToken
	}
	mac := hmac.New(sha256.New, pageTokenKey(s.cfg.Token))
	mac.Write(b[pageTokenMACSize:])
	if !hmac.Equal(mac.Sum(nil)[:pageTokenMACSize], b[:pageTokenMACSize]) {
		return nil, errBadPageToken
	}
	return b[pageTokenMACSize:], nil
}

// checkRequestLines checks the line_ids of a refund or retry request: at
// most order.MaxLines ids, each one a line id (order.IsLineID).
func checkRequestLines(ids []string) []problem.FieldError {
	if len(ids) > order.MaxLines {
		return []problem.FieldError{{Field: "line_ids", Detail: "at most " + strconv.Itoa(order.MaxLines) + " line ids"}}
	}
	var fields []problem.FieldError
	for i, id := range ids {
		if !order.IsLineID(id) {
			fields = append(fields, problem.FieldError{Field: "line_ids[" + strconv.Itoa(i) + "]",
				Detail: "is not a line id (1-" + strconv.Itoa(order.MaxLineIDLength) + " letters, digits or ._-, starting with a letter or digit)"})
		}
	}
	return fields
}

// checkRefundID checks a refund request's refund_id.
func checkRefundID(id string) []problem.FieldError {
	switch {
	case id == "":
		return []problem.FieldError{{Field: "refund_id", Detail: "is required"}}
	case !order.IsRefundID(id):
		return []problem.FieldError{{Field: "refund_id", Detail: "must be 1-" + strconv.Itoa(order.MaxRefundIDLength) +
			" letters, digits or ._-, starting with a letter or digit"}}
	}
	return nil
}

// invalidRequest answers 422 naming the invalid fields of a request.
func invalidRequest(w http.ResponseWriter, r *http.Request, detail string, fields []problem.FieldError) {
	problem.Write(w, r, &problem.Problem{Type: problem.TypeValidation, Status: http.StatusUnprocessableEntity,
		Detail: detail, Errors: fields})
}
