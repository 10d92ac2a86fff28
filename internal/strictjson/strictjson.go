// Package strictjson finds what encoding/json lets through silently: an
// object that names one key twice, of which json.Unmarshal keeps the last.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxKeyEcho bounds the key a DuplicateKeyError repeats.
const maxKeyEcho = 64

// DuplicateKeyError names a key an object holds twice.
type DuplicateKeyError struct {
	// Key is the duplicated key, cut to 64 bytes.
	Key string
}

func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("the key %q appears twice in one object", e.Key)
}

// CheckDuplicateKeys reports the first object in data that holds a key
// twice, as a *DuplicateKeyError. Syntax errors are returned as
// encoding/json reports them; data holding no duplicate is nil.
func CheckDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	// stack holds, per open container, the keys seen (nil for an array).
	var stack []map[string]bool
	expectKey := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) > 0 || expectKey {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, map[string]bool{})
				expectKey = true
				continue
			case '[':
				stack = append(stack, nil)
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
		case string:
			if expectKey {
				keys := stack[len(stack)-1]
				if keys[v] {
					k := v
					if len(k) > maxKeyEcho {
						k = k[:maxKeyEcho]
					}
					return &DuplicateKeyError{Key: k}
				}
				keys[v] = true
				expectKey = false
				continue
			}
		}
		// After a value inside an object, the next string is a key.
		expectKey = len(stack) > 0 && stack[len(stack)-1] != nil
	}
}
