package woocommerce

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// signed checks the delivery's signature in constant time.
func (rc *Receiver) signed(body []byte, sig string) bool {
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
	if err != nil || len(got) == 0 {
		return false
	}
	mac := hmac.New(sha256.New, []byte(rc.cfg.Secret))
	mac.Write(body) // hash.Hash.Write never returns an error
	return hmac.Equal(got, mac.Sum(nil))
}

// Sign returns the X-WC-Webhook-Signature of body under secret, as
// WooCommerce computes it. Tests and the docs' examples use it.
func Sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
