package order

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every limit docs/api.md states is enforced, at the boundary and one past
// it.
func TestValidateBounds(t *testing.T) {
	domain := "@example.com"
	cases := []struct {
		name   string
		change func(*Order)
		want   []string
	}{
		{"username of 150", func(o *Order) { o.User.Username = strings.Repeat("a", 150) }, nil},
		{"username of 151", func(o *Order) { o.User.Username = strings.Repeat("a", 151) }, []string{"user.username"}},
		{"username of dots", func(o *Order) { o.User.Username = ".." }, []string{"user.username"}},
		{"username of punctuation", func(o *Order) { o.User.Username = "-_.@+" }, []string{"user.username"}},
		{"username with a slash", func(o *Order) { o.User.Username = "a/b" }, []string{"user.username"}},
		{"email of 254", func(o *Order) { o.User.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com" }, nil},
		{"email of 255", func(o *Order) { o.User.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com" }, []string{"user.email"}},
		{"email of 5000", func(o *Order) { o.User.Email = strings.Repeat("a", 5000) + domain }, []string{"user.email"}},
		{"email with a name", func(o *Order) { o.User.Email = "Ada <ada@example.com>" }, []string{"user.email"}},
		{"number of 128", func(o *Order) { o.Number = strings.Repeat("9", 128) }, nil},
		{"number of 129", func(o *Order) { o.Number = strings.Repeat("9", 129) }, []string{"number"}},
		{"line id of 64", func(o *Order) { o.Lines[0].ID = strings.Repeat("1", 64) }, nil},
		{"line id of 65", func(o *Order) { o.Lines[0].ID = strings.Repeat("1", 65) }, []string{"lines[0].id"}},
		{"line id of dots", func(o *Order) { o.Lines[0].ID = ".." }, []string{"lines[0].id"}},
		{"sku of 100", func(o *Order) { o.Lines[0].SKU = strings.Repeat("S", 100) }, nil},
		{"sku of 101", func(o *Order) { o.Lines[0].SKU = strings.Repeat("S", 101) }, []string{"lines[0].sku"}},
		{"sku with a newline", func(o *Order) { o.Lines[0].SKU = "A\nB" }, []string{"lines[0].sku"}},
		{"sku with spaces", func(o *Order) { o.Lines[0].SKU = "DEMOX VERIFIED (2026)" }, nil},
		{"course key of 256", func(o *Order) { o.Lines[0].CourseID = "course-v1:edX+DemoX+" + strings.Repeat("r", 236) }, []string{"lines[0].course_id"}},
		{"course key of 255", func(o *Order) { o.Lines[0].CourseID = "course-v1:edX+DemoX+" + strings.Repeat("r", 235) }, nil},
		{"product type of 65", func(o *Order) { o.Lines[2].ProductType = strings.Repeat("p", 65) }, []string{"lines[2].product_type"}},
		{"source of 512", func(o *Order) { o.Source = "https://" + strings.Repeat("s", 504) }, nil},
		{"source of 513", func(o *Order) { o.Source = "https://" + strings.Repeat("s", 505) }, []string{"source"}},
		{"source with a space", func(o *Order) { o.Source = "https://shop example" }, []string{"source"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := valid()
			o.Lines = append([]Line(nil), o.Lines...)
			c.change(&o)
			err := o.Validate(nil)
			if c.want == nil {
				require.NoError(t, err)
				return
			}
			require.Equal(t, c.want, fields(t, err))
		})
	}
}

func TestIDPredicates(t *testing.T) {
	require.True(t, IsRefundID("R-77"))
	require.True(t, IsRefundID(strings.Repeat("r", 64)))
	require.False(t, IsRefundID(strings.Repeat("r", 65)))
	require.False(t, IsRefundID(".."))
	require.False(t, IsRefundID(""))
	require.True(t, IsLineID("316"))
	require.False(t, IsLineID("a b"))
}
