package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/worker"
)

// reconcileFlags configure the drift sweep where a worker or `dev` runs.
type reconcileFlags struct {
	schedule worker.ReconcileSchedule
	enabled  bool
}

// register adds the drift sweep's flags; rate is the worker's read rate.
func (r *reconcileFlags) register(cmd *cobra.Command, rate *float64) {
	f := cmd.Flags()
	f.BoolVar(&r.enabled, "reconcile-schedule", envOr("FULFILLMENT_RECONCILE_SCHEDULE", "true") == "true",
		"create the drift sweep's schedule ("+contract.ReconcileScheduleID+") on start if missing, env FULFILLMENT_RECONCILE_SCHEDULE")
	f.DurationVar(&r.schedule.Every, "reconcile-every", worker.DefaultReconcileEvery, "interval of the drift sweep, for a new schedule")
	f.StringVar(&r.schedule.Cron, "reconcile-cron", envOr("FULFILLMENT_RECONCILE_CRON", ""), "cron expression (UTC) of the drift sweep, for a new schedule; overrides --reconcile-every, env FULFILLMENT_RECONCILE_CRON")
	f.Float64Var(rate, "reconcile-rate", 5, "lines a second the drift sweep reads from the LMS")
}

// config is the schedule the flags ask for.
func (r *reconcileFlags) config() worker.ReconcileSchedule {
	s := r.schedule
	s.Disabled = !r.enabled
	return s
}

func newReconcileCommand() *cobra.Command {
	var (
		temporal temporalFlags
		now      bool
		asJSON   bool
		wait     time.Duration
		logs     logFlags
	)
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Run the drift sweep (orders against the LMS) now and print what it found",
		Long: `Compare what orders granted and revoked with what the LMS holds now.

A Temporal Schedule (` + contract.ReconcileScheduleID + `, created by the worker and by dev) runs the
sweep daily; --now runs it at once, waits for it and prints its result: the
lines whose LMS access drifted from their order, and what to do about each
(docs/operations.md, "Drift between orders and the LMS").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !now {
				return fmt.Errorf("only --now is supported: the schedule %s runs the sweep otherwise", contract.ReconcileScheduleID)
			}
			logger, err := logs.logger()
			if err != nil {
				return err
			}
			conn, err := temporal.connection()
			if err != nil {
				return err
			}
			c, err := worker.DialConnection(cmd.Context(), conn, nil, logger)
			if err != nil {
				return err
			}
			defer c.Close()
			id, err := worker.TriggerReconcile(cmd.Context(), c)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "drift sweep %s running ...\n", id)
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			var res contract.ReconcileResult
			if err := c.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
				return fmt.Errorf("drift sweep %s: %w", id, err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			printReconcile(cmd.OutOrStdout(), id, res)
			if res.Status != contract.ReconcileClean {
				return &exitError{code: 3}
			}
			return nil
		},
	}
	temporal.register(cmd)
	f := cmd.Flags()
	f.BoolVar(&now, "now", false, "run the sweep now and wait for its result")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.DurationVar(&wait, "wait", time.Hour, "how long to wait for the result")
	logs.register(cmd, "warn", logConsole)
	return cmd
}

// printReconcile prints a sweep's result as a table.
func printReconcile(out io.Writer, id string, res contract.ReconcileResult) {
	fmt.Fprintf(out, "Drift sweep %s: %s — %d order(s), %d line(s) checked, %d drifted, %d unread.\n",
		id, res.Status, res.OrdersChecked, res.LinesChecked, res.DriftCount, res.LinesUnread)
	if len(res.Drift) > 0 {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "\nORDER\tLINE\tCOURSE\tEXPECTED\tFOUND")
		for _, r := range res.Drift {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.OrderNumber, r.LineID, r.Course, r.Expected, r.Found)
		}
		if err := tw.Flush(); err != nil {
			fmt.Fprintln(out, err)
		}
		if res.DriftOmitted > 0 {
			fmt.Fprintf(out, "... and %d more drifted line(s), not listed.\n", res.DriftOmitted)
		}
		fmt.Fprintln(out, "\nWhat to do:")
		for _, r := range res.Drift {
			fmt.Fprintf(out, "  %s/%s (%s): %s\n", r.OrderNumber, r.LineID, r.Kind, r.Options)
		}
	}
	for _, u := range res.Unread {
		fmt.Fprintf(out, "unread: %s\n", u)
	}
}
