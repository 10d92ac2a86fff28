package main

import (
	"fmt"
	"io"

	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/lms/sandbox"
	"github.com/coursefulfill/fulfillment/stack"
)

// workerPart is the worker's place in `dev`'s start-up message.
func workerPart(inWorker bool) string {
	if inWorker {
		return "worker, "
	}
	return ""
}

// printWorkerHint tells, for `dev --worker=false`, how to start the
// workers that do the work (against the sandbox LMS with its development
// credentials; with --lms-url the LMS_* variables are the operator's).
func printWorkerHint(out io.Writer, s *stack.Stack, realLMS bool) {
	writeWorkerHint(out, s.LMSURL, s.Server.FrontendAddress(), realLMS)
}

func writeWorkerHint(out io.Writer, lmsURL, temporalAddr string, realLMS bool) {
	if realLMS {
		fmt.Fprintf(out, "\nNo worker runs in this process (--worker=false): start workers with %s=%s, the LMS credentials\n"+
			"(LMS_*) and --temporal-address %s.\n", lms.EnvURL, lmsURL, temporalAddr)
		return
	}
	fmt.Fprintf(out, `
No worker runs in this process (--worker=false): orders wait until one polls.
Start one or more in other shells, each with its own --metrics-listen port:

  %s=%s %s=%s %s=%s \
    fulfillment worker --temporal-address %s --metrics-listen 127.0.0.1:9091
`, lms.EnvURL, lmsURL, lms.EnvClientID, sandbox.DevClientID, lms.EnvClientSecret, sandbox.DevClientSecret, temporalAddr)
}
