package devserver_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/devserver"
	"github.com/coursefulfill/fulfillment/worker"
)

func TestServerKeepsDataAcrossRestartAndRaisesRetention(t *testing.T) {
	dir := t.TempDir()
	port, err := devserver.FreePort("127.0.0.1")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	start := func() (*devserver.Server, client.Client) {
		srv, err := devserver.Start(devserver.Options{DataDir: dir, FrontendPort: port})
		require.NoError(t, err)
		c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace()})
		require.NoError(t, err)
		require.NoError(t, worker.PrepareNamespace(ctx, c, srv.Namespace(), devserver.DefaultRetention, zap.NewNop()))
		return srv, c
	}
	srv, c := start()
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
	require.NoError(t, err)
	require.GreaterOrEqual(t, desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(), 30*24*time.Hour)
	// Start a workflow nobody executes; it must still exist after a restart.
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "order-restart-1", TaskQueue: "nobody"}, "OrderWorkflow")
	require.NoError(t, err)
	c.Close()
	srv.Stop()
	require.FileExists(t, filepath.Join(dir, "temporal.db"))

	srv, c = start()
	defer srv.Stop()
	defer c.Close()
	d, err := c.DescribeWorkflowExecution(ctx, "order-restart-1", "")
	require.NoError(t, err)
	require.Equal(t, "OrderWorkflow", d.GetWorkflowExecutionInfo().GetType().GetName())
	attrs, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	require.NoError(t, err)
	for name, typ := range worker.SearchAttributes() {
		require.Equal(t, typ, attrs.GetCustomAttributes()[name], name)
	}
}

func TestBusyPortIsReportedNotPanicked(t *testing.T) {
	port, err := devserver.FreePort("127.0.0.1")
	require.NoError(t, err)
	srv, err := devserver.Start(devserver.Options{FrontendPort: port})
	require.NoError(t, err)
	defer srv.Stop()
	_, err = devserver.Start(devserver.Options{FrontendPort: port})
	var pe *devserver.PortInUseError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, port, pe.Port)
}

// Ports handed out for the server's services are drawn below the kernel's
// ephemeral range, where outgoing connections cannot take them between the
// pick and the bind.
func TestFreePortAvoidsEphemeralRange(t *testing.T) {
	for range 20 {
		port, err := devserver.FreePort("127.0.0.1")
		require.NoError(t, err)
		require.GreaterOrEqual(t, port, 20000)
		require.Less(t, port, 32768)
	}
}
