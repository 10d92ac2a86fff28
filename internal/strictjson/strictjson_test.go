package strictjson

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckDuplicateKeys(t *testing.T) {
	for _, ok := range []string{
		`{}`, `[]`, `{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}`, `{"a":"a","b":"a"}`, `"x"`, `{"a":[1,"a",{"a":"a"}],"b":null}`,
		`{"a":{},"b":[]}`, `[{"k":1},{"k":1}]`,
	} {
		require.NoError(t, CheckDuplicateKeys([]byte(ok)), ok)
	}
	for in, key := range map[string]string{
		`{"a":1,"a":2}`:                  "a",
		`{"a":{"b":1,"b":2}}`:            "b",
		`[{"x":1},{"y":1,"y":[]}]`:       "y",
		`{"a":[{}],"b":{"c":[]},"b":{}}`: "b",
		`{"s":"v","n":1,"s":"w"}`:        "s",
	} {
		err := CheckDuplicateKeys([]byte(in))
		var de *DuplicateKeyError
		require.True(t, errors.As(err, &de), in)
		require.Equal(t, key, de.Key, in)
	}
	require.Error(t, CheckDuplicateKeys([]byte(`{"a":`)))
}
