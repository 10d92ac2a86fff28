package contract_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
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

// TestSourceFilesStaySmall keeps every non-test Go file to one job: none
// over 450 lines.
func TestSourceFilesStaySmall(t *testing.T) {
	const limit = 450
	checked := 0
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		lines := bytes.Count(b, []byte("\n"))
		require.LessOrEqual(t, lines, limit, "%s has %d lines: split it by job", path, lines)
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, checked, 50, "the walk must see the project's files")
}
