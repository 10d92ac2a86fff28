package codec

import (
	"strings"

	"github.com/coursefulfill/fulfillment/internal/envconfig"
)

// EnvKeys names the codec's key list in the environment ("id:base64key,...",
// the first key encrypts); the file named by EnvKeys+"_FILE" may hold it
// instead. Unset, payloads are stored as they are.
const EnvKeys = "FULFILLMENT_CODEC_KEYS"

// EnvOrigins names the Web UI origins (comma-separated, such as
// https://temporal.example.com) allowed to call the API's codec endpoint
// from a browser.
const EnvOrigins = "FULFILLMENT_CODEC_CORS_ORIGINS"

// FromEnv returns the codec the environment configures (getenv is
// os.Getenv outside tests), or nil when no key is set. Errors name
// variables and key ids, never a key.
func FromEnv(getenv func(string) string) (*Codec, error) {
	s, err := envconfig.Secret(getenv, EnvKeys)
	if err != nil || strings.TrimSpace(s) == "" {
		return nil, err
	}
	return FromKeys(s)
}

// FromKeys returns the codec of a key list in the form ParseKeys reads.
func FromKeys(list string) (*Codec, error) {
	keys, err := ParseKeys(list)
	if err != nil {
		return nil, err
	}
	return New(keys)
}

// Origins reads a comma-separated origin list, dropping blanks and
// trailing slashes.
func Origins(list string) []string {
	var out []string
	for _, o := range strings.Split(list, ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o != "" {
			out = append(out, o)
		}
	}
	return out
}
