// Command fulfillment is durable order fulfillment for online-course shops:
// `fulfillment dev` runs the whole product in one process; `worker` and `api`
// run its parts against a production Temporal cluster; `order` talks to the
// API; `sandbox-lms` runs the sandbox LMS alone; `bench` measures it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCommand()
	if err := root.ExecuteContext(ctx); err != nil {
		var exit *exitError
		if errors.As(err, &exit) {
			os.Exit(exit.code)
		}
		fmt.Fprintln(os.Stderr, "fulfillment:", err)
		os.Exit(1)
	}
}

// exitError ends the program with a code after the command printed its own
// message.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "fulfillment",
		Short:         "Durable order fulfillment for online-course shops, on Temporal",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newDevCommand(), newWorkerCommand(), newAPICommand(), newOrderCommand(), newSandboxLMSCommand(), newBenchCommand(),
		newConfigCommand(), newHealthCommand(), newReconcileCommand())
	return root
}
