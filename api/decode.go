package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coursefulfill/fulfillment/internal/strictjson"
	"github.com/coursefulfill/fulfillment/order"
)

// MaxBodyBytes bounds every request body the API reads.
const MaxBodyBytes = 1 << 20

// ErrBodyTooLarge is returned by the decoders when the body exceeds its
// limit (http.MaxBytesReader).
var ErrBodyTooLarge = errors.New("request body too large")

// DecodeError says why a body is not the JSON document expected.
type DecodeError struct {
	Detail string
}

func (e *DecodeError) Error() string { return "malformed request body: " + e.Detail }

// DecodeOrder decodes one order from r strictly: unknown fields, a second
// document or trailing garbage after the order are errors. It never panics.
// The order is not validated; call order.Validate.
func DecodeOrder(r io.Reader) (order.Order, error) {
	var o order.Order
	if err := decodeStrict(r, &o); err != nil {
		return order.Order{}, err
	}
	return o, nil
}

// decodeStrict decodes exactly one JSON value into v. An object naming a
// key twice is an error too: encoding/json would keep the last value, and
// which one a client meant is anyone's guess.
func decodeStrict(r io.Reader, v any) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return decodeErr(err)
	}
	if err := decodeOne(body, v); err != nil {
		return err
	}
	var dup *strictjson.DuplicateKeyError
	if err := strictjson.CheckDuplicateKeys(body); errors.As(err, &dup) {
		return &DecodeError{Detail: dup.Error()}
	} else if err != nil {
		return decodeErr(err)
	}
	return nil
}

// decodeOne decodes the one JSON document of body into v.
func decodeOne(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeErr(err)
	}
	// Anything but whitespace after the document is an error: a client that
	// concatenates two orders must not get only the first one fulfilled.
	var extra json.RawMessage
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
		return nil
	case err == nil:
		return &DecodeError{Detail: "unexpected data after the JSON document"}
	default:
		if de := decodeErr(err); !isDecodeError(de) {
			return de
		}
		return &DecodeError{Detail: "unexpected data after the JSON document"}
	}
}

func isDecodeError(err error) bool {
	var de *DecodeError
	return errors.As(err, &de)
}

func decodeErr(err error) error {
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		timeErr   *time.ParseError
	)
	switch {
	case errors.As(err, &maxErr):
		return fmt.Errorf("%w: the limit is %d bytes", ErrBodyTooLarge, maxErr.Limit)
	case errors.Is(err, io.EOF):
		return &DecodeError{Detail: "the body is empty; a JSON object is required"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &DecodeError{Detail: "the JSON document ends early"}
	case errors.As(err, &syntaxErr):
		return &DecodeError{Detail: fmt.Sprintf("invalid JSON at byte %d: %s", syntaxErr.Offset, syntaxErr.Error())}
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return &DecodeError{Detail: fmt.Sprintf("expected a JSON object, got %s", typeErr.Value)}
		}
		return &DecodeError{Detail: fmt.Sprintf("field %q must be %s, got %s", field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return &DecodeError{Detail: "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")}
	case errors.As(err, &timeErr):
		// The message would quote the value, which could be anything the
		// client put there (an email, say).
		return &DecodeError{Detail: "a time must be an RFC 3339 string, e.g. 2026-11-21T10:00:00Z"}
	default:
		return &DecodeError{Detail: "the body is not a valid request"}
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	default:
		return "a number"
	}
}
