package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/activities"
	"github.com/coursefulfill/fulfillment/contract"
)

// registerReconcile registers the drift sweep's activities when rec is set.
func registerReconcile(ar interface {
	RegisterActivityWithOptions(a interface{}, options activity.RegisterOptions)
}, rec *activities.Reconciler) {
	if rec == nil {
		return
	}
	ar.RegisterActivityWithOptions(rec.ReconcileListOrders, activity.RegisterOptions{Name: contract.ActivityReconcileListOrders})
	ar.RegisterActivityWithOptions(rec.ReconcileReadOrder, activity.RegisterOptions{Name: contract.ActivityReconcileReadOrder})
}

// DefaultReconcileEvery is how often the drift sweep runs by default.
const DefaultReconcileEvery = 24 * time.Hour

// ReconcileSchedule configures the Temporal Schedule that runs the drift
// sweep. The zero value runs it daily.
type ReconcileSchedule struct {
	// Disabled creates no schedule (an existing one is left as it is).
	Disabled bool
	// Every is the interval between sweeps (default DefaultReconcileEvery);
	// ignored when Cron is set.
	Every time.Duration
	// Cron is a cron expression ("0 3 * * *"), in UTC.
	Cron string
}

// EnsureReconcileSchedule creates the drift sweep's schedule
// (contract.ReconcileScheduleID) unless it exists: it is safe to call on
// every start. An existing schedule keeps its spec (an operator may have
// changed or paused it in the Web UI).
func EnsureReconcileSchedule(ctx context.Context, c client.Client, cfg ReconcileSchedule, log *zap.Logger) error {
	if cfg.Disabled {
		return nil
	}
	if log == nil {
		log = zap.NewNop()
	}
	spec := client.ScheduleSpec{}
	switch {
	case cfg.Cron != "":
		spec.CronExpressions = []string{cfg.Cron}
	case cfg.Every > 0:
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: cfg.Every}}
	default:
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: DefaultReconcileEvery}}
	}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:   contract.ReconcileScheduleID,
		Spec: spec,
		Action: &client.ScheduleWorkflowAction{
			ID:        contract.ReconcileScheduleID,
			Workflow:  contract.WorkflowReconcile,
			Args:      []any{contract.ReconcileInput{}},
			TaskQueue: contract.TaskQueue,
		},
		// One sweep at a time: the default overlap policy skips a sweep
		// due while the previous one still runs.
		Note: "fulfillment drift sweep: orders against the LMS (docs/operations.md)",
	})
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create the drift sweep's schedule: %w", err)
	}
	log.Info("created the drift sweep's schedule", zap.String("schedule", contract.ReconcileScheduleID))
	return nil
}

// TriggerReconcile runs the drift sweep's schedule now and returns the
// workflow ID of the sweep that runs: the one it started, or, when a sweep
// was already running (the schedule does not overlap them), that one.
func TriggerReconcile(ctx context.Context, c client.Client) (string, error) {
	h := c.ScheduleClient().GetHandle(ctx, contract.ReconcileScheduleID)
	before, err := h.Describe(ctx)
	if err != nil {
		return "", fmt.Errorf("describe the drift sweep's schedule %s: %w", contract.ReconcileScheduleID, err)
	}
	if err := h.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		return "", fmt.Errorf("trigger the drift sweep: %w", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := h.Describe(ctx)
		if err != nil {
			return "", fmt.Errorf("describe the drift sweep's schedule: %w", err)
		}
		if d.Info.NumActions > before.Info.NumActions && len(d.Info.RecentActions) > 0 {
			if r := d.Info.RecentActions[len(d.Info.RecentActions)-1].StartWorkflowResult; r != nil {
				return r.WorkflowID, nil
			}
		}
		if d.Info.NumActionsSkippedOverlap > before.Info.NumActionsSkippedOverlap && len(d.Info.RunningWorkflows) > 0 {
			return d.Info.RunningWorkflows[0].WorkflowID, nil
		}
		if time.Now().After(deadline) {
			return "", errors.New("the drift sweep's schedule did not start a sweep within a minute (is it paused?)")
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
