package order

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on the values an order (and the requests about it) may carry.
// They follow the LMS's own column sizes, so that nothing accepted here
// fails later in the LMS, and keep every workflow input far below
// Temporal's payload limits. docs/api.md lists them; a test keeps the two
// in step.
const (
	// MaxNumberLength bounds an order number.
	MaxNumberLength = 128
	// MaxUsernameLength is the LMS's (Django's) username column size.
	MaxUsernameLength = 150
	// MaxEmailLength is the longest email address (RFC 5321 path limit).
	MaxEmailLength = 254
	// MaxCourseKeyLength is the LMS's course key column size.
	MaxCourseKeyLength = 255
	// MaxLineIDLength bounds a line id.
	MaxLineIDLength = 64
	// MaxRefundIDLength bounds a refund id: it becomes part of a workflow
	// ID.
	MaxRefundIDLength = 64
	// MaxSKULength is WooCommerce's SKU column size.
	MaxSKULength = 100
	// MaxSourceLength bounds an order's source (a shop's URL).
	MaxSourceLength = 512
	// MaxProductTypeLength bounds a product type name.
	MaxProductTypeLength = 64
)

var (
	// idPattern is the shape of line ids, refund ids and product types
	// (MaxLineIDLength, MaxRefundIDLength, MaxProductTypeLength: 64).
	idPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	skuPattern = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} ._:/#+()-]{0,99}$`)
)

// IsLineID reports whether s can be a line id: 1-64 letters, digits or
// ._-, starting with a letter or digit.
func IsLineID(s string) bool { return idPattern.MatchString(s) }

// IsRefundID reports whether s can be a refund id: 1-64 letters, digits or
// ._-, starting with a letter or digit. It is the edge's rule, stricter than
// contract.ValidateRefundID (which workflows apply to what reaches them,
// including signals, and which also takes a leading '.', '_' or '-').
func IsRefundID(s string) bool { return idPattern.MatchString(s) }

// IsUsername reports whether s can be an LMS username: 2-150 letters,
// digits or _.@+-, at least one of them a letter or digit.
func IsUsername(s string) bool {
	return usernamePattern.MatchString(s) && strings.IndexFunc(s, isAlnum) >= 0
}

// IsEmail reports whether s is a plain email address (no display name, no
// angle brackets) of at most MaxEmailLength bytes.
func IsEmail(s string) bool {
	if len(s) > MaxEmailLength || strings.ContainsAny(s, "<> \t\r\n\"") {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || len(local) > 64 || domain == "" || strings.Contains(domain, "@") {
		return false
	}
	return isMailAddress(s)
}

// IsSKU reports whether s can be a SKU: 1-100 letters, digits, spaces or
// ._:/#+()-, starting with a letter or digit.
func IsSKU(s string) bool { return utf8.ValidString(s) && skuPattern.MatchString(s) }

// IsSource reports whether s can be an order's source: at most
// MaxSourceLength printable characters without spaces.
func IsSource(s string) bool {
	if len(s) > MaxSourceLength || !utf8.ValidString(s) {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) || unicode.IsSpace(r) }) < 0
}

func isAlnum(r rune) bool { return r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) }
