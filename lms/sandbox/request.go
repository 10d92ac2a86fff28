package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

const maxRequestBody = 1 << 20

// readJSONObject reads a JSON object body, answering DRF's 400 otherwise.
func readJSONObject(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "Could not read the request body."})
		return nil, false
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return map[string]any{}, true
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "JSON parse error - " + err.Error()})
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"non_field_errors": []string{"Invalid data. Expected a dictionary."}})
		return nil, false
	}
	return m, true
}

// str renders a JSON value the way Python's str() would, roughly.
func str(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case bool:
		if t {
			return "True"
		}
		return "False"
	case json.Number:
		return t.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// optBool reads an optional JSON boolean: present reports a non-null value,
// ok reports that it is a real boolean.
func optBool(v any) (value *bool, ok bool) {
	switch t := v.(type) {
	case nil:
		return nil, true
	case bool:
		return &t, true
	}
	return nil, false
}

// paginate cuts one page (?page=, ?page_size=) and returns absolute next and
// previous links (nil at the ends).
func paginate(r *http.Request, all []any, defaultSize int) (page []any, next, prev any) {
	q := r.URL.Query()
	size, err := strconv.Atoi(q.Get("page_size"))
	if err != nil || size <= 0 {
		size = defaultSize
	}
	if size > 100 {
		size = 100
	}
	n, err := strconv.Atoi(q.Get("page"))
	if err != nil || n <= 0 {
		n = 1
	}
	start := (n - 1) * size
	if start > len(all) {
		start = len(all)
	}
	end := start + size
	if end > len(all) {
		end = len(all)
	}
	link := func(p int) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		qq := r.URL.Query()
		qq.Set("page", strconv.Itoa(p))
		u.RawQuery = qq.Encode()
		return u.String()
	}
	if end < len(all) {
		next = link(n + 1)
	}
	if n > 1 {
		prev = link(n - 1)
	}
	return all[start:end], next, prev
}
