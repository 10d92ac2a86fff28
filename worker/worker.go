// Package worker runs the fulfillment worker: it registers the workflows and
// line activities on the fulfillment task queue, and prepares the namespace
// (search attributes, retention) the same way against an embedded dev server
// and a production cluster.
package worker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/coursefulfill/fulfillment/activities"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/metrics"
	"github.com/coursefulfill/fulfillment/workflows"
)

// SearchAttributes returns the custom search attributes fulfillment needs.
// None holds personal data: search attributes are never encrypted.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		contract.SearchAttrOrderNumber: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		contract.SearchAttrOrderStatus: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		contract.SearchAttrCourseIDs:   enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
		contract.SearchAttrFailedLines: enumspb.INDEXED_VALUE_TYPE_INT,
		// Keyword lists of the lines that need a person, so a fix can be
		// followed by a retry of every order it concerns.
		contract.SearchAttrFailedCourseIDs: enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
		contract.SearchAttrErrorTypes:      enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
		// The drift sweep's outcome.
		contract.SearchAttrReconcileStatus: enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		contract.SearchAttrDriftCount:      enumspb.INDEXED_VALUE_TYPE_INT,
	}
}

// Options configures a worker.
type Options struct {
	// MaxConcurrentActivities caps line activities running at once on this
	// worker (0 = SDK default).
	MaxConcurrentActivities int
	// MaxConcurrentWorkflowTasks caps workflow tasks at once (0 = default).
	MaxConcurrentWorkflowTasks int
	// Metrics counts the line activities' outcomes; nil counts nothing.
	Metrics *metrics.Worker
	// ReconcileRate is how many lines a second the drift sweep reads from
	// the LMS (0 = activities.DefaultReconcileRate).
	ReconcileRate float64
}

// New returns a worker for the fulfillment task queue with every workflow and
// the line activities registered. Start it with Run or Start.
func New(c client.Client, acts *activities.Activities, opts Options) sdkworker.Worker {
	w := sdkworker.New(c, contract.TaskQueue, SDKOptions(opts))
	Register(w, acts)
	return w
}

// SDKOptions are the Temporal worker options the fulfillment worker runs
// with (the benchmark's ceiling worker runs with the same).
func SDKOptions(opts Options) sdkworker.Options {
	var interceptors []interceptor.WorkerInterceptor
	if opts.Metrics != nil {
		interceptors = append(interceptors, &metricsInterceptor{m: opts.Metrics})
	}
	return sdkworker.Options{
		Interceptors:                           interceptors,
		MaxConcurrentActivityExecutionSize:     opts.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: opts.MaxConcurrentWorkflowTasks,
		// A large order keeps many batches and their lines busy at once:
		// more pollers than the SDK's two keep the worker fed.
		MaxConcurrentWorkflowTaskPollers: pollers,
		MaxConcurrentActivityTaskPollers: pollers,
	}
}

// pollers is how many long polls each task type keeps open.
const pollers = 8

// Register registers the fulfillment workflows and, when acts is not nil,
// the line activities.
func Register(r interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
}, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.OrderWorkflow, workflow.RegisterOptions{Name: contract.WorkflowOrder})
	r.RegisterWorkflowWithOptions(workflows.LateRefundsWorkflow, workflow.RegisterOptions{Name: contract.WorkflowLateRefunds})
	r.RegisterWorkflowWithOptions(workflows.RevokeWorkflow, workflow.RegisterOptions{Name: contract.WorkflowRevoke})
	r.RegisterWorkflowWithOptions(workflows.LinesWorkflow, workflow.RegisterOptions{Name: contract.WorkflowLines})
	r.RegisterWorkflowWithOptions(workflows.RefundedMarkerWorkflow, workflow.RegisterOptions{Name: contract.WorkflowRefundedMarker})
	r.RegisterWorkflowWithOptions(workflows.ReconcileWorkflow, workflow.RegisterOptions{Name: contract.WorkflowReconcile})
	type activityRegistry interface {
		RegisterActivityWithOptions(a interface{}, options activity.RegisterOptions)
	}
	if ar, ok := r.(activityRegistry); ok && acts != nil {
		ar.RegisterActivityWithOptions(acts.FulfillLine, activity.RegisterOptions{Name: contract.ActivityFulfillLine})
		ar.RegisterActivityWithOptions(acts.RevokeLine, activity.RegisterOptions{Name: contract.ActivityRevokeLine})
		ar.RegisterActivityWithOptions(acts.ObserveLine, activity.RegisterOptions{Name: contract.ActivityObserveLine})
		registerReconcile(ar, acts.Reconciler)
	}
}

// awaitSearchAttributes waits until the frontend accepts queries on the new
// search attributes: it learns of them on its next namespace cache refresh,
// and until then starting an order that sets them fails.
func awaitSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	// One clause per attribute, every one SearchAttributes lists.
	var clauses []string
	for name, typ := range SearchAttributes() {
		value := `"probe"`
		if typ == enumspb.INDEXED_VALUE_TYPE_INT {
			value = "0"
		}
		clauses = append(clauses, name+" = "+value)
	}
	slices.Sort(clauses)
	query := strings.Join(clauses, " AND ")
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := c.WorkflowService().CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace, Query: query})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("search attributes registered but not usable after a minute: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// PrepareNamespace registers the custom search attributes that are missing
// and raises the namespace's retention to at least retention. It is safe to
// run on every start, against any cluster.
func PrepareNamespace(ctx context.Context, c client.Client, namespace string, retention time.Duration, log *zap.Logger) error {
	existing, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range SearchAttributes() {
		have, ok := existing.GetCustomAttributes()[name]
		switch {
		case !ok:
			missing[name] = typ
		case have != typ:
			return fmt.Errorf("search attribute %s exists with type %s, fulfillment needs %s", name, have, typ)
		}
	}
	if len(missing) > 0 {
		if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: namespace, SearchAttributes: missing,
		}); err != nil {
			return fmt.Errorf("add search attributes: %w", err)
		}
		log.Info("registered search attributes", zap.Int("count", len(missing)))
		if err := awaitSearchAttributes(ctx, c, namespace); err != nil {
			return err
		}
	}
	if retention <= 0 {
		return nil
	}
	desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("describe namespace: %w", err)
	}
	if desc.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration() >= retention {
		return nil
	}
	cfg := desc.GetConfig()
	cfg.WorkflowExecutionRetentionTtl = durationpb.New(retention)
	if _, err := c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: namespace, Config: cfg,
	}); err != nil {
		return fmt.Errorf("raise namespace retention: %w", err)
	}
	log.Info("raised namespace retention", zap.Duration("retention", retention))
	return nil
}
