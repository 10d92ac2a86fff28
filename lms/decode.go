package lms

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

type wirePage struct {
	Next    json.RawMessage `json:"next"`
	Results json.RawMessage `json:"results"`
}

// errNotObject reports a body that is JSON but not the expected object.
var errNotObject = errors.New("not a JSON object")

// decodePage accepts a paginated object {next, results} or a bare list.
func decodePage(body []byte) ([]json.RawMessage, string, error) {
	body = bytes.TrimSpace(body)
	var results []json.RawMessage
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &results); err != nil {
			return nil, "", errors.New("malformed list")
		}
		return results, "", nil
	}
	var p wirePage
	if err := decodeObject(body, &p); err != nil {
		return nil, "", err
	}
	if isPresent(p.Results) {
		if err := json.Unmarshal(p.Results, &results); err != nil {
			return nil, "", errors.New("results is not a list")
		}
	}
	return results, rawString(p.Next), nil
}

func decodeObject(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return errNotObject
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errors.New("malformed JSON object")
	}
	return nil
}

func isPresent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && string(raw) != "null"
}

// rawString returns a JSON string's value; numbers are kept as their text;
// anything else is "".
func rawString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// rawBool accepts a JSON boolean (and, leniently, "true"/"false" strings).
func rawBool(raw json.RawMessage) (value, ok bool) {
	var b bool
	if json.Unmarshal(bytes.TrimSpace(raw), &b) == nil {
		return b, true
	}
	switch strings.ToLower(rawString(raw)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func rawNumber(raw json.RawMessage) float64 {
	var f float64
	if json.Unmarshal(bytes.TrimSpace(raw), &f) == nil {
		return f
	}
	// Django's DecimalField renders prices as strings ("49.00").
	if f, err := strconv.ParseFloat(rawString(raw), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f
	}
	return 0
}

// rawTime parses the LMS's timestamps (RFC 3339 with or without fraction,
// or Django's "2006-01-02 15:04:05+00:00"); anything else is nil.
func rawTime(raw json.RawMessage) *time.Time {
	s := rawString(raw)
	if s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return &t
		}
	}
	return nil
}
