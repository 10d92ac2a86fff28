package codec

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

func key(t *testing.T, id string) string {
	t.Helper()
	k, err := NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCodec(t *testing.T, list string) *Codec {
	t.Helper()
	c, err := FromKeys(list)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type learner struct {
	Username string `json:"username"`
	Email    string `json:"email"`
}

func TestRoundTripHidesPersonalData(t *testing.T) {
	c := mustCodec(t, key(t, "k1"))
	dc := DataConverter(c)
	in := learner{Username: "ada", Email: "ada.lovelace@example.com"}
	p, err := dc.ToPayload(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p.Metadata[MetadataEncoding]); got != EncodingEncrypted {
		t.Fatalf("encoding = %q, want %q", got, EncodingEncrypted)
	}
	if got := string(p.Metadata[MetadataKeyID]); got != "k1" {
		t.Fatalf("key id = %q, want k1", got)
	}
	for _, secret := range []string{in.Email, "lovelace", `"ada"`, "json/plain"} {
		if bytes.Contains(p.Data, []byte(secret)) {
			t.Fatalf("encrypted payload holds %q", secret)
		}
	}
	var out learner
	if err := dc.FromPayload(p, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("round trip = %+v, want %+v", out, in)
	}
	// A fresh nonce each time: the same value never encrypts the same.
	p2, err := dc.ToPayload(in)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(p.Data, p2.Data) {
		t.Fatal("two encryptions of one value are identical")
	}
}

func TestRotation(t *testing.T) {
	old, cur := key(t, "2026-01"), key(t, "2026-06")
	before := mustCodec(t, old)
	enc, err := before.Encode([]*commonpb.Payload{{Data: []byte("old order")}})
	if err != nil {
		t.Fatal(err)
	}
	after := mustCodec(t, cur+","+old)
	if after.EncryptKeyID() != "2026-06" {
		t.Fatalf("encrypting key = %q, want the first", after.EncryptKeyID())
	}
	dec, err := after.Decode(enc)
	if err != nil {
		t.Fatalf("old payload after rotation: %v", err)
	}
	if string(dec[0].Data) != "old order" {
		t.Fatalf("decoded %q", dec[0].Data)
	}
	enc2, err := after.Encode([]*commonpb.Payload{{Data: []byte("new order")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(enc2[0].Metadata[MetadataKeyID]); got != "2026-06" {
		t.Fatalf("new payload key id = %q", got)
	}
}

func TestUnknownKeyIDNamesTheIDNotTheKey(t *testing.T) {
	retired := key(t, "retired")
	enc, err := mustCodec(t, retired).Encode([]*commonpb.Payload{{Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	cur := key(t, "current")
	_, err = mustCodec(t, cur).Decode(enc)
	var unknown *UnknownKeyError
	if !errors.As(err, &unknown) || unknown.KeyID != "retired" {
		t.Fatalf("err = %v, want UnknownKeyError for retired", err)
	}
	for _, k := range []string{retired, cur} {
		secret := strings.SplitN(k, ":", 2)[1]
		if strings.Contains(err.Error(), secret) {
			t.Fatal("error holds a key")
		}
	}
	if !strings.Contains(err.Error(), `"retired"`) || !strings.Contains(err.Error(), EnvKeys) {
		t.Fatalf("error %q does not say which key to add where", err)
	}
}

func TestTamperedCiphertextIsRefused(t *testing.T) {
	c := mustCodec(t, key(t, "k1")+","+key(t, "k2"))
	enc, err := c.Encode([]*commonpb.Payload{{Data: []byte("ada@example.com")}})
	if err != nil {
		t.Fatal(err)
	}
	flipped := &commonpb.Payload{Metadata: enc[0].Metadata, Data: bytes.Clone(enc[0].Data)}
	flipped.Data[len(flipped.Data)-1] ^= 1
	if _, err := c.Decode([]*commonpb.Payload{flipped}); err == nil {
		t.Fatal("altered ciphertext decoded")
	}
	// The key id is authenticated: relabelling the payload fails too.
	relabelled := &commonpb.Payload{Data: enc[0].Data, Metadata: map[string][]byte{
		MetadataEncoding: []byte(EncodingEncrypted), MetadataKeyID: []byte("k2")}}
	if _, err := c.Decode([]*commonpb.Payload{relabelled}); err == nil {
		t.Fatal("payload relabelled with another key id decoded")
	}
	short := &commonpb.Payload{Metadata: enc[0].Metadata, Data: enc[0].Data[:5]}
	if _, err := c.Decode([]*commonpb.Payload{short}); err == nil {
		t.Fatal("truncated ciphertext decoded")
	}
}

func TestPlainPayloadsPassThrough(t *testing.T) {
	plain, err := converter.GetDefaultDataConverter().ToPayload(learner{Username: "bob", Email: "bob@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var out learner
	if err := DataConverter(mustCodec(t, key(t, "k1"))).FromPayload(plain, &out); err != nil {
		t.Fatalf("payload written before a key was set: %v", err)
	}
	if out.Email != "bob@example.com" {
		t.Fatalf("decoded %+v", out)
	}
}

func TestParseKeysRejectsBadLists(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(make([]byte, KeySize))
	short := base64.StdEncoding.EncodeToString([]byte("sixteen-byte-key"))
	for _, list := range []string{"", " , ", "nokey", ":" + good, "a:" + short, "a:not*base64", "a:" + good + ",a:" + good,
		good + ":k1"} { // written the wrong way round: the key where the id belongs
		if _, err := ParseKeys(list); err == nil {
			t.Errorf("ParseKeys(%q) accepted", list)
		} else if strings.Contains(err.Error(), short) || strings.Contains(err.Error(), good) {
			t.Errorf("ParseKeys(%q) error holds a key: %v", list, err)
		}
	}
	keys, err := ParseKeys(" a:" + good + " , b:" + good + ",")
	if err != nil || len(keys) != 2 || keys[0].ID != "a" || keys[1].ID != "b" {
		t.Fatalf("ParseKeys = %v, %v", keys, err)
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if c, err := FromEnv(getenv); err != nil || c != nil {
		t.Fatalf("unset: %v, %v; want no codec", c, err)
	}
	k := key(t, "file-key")
	f := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(f, []byte(k+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env[EnvKeys+"_FILE"] = f
	c, err := FromEnv(getenv)
	if err != nil || c == nil || c.EncryptKeyID() != "file-key" {
		t.Fatalf("from file: %v, %v", c, err)
	}
	env[EnvKeys] = k
	if _, err := FromEnv(getenv); err == nil {
		t.Fatal("both the variable and its file set: accepted")
	}
}

func TestOrigins(t *testing.T) {
	got := Origins(" http://a:8233/ ,, https://b ")
	if len(got) != 2 || got[0] != "http://a:8233" || got[1] != "https://b" {
		t.Fatalf("Origins = %q", got)
	}
}
