package lms

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// decodeMessage extracts a human message from an LMS error body: the
// enrollment API's {"message"}, DRF's {"detail"}, OAuth2's
// {"error","error_description"}, DRF field errors {"field":["..."]}, a bare
// JSON string or list of strings. Non-JSON bodies (HTML error pages) yield "".
func decodeMessage(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return ""
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return ""
	}
	switch t := v.(type) {
	case string:
		return t
	case []any:
		return joinStrings(t)
	case map[string]any:
		for _, k := range []string{"message", "detail", "error_description", "developer_message", "user_message", "error"} {
			if s, ok := t[k].(string); ok && s != "" {
				return s
			}
		}
		fields := fieldErrors(t)
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+": "+fields[k])
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

// decodeFieldErrors returns DRF field validation errors keyed by field.
func decodeFieldErrors(body []byte) map[string]string {
	var m map[string]any
	if json.Unmarshal(bytes.TrimSpace(body), &m) != nil {
		return nil
	}
	return fieldErrors(m)
}

func fieldErrors(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		switch t := v.(type) {
		case []any:
			if s := joinStrings(t); s != "" {
				out[k] = s
			}
		case string:
			if k != "message" && k != "detail" {
				out[k] = t
			}
		}
	}
	return out
}

func joinStrings(list []any) string {
	var parts []string
	for _, x := range list {
		if s, ok := x.(string); ok && s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

// hasJSONKey reports whether body is a JSON object with key.
func hasJSONKey(body []byte, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(bytes.TrimSpace(body), &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}
