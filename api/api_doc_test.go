package api_test

import (
	"os"
	"regexp"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/api/problem"
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
		problem.TypeNotConfigured, problem.TypeBadSignature,
	} {
		require.Contains(t, string(doc), "`"+typ+"`")
	}
}
