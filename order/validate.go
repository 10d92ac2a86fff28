package order

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
)

// FieldError names one problem with one field of an order, in the JSON
// pointer-like dotted form the API reports (for example "lines[2].course_id").
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// ValidationError lists every problem found with an order.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		parts[i] = fe.Field + ": " + fe.Detail
	}
	return "invalid order: " + strings.Join(parts, "; ")
}

var (
	numberPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$`)
	usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.@+-]{2,150}$`)
	// Course run keys: course-v1:Org+Course+Run (current) or Org/Course/Run (old).
	courseRunPattern = regexp.MustCompile(`^(course-v1:[A-Za-z0-9_.~-]+\+[A-Za-z0-9_.~-]+\+[A-Za-z0-9_.~-]+|[A-Za-z0-9_.~-]+/[A-Za-z0-9_.~-]+/[A-Za-z0-9_.~-]+)$`)
	// Course (not run) keys for entitlements: Org+Course.
	courseKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_.~-]+\+[A-Za-z0-9_.~-]+$`)
	uuidPattern      = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)
)

// Modes are the LMS course mode slugs an order line may ask for.
var Modes = []string{"audit", "honor", "verified", "professional", "no-id-professional", "credit", "masters", "executive-education"}

// MaxLines bounds the lines of one order. The workflow splits large orders
// into batches, but the order itself travels as one workflow input, which
// Temporal caps at 2 MB: 10,000 lines stay well under it.
const MaxLines = 10000

// IsNumber reports whether s can be an order number. "-refund-" is
// reserved: order-<number>-refund-<id> names a refund's workflow.
func IsNumber(s string) bool {
	return numberPattern.MatchString(s) && !strings.Contains(s, "-refund-")
}

// IsCourseRunKey reports whether s is a well-formed course run key.
func IsCourseRunKey(s string) bool {
	return len(s) <= MaxCourseKeyLength && courseRunPattern.MatchString(s)
}

// IsMode reports whether s is a known course mode slug.
func IsMode(s string) bool {
	for _, m := range Modes {
		if m == s {
			return true
		}
	}
	return false
}

// CanonicalUUID returns s in the form the LMS writes UUIDs: 32 lowercase hex
// digits hyphenated 8-4-4-4-12. It accepts any case, the hyphens or none of
// them, and surrounding braces; ok is false for anything else.
func CanonicalUUID(s string) (canonical string, ok bool) {
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		s = s[1 : len(s)-1]
	}
	if !uuidPattern.MatchString(s) {
		return "", false
	}
	h := strings.ToLower(strings.ReplaceAll(s, "-", ""))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], true
}

// isMailAddress reports whether net/mail reads s as exactly the address s.
func isMailAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

func isUUID(s string) bool {
	_, ok := CanonicalUUID(s)
	return ok
}

// Normalize puts the values that have a canonical form in it: course UUIDs
// become lowercase and hyphenated, as the LMS answers them, so that a line
// compares equal to what the LMS holds. Values it cannot read are left as
// they are, for Validate to reject.
func (o *Order) Normalize() {
	for i := range o.Lines {
		if u, ok := CanonicalUUID(o.Lines[i].CourseUUID); ok {
			o.Lines[i].CourseUUID = u
		}
	}
}

// Validate normalizes the order (see Normalize) and checks its shape; every
// entry point calls it before an order starts, so workflows only ever see
// canonical values. mapped reports whether a product type has a fulfillment
// module configured; nil accepts every product type. The returned error is
// a *ValidationError listing every problem, or nil.
func (o *Order) Validate(mapped func(productType string) bool) error {
	o.Normalize()
	var errs []FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Detail: fmt.Sprintf(format, args...)})
	}
	if o.Number == "" {
		add("number", "is required")
	} else if !IsNumber(o.Number) {
		add("number", "must be 1-128 letters, digits or ._:+- and start with a letter or digit, without \"-refund-\"")
	}
	if o.User.Username == "" && o.User.Email == "" {
		add("user", "needs a username or an email")
	}
	if o.User.Username != "" && !IsUsername(o.User.Username) {
		add("user.username", "is not a valid LMS username (2-150 letters, digits or _.@+-, at least one letter or digit)")
	}
	if o.User.Email != "" && !IsEmail(o.User.Email) {
		add("user.email", "is not a valid email address of at most %d characters", MaxEmailLength)
	}
	if o.Source != "" && !IsSource(o.Source) {
		add("source", "must be at most %d printable characters without spaces", MaxSourceLength)
	}
	if o.PlacedAt.IsZero() {
		add("placed_at", "is required (RFC 3339 time)")
	}
	switch {
	case len(o.Lines) == 0:
		add("lines", "an order needs at least one line")
	case len(o.Lines) > MaxLines:
		add("lines", "at most %d lines per order", MaxLines)
	}
	seen := make(map[string]bool, len(o.Lines))
	for i, l := range o.Lines {
		p := fmt.Sprintf("lines[%d]", i)
		switch {
		case l.ID == "":
			add(p+".id", "is required")
		case !IsLineID(l.ID):
			add(p+".id", "must be 1-64 letters, digits or ._-")
		case seen[l.ID]:
			add(p+".id", "duplicate line id %q", l.ID)
		}
		seen[l.ID] = true
		if l.SKU != "" && !IsSKU(l.SKU) {
			add(p+".sku", "must be 1-%d letters, digits, spaces or ._:/#+()-, starting with a letter or digit", MaxSKULength)
		}
		if l.ProductType == "" {
			add(p+".product_type", "is required")
			continue
		}
		if !idPattern.MatchString(l.ProductType) {
			add(p+".product_type", "must be 1-%d letters, digits or _.-, starting with a letter or digit", MaxProductTypeLength)
			continue
		}
		if mapped != nil && !mapped(l.ProductType) {
			add(p+".product_type", "no fulfillment module is configured for product type %q", l.ProductType)
			continue
		}
		errs = append(errs, validateLineFields(p, l)...)
	}
	if len(errs) > 0 {
		return &ValidationError{Errors: errs}
	}
	return nil
}

// validateLineFields checks the fields the built-in product types need.
// Product types it does not know are left to their modules.
func validateLineFields(p string, l Line) []FieldError {
	var errs []FieldError
	add := func(field, detail string) { errs = append(errs, FieldError{Field: p + "." + field, Detail: detail}) }
	switch l.ProductType {
	case ProductSeat, ProductUpgrade:
		if l.CourseID == "" {
			add("course_id", "is required")
		} else if !IsCourseRunKey(l.CourseID) {
			add("course_id", "is not a course run key (course-v1:Org+Course+Run)")
		}
		if l.Mode == "" {
			add("mode", "is required")
		} else if !IsMode(l.Mode) {
			add("mode", "is not a known course mode ("+strings.Join(Modes, ", ")+")")
		}
	case ProductEntitlement:
		// The LMS's entitlements API names a course by its catalog UUID.
		switch {
		case l.CourseUUID == "":
			add("course_uuid", "an entitlement needs the course's catalog UUID")
		case !isUUID(l.CourseUUID):
			add("course_uuid", "is not a UUID (32 hex digits, hyphenated 8-4-4-4-12 or not, braces allowed)")
		}
		if l.CourseID != "" && (len(l.CourseID) > MaxCourseKeyLength || !courseKeyPattern.MatchString(l.CourseID) && !IsCourseRunKey(l.CourseID)) {
			add("course_id", "is not a course key (Org+Course) or course run key")
		}
		if l.Mode != "" && !IsMode(l.Mode) {
			add("mode", "is not a known course mode")
		}
	}
	return errs
}
