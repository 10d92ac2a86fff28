package contract_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCallersLinkOnlyTheContract keeps the API, the starter, the WooCommerce
// receiver and the contract itself free of the workflow, activity, module
// and LMS code (and its OAuth2 client): they agree with the workflows
// through this package alone.
func TestCallersLinkOnlyTheContract(t *testing.T) {
	const mod = "github.com/coursefulfill/fulfillment/"
	out, err := exec.Command("go", "list", "-deps", mod+"api", mod+"starter", mod+"woocommerce", mod+"contract").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, mod+"contract", "the check must see the packages it guards")
	forbidden := []string{mod + "workflows", mod + "activities", mod + "modules", mod + "lms", "golang.org/x/oauth2"}
	for _, d := range deps {
		for _, f := range forbidden {
			require.False(t, d == f || strings.HasPrefix(d, f+"/"), "%s is linked by the API, starter or receiver", d)
		}
	}
}
