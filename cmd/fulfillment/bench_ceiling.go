package main

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/worker"
)

// The ceiling: a bare workflow of the same shape as an order, on the same
// embedded server and with the same worker settings, whose activities only
// sleep as long as a line's LMS calls take. What Temporal itself can do on
// this machine; our order path is measured against it.

// ceilingTaskQueue is the task queue of the ceiling's worker.
const ceilingTaskQueue = "bench-ceiling"

// Names the ceiling registers.
const (
	ceilingWorkflowName = "BenchCeilingWorkflow"
	ceilingBatchName    = "BenchCeilingBatchWorkflow"
	ceilingActivityName = "BenchCeilingLine"
	// ceilingWaitUpdate answers once the ceiling order is done: the bench
	// waits for it as ours waits for the wait-settled update.
	ceilingWaitUpdate = "wait-done"
)

// ceilingInput is one ceiling order: lines activities sleeping lineTime
// each, at most parallel at a time, in children of batch lines when there
// are more (as a large order's batches share its cap).
type ceilingInput struct {
	Lines    int           `json:"lines"`
	LineTime time.Duration `json:"line_time"`
	Parallel int           `json:"parallel"`
	Batch    int           `json:"batch"`
}

// ceilingWorkflow runs one ceiling order; its wait-done update answers
// once the lines are done.
func ceilingWorkflow(ctx workflow.Context, in ceilingInput) error {
	done := false
	if err := workflow.SetUpdateHandler(ctx, ceilingWaitUpdate, func(ctx workflow.Context) error {
		return workflow.Await(ctx, func() bool { return done })
	}); err != nil {
		return err
	}
	err := ceilingOrder(ctx, in)
	done = true
	if werr := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); werr != nil {
		return werr
	}
	return err
}

// ceilingOrder runs the lines, in batch children when there are more
// than a batch.
func ceilingOrder(ctx workflow.Context, in ceilingInput) error {
	if in.Lines <= in.Batch {
		return ceilingLines(ctx, in)
	}
	chunks := (in.Lines + in.Batch - 1) / in.Batch
	running := min(chunks, in.Parallel)
	child := in
	child.Parallel = max(1, in.Parallel/running)
	return runBounded(ctx, chunks, running, func(k int) workflow.Future {
		c := child
		c.Lines = min(in.Batch, in.Lines-k*in.Batch)
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: fmt.Sprintf("%s~batch-%d", workflow.GetInfo(ctx).WorkflowExecution.ID, k)})
		return workflow.ExecuteChildWorkflow(cctx, ceilingBatchName, c)
	})
}

// ceilingLines runs in.Lines activities, in.Parallel at a time.
func ceilingLines(ctx workflow.Context, in ceilingInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3}})
	return runBounded(ctx, in.Lines, max(1, in.Parallel), func(int) workflow.Future {
		return workflow.ExecuteActivity(ctx, ceilingActivityName, in.LineTime)
	})
}

// runBounded starts n futures, at most parallel unfinished at a time, and
// returns the first error among them once all have ended.
func runBounded(ctx workflow.Context, n, parallel int, start func(k int) workflow.Future) error {
	sem := workflow.NewSemaphore(ctx, int64(parallel))
	futures := make([]workflow.Future, 0, n)
	for k := range n {
		if err := sem.Acquire(ctx, 1); err != nil {
			return err
		}
		f := start(k)
		futures = append(futures, f)
		workflow.Go(ctx, func(ctx workflow.Context) {
			_ = f.Get(ctx, nil)
			sem.Release(1)
		})
	}
	for _, f := range futures {
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// ceilingLine is a line's LMS time and nothing else.
func ceilingLine(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startCeilingWorker starts the ceiling's worker on c with the fulfillment
// worker's settings.
func startCeilingWorker(c client.Client, opts worker.Options) (sdkworker.Worker, error) {
	w := sdkworker.New(c, ceilingTaskQueue, worker.SDKOptions(opts))
	w.RegisterWorkflowWithOptions(ceilingWorkflow, workflow.RegisterOptions{Name: ceilingWorkflowName})
	w.RegisterWorkflowWithOptions(ceilingLines, workflow.RegisterOptions{Name: ceilingBatchName})
	w.RegisterActivityWithOptions(ceilingLine, activity.RegisterOptions{Name: ceilingActivityName})
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start the ceiling's worker: %w", err)
	}
	return w, nil
}

// runCeiling runs one ceiling order to its end: started, then waited for
// with its wait-done update, as ours is with wait-settled (a client's wait
// on the workflow's result long-polls its history, which now and then
// answered only at the poll's 20 s expiry); should the update not answer
// (the run ended first), its result.
func runCeiling(ctx context.Context, c client.Client, id string, in ceilingInput) error {
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: ceilingTaskQueue}, ceilingWorkflowName, in)
	if err != nil {
		return fmt.Errorf("start ceiling %s: %w", id, err)
	}
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, RunID: run.GetRunID(),
		UpdateName: ceilingWaitUpdate, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		if err = h.Get(ctx, nil); err == nil {
			return nil
		}
	}
	if err := run.Get(ctx, nil); err != nil {
		return fmt.Errorf("ceiling %s: %w", id, err)
	}
	return nil
}
