package api_test

import (
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/api/problem"
	"github.com/coursefulfill/fulfillment/order"
	"github.com/coursefulfill/fulfillment/starter"
)

// TestDocListsEveryRoute keeps docs/api.md true: its "### `METHOD /path`"
// headings must be exactly the routes the server registers.
func TestDocListsEveryRoute(t *testing.T) {
	doc, err := os.ReadFile("../docs/api.md")
	require.NoError(t, err)
	heading := regexp.MustCompile("(?m)^### `((?:GET|POST|PUT|PATCH|DELETE) /[^`]*)`\\s*$")
	var documented []string
	for _, m := range heading.FindAllStringSubmatch(string(doc), -1) {
		documented = append(documented, m[1])
	}
	served := api.Routes()
	sort.Strings(documented)
	sort.Strings(served)
	require.Equal(t, served, documented, "docs/api.md and the route table differ")

	// Every problem type the code can answer with is documented.
	for _, typ := range []string{
		problem.TypeValidation, problem.TypeMalformed, problem.TypeTooLarge, problem.TypeUnauthorized,
		problem.TypeNotFound, problem.TypeConflict, problem.TypeUnknownLines, problem.TypeNothingToRetry,
		problem.TypeClosed, problem.TypeRejected, problem.TypeUnavailable, problem.TypeInternal,
		problem.TypeNotConfigured, problem.TypeBadSignature, problem.TypeMethodNotAllowed, problem.TypeUnsupportedMediaType,
	} {
		require.Contains(t, string(doc), "`"+typ+"`")
	}
}

// TestDocListsEveryLimit keeps the "Limits" table of docs/api.md true: each
// bound the code enforces appears, with its value, in the row of the value
// it bounds.
func TestDocListsEveryLimit(t *testing.T) {
	doc, err := os.ReadFile("../docs/api.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(doc), "\n## Limits\n")
	require.True(t, ok, "docs/api.md has no Limits section")
	section, _, _ = strings.Cut(section, "\n## ")
	rows := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| ([^|]+) \\| (.+) \\|$").FindAllStringSubmatch(section, -1) {
		rows[m[1]] = m[2]
	}
	comma := func(n int) string {
		s := strconv.Itoa(n)
		if len(s) > 3 {
			s = s[:len(s)-3] + "," + s[len(s)-3:]
		}
		return s
	}
	require.Equal(t, 1<<20, api.MaxBodyBytes)
	want := map[string][]string{
		"request body":                  {"1 MiB", "413"},
		"`number`":                      {"1-" + strconv.Itoa(order.MaxNumberLength)},
		"`user.username`":               {"2-" + strconv.Itoa(order.MaxUsernameLength)},
		"`user.email`":                  {strconv.Itoa(order.MaxEmailLength)},
		"`lines`":                       {"1-" + comma(order.MaxLines)},
		"`lines[].id`":                  {"1-" + strconv.Itoa(order.MaxLineIDLength)},
		"`lines[].product_type`":        {"1-" + strconv.Itoa(order.MaxProductTypeLength)},
		"`lines[].course_id`":           {strconv.Itoa(order.MaxCourseKeyLength)},
		"`lines[].course_uuid`":         {"UUID"},
		"`lines[].mode`":                order.Modes,
		"`lines[].sku`":                 {"1-" + strconv.Itoa(order.MaxSKULength)},
		"`source`":                      {strconv.Itoa(order.MaxSourceLength)},
		"`refund_id`":                   {"1-" + strconv.Itoa(order.MaxRefundIDLength)},
		"`line_ids` (refunds, retries)": {comma(order.MaxLines)},
		"`page_size`":                   {"1-" + strconv.Itoa(starter.MaxPageSize)},
		"`lines_limit`":                 {"1-" + strconv.Itoa(api.MaxLinesLimit)},
		"WooCommerce `quantity`":        {"at least 1"},
		"`X-WC-Webhook-Source`":         {strconv.Itoa(order.MaxSourceLength)},
		"problem `detail`":              {comma(problem.MaxDetailBytes) + " bytes"},
		"problem `errors`":              {strconv.Itoa(problem.MaxErrors) + " entries"},
	}
	for row, parts := range want {
		got, ok := rows[row]
		require.True(t, ok, "docs/api.md's Limits table has no row %s", row)
		for _, p := range parts {
			require.Contains(t, got, p, "row %s", row)
		}
	}
	delete(rows, "value")
	delete(rows, "---")
	require.Len(t, rows, len(want), "a row of the Limits table is not checked here")

	// Every status the API answers with is documented.
	for _, code := range []string{"`400`", "`401`", "`403`", "`404`", "`405`", "`409`", "`413`", "`415`", "`422`", "`503`"} {
		require.Contains(t, string(doc), code)
	}
	require.Contains(t, string(doc), "`Allow`")
}
