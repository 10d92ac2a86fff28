// Package httpjson writes JSON responses, the one way the API and the
// webhook receivers answer.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Write answers with v as JSON and the status code.
func Write(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n')) // nothing to do when the client has gone
}
