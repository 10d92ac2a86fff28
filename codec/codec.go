// Package codec encrypts Temporal payloads: an AES-256-GCM
// converter.PayloadCodec whose keys have ids, so keys can be rotated (the
// first key encrypts, every key decrypts), and an HTTP endpoint through which
// the Temporal Web UI and CLI read the payloads decoded. With it, the
// learners' emails and usernames in order inputs, results and signals are
// stored in Temporal's history encrypted.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload.
const (
	// MetadataEncoding is the payload metadata key naming the encoding.
	MetadataEncoding = converter.MetadataEncoding
	// EncodingEncrypted is the encoding of an encrypted payload.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the key a payload is encrypted with.
	MetadataKeyID = "encryption-key-id"
)

// KeySize is the size of an AES-256 key in bytes.
const KeySize = 32

// Key is one encryption key and its id.
type Key struct {
	// ID names the key in the payloads it encrypts; it is not secret.
	ID string
	// Secret is the 32-byte AES-256 key.
	Secret []byte
}

// keyIDPattern is what a key id may be: short and plain, so that an error
// may name it (a base64 key has '+', '/' or '=' and is longer).
var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ParseKeys reads a key list "id:base64key,id:base64key,...": the first key
// encrypts, every key decrypts. Errors name key ids and positions, never a
// key.
func ParseKeys(s string) ([]Key, error) {
	var keys []Key
	seen := map[string]bool{}
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, b64, ok := strings.Cut(item, ":")
		id = strings.TrimSpace(id)
		if !ok || !keyIDPattern.MatchString(id) {
			// Not quoted: a list written the wrong way round has the key
			// where the id belongs.
			return nil, fmt.Errorf("codec key %d: want id:base64key, the id 1-64 letters, digits, '.', '_' or '-'", i+1)
		}
		if seen[id] {
			return nil, fmt.Errorf("codec key %q appears twice", id)
		}
		secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil {
			// The decoder's error quotes an offset, not the input.
			return nil, fmt.Errorf("codec key %q: not base64: %w", id, err)
		}
		if len(secret) != KeySize {
			return nil, fmt.Errorf("codec key %q: %d bytes, want %d (AES-256)", id, len(secret), KeySize)
		}
		seen[id] = true
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	if len(keys) == 0 {
		return nil, errors.New("codec keys: none given (want id:base64key,...)")
	}
	return keys, nil
}

// NewKey returns a fresh random key with the given id, in the form
// ParseKeys reads.
func NewKey(id string) (string, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("codec: new key: %w", err)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(b), nil
}

// Codec is the AES-256-GCM payload codec. It is safe for concurrent use.
type Codec struct {
	encryptID string
	aeads     map[string]cipher.AEAD
	ids       []string
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New returns a codec over keys: keys[0] encrypts, every key decrypts.
func New(keys []Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("codec: at least one key is required")
	}
	c := &Codec{encryptID: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, k := range keys {
		block, err := aes.NewCipher(k.Secret)
		if err != nil || len(k.Secret) != KeySize {
			return nil, fmt.Errorf("codec key %q: want a %d-byte key", k.ID, KeySize)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("codec key %q: %w", k.ID, err)
		}
		c.aeads[k.ID] = aead
		c.ids = append(c.ids, k.ID)
	}
	return c, nil
}

// EncryptKeyID is the id of the key new payloads are encrypted with.
func (c *Codec) EncryptKeyID() string { return c.encryptID }

// Encode encrypts each payload, whole (metadata and data), with the first
// key; the key id is the additional authenticated data.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.encryptID]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("codec: encode payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("codec: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:    []byte(c.encryptID),
			},
			Data: aead.Seal(nonce, nonce, plain, []byte(c.encryptID)),
		}
	}
	return out, nil
}

// Decode decrypts the encrypted payloads with the key their metadata names;
// payloads not encrypted (written before a key was set) pass through.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[id]
		if !ok {
			return nil, &UnknownKeyError{KeyID: id, Known: c.ids}
		}
		data := p.GetData()
		if len(data) < aead.NonceSize()+aead.Overhead() {
			return nil, fmt.Errorf("codec: payload encrypted with key %q is truncated", id)
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("codec: payload encrypted with key %q does not decrypt (altered, or another key of that id): %w", id, err)
		}
		var dec commonpb.Payload
		if err := proto.Unmarshal(plain, &dec); err != nil {
			return nil, fmt.Errorf("codec: payload encrypted with key %q: %w", id, err)
		}
		out[i] = &dec
	}
	return out, nil
}

// UnknownKeyError is a payload encrypted with a key the codec does not
// hold: keep retired keys in the list (after the current one) until no
// history needs them.
type UnknownKeyError struct {
	// KeyID is the id in the payload's metadata.
	KeyID string
	// Known are the ids the codec holds.
	Known []string
}

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("codec: payload encrypted with key %q, which is not configured (configured: %s); add it to %s after the current key",
		e.KeyID, strings.Join(e.Known, ", "), EnvKeys)
}

// DataConverter is the SDK's default data converter with c applied; a nil
// c is the default data converter.
func DataConverter(c *Codec) converter.DataConverter {
	if c == nil {
		return converter.GetDefaultDataConverter()
	}
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}
