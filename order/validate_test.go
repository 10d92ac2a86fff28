package order

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func valid() Order {
	return Order{Number: "EDX-100042", User: User{Username: "ada", Email: "ada@example.com"},
		PlacedAt: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC),
		Lines: []Line{
			{ID: "1", ProductType: ProductSeat, CourseID: "course-v1:edX+DemoX+Demo_Course", Mode: "verified"},
			{ID: "2", ProductType: ProductEntitlement, CourseUUID: "4b5c8a1e-2d3f-4e6a-9b7c-1d2e3f4a5b6c"},
			{ID: "3", ProductType: ProductDonation},
		}}
}

func fields(t *testing.T, err error) []string {
	t.Helper()
	var verr *ValidationError
	require.True(t, errors.As(err, &verr), "want a *ValidationError, got %v", err)
	var out []string
	for _, fe := range verr.Errors {
		out = append(out, fe.Field)
	}
	return out
}

func TestValidate(t *testing.T) {
	ok := valid()
	require.NoError(t, ok.Validate(nil))
	onlySeat := func(pt string) bool { return pt == ProductSeat }
	cases := []struct {
		name   string
		change func(*Order)
		mapped func(string) bool
		want   []string
	}{
		{"no number", func(o *Order) { o.Number = "" }, nil, []string{"number"}},
		{"number with a slash", func(o *Order) { o.Number = "a/b" }, nil, []string{"number"}},
		{"no user", func(o *Order) { o.User = User{} }, nil, []string{"user"}},
		{"bad email", func(o *Order) { o.User.Email = "ada at example" }, nil, []string{"user.email"}},
		{"no lines", func(o *Order) { o.Lines = nil }, nil, []string{"lines"}},
		{"duplicate line id", func(o *Order) { o.Lines[1].ID = "1" }, nil, []string{"lines[1].id"}},
		{"unmapped product type", func(o *Order) {}, onlySeat, []string{"lines[1].product_type", "lines[2].product_type"}},
		{"malformed course key", func(o *Order) { o.Lines[0].CourseID = "DemoX" }, nil, []string{"lines[0].course_id"}},
		{"unknown mode", func(o *Order) { o.Lines[0].Mode = "gold" }, nil, []string{"lines[0].mode"}},
		{"entitlement without course", func(o *Order) { o.Lines[1].CourseUUID = "" }, nil, []string{"lines[1].course_uuid"}},
		{"course uuid not a uuid", func(o *Order) { o.Lines[1].CourseUUID = "course-v1:edX+DemoX" }, nil, []string{"lines[1].course_uuid"}},
		{"course uuid too short", func(o *Order) { o.Lines[1].CourseUUID = "4b5c8a1e2d3f4e6a9b7c1d2e3f4a5b6" }, nil, []string{"lines[1].course_uuid"}},
		{"course uuid not hex", func(o *Order) { o.Lines[1].CourseUUID = "zb5c8a1e-2d3f-4e6a-9b7c-1d2e3f4a5b6c" }, nil, []string{"lines[1].course_uuid"}},
		{"course uuid half braced", func(o *Order) { o.Lines[1].CourseUUID = "{4b5c8a1e-2d3f-4e6a-9b7c-1d2e3f4a5b6c" }, nil, []string{"lines[1].course_uuid"}},
		{"no placed_at", func(o *Order) { o.PlacedAt = time.Time{} }, nil, []string{"placed_at"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := valid()
			o.Lines = append([]Line(nil), o.Lines...)
			c.change(&o)
			require.Equal(t, c.want, fields(t, o.Validate(c.mapped)))
		})
	}
}

func TestValidateCanonicalizesCourseUUIDs(t *testing.T) {
	const canonical = "4b5c8a1e-2d3f-4e6a-9b7c-1d2e3f4a5b6c"
	for _, in := range []string{
		canonical,
		"4B5C8A1E-2D3F-4E6A-9B7C-1D2E3F4A5B6C",
		"4b5c8a1e2d3f4e6a9b7c1d2e3f4a5b6c",
		"4B5C8A1E2D3F4E6A9B7C1D2E3F4A5B6C",
		"{4B5C8A1E-2D3F-4E6A-9B7C-1D2E3F4A5B6C}",
	} {
		o := valid()
		o.Lines = append([]Line(nil), o.Lines...)
		o.Lines[1].CourseUUID = in
		require.NoError(t, o.Validate(nil), in)
		require.Equal(t, canonical, o.Lines[1].CourseUUID, in)
	}
	bad := valid()
	bad.Lines = append([]Line(nil), bad.Lines...)
	bad.Lines[1].CourseUUID = "{NOT-A-UUID}"
	require.Error(t, bad.Validate(nil))
	require.Equal(t, "{NOT-A-UUID}", bad.Lines[1].CourseUUID, "left as sent, for the error")
}

func TestHelpers(t *testing.T) {
	o := valid()
	require.Equal(t, []string{"1", "2", "3"}, o.LineIDs())
	require.Equal(t, []string{"course-v1:edX+DemoX+Demo_Course"}, o.CourseIDs())
	require.True(t, IsCourseRunKey("edX/DemoX/2014"))
	require.False(t, IsCourseRunKey("course-v1:edX+DemoX"))
}
