package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/coursefulfill/fulfillment/api"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/internal/envconfig"
	"github.com/coursefulfill/fulfillment/starter"
)

// orderCLI holds the flags every order subcommand shares.
type orderCLI struct {
	apiURL string
	asJSON bool
}

func (o *orderCLI) client() (*api.Client, error) {
	token, err := envconfig.Secret(os.Getenv, api.EnvToken)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, fmt.Errorf("set %s (or %s_FILE) to the API's bearer token", api.EnvToken, api.EnvToken)
	}
	return &api.Client{BaseURL: o.apiURL, Token: token}, nil
}

// fail prints an API failure (the problem's detail and field errors) and
// returns an error that exits non-zero.
func (o *orderCLI) fail(cmd *cobra.Command, err error) error {
	p, ok := api.AsProblem(err)
	if !ok {
		return err
	}
	if o.asJSON {
		if werr := writeJSONTo(cmd.OutOrStdout(), p); werr != nil {
			return werr
		}
		return &exitError{code: 1}
	}
	errw := cmd.ErrOrStderr()
	msg := p.Title
	if p.Detail != "" {
		msg = p.Detail
	}
	fmt.Fprintf(errw, "fulfillment: %s (HTTP %d)\n", msg, p.Status)
	for _, fe := range p.Errors {
		fmt.Fprintf(errw, "  %s: %s\n", fe.Field, fe.Detail)
	}
	return &exitError{code: 1}
}

func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func newOrderCommand() *cobra.Command {
	o := &orderCLI{}
	cmd := &cobra.Command{
		Use:   "order",
		Short: "Create, inspect, refund, retry and list orders through the HTTP API",
		Long: `Talk to the fulfillment HTTP API (--api, env FULFILLMENT_API_URL) with the
bearer token in FULFILLMENT_API_TOKEN (or in the file named by
FULFILLMENT_API_TOKEN_FILE). Output is for people; --json prints the
API's JSON for scripts. Failures exit non-zero with the API's explanation.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&o.apiURL, "api", envOr("FULFILLMENT_API_URL", "http://127.0.0.1:8080"), "fulfillment API base URL")
	pf.BoolVar(&o.asJSON, "json", false, "print JSON")
	cmd.AddCommand(o.createCommand(), o.statusCommand(), o.refundCommand(), o.retryCommand(), o.listCommand())
	return cmd
}

func (o *orderCLI) createCommand() *cobra.Command {
	var (
		file string
		wait time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create -f order.json",
		Short: "Submit an order (JSON as in docs/api.md; -f - reads stdin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r io.Reader = cmd.InOrStdin()
			if file != "-" {
				f, err := os.Open(file)
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			ord, err := api.DecodeOrder(io.LimitReader(r, api.MaxBodyBytes+1))
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			res, settled, err := o.create(cmd.Context(), c, ord, wait)
			if err != nil {
				return o.fail(cmd, err)
			}
			if settled != nil {
				if o.asJSON {
					return writeJSONTo(cmd.OutOrStdout(), settled)
				}
				return printStatus(cmd.OutOrStdout(), *settled)
			}
			if o.asJSON {
				return writeJSONTo(cmd.OutOrStdout(), res)
			}
			verb := "started"
			if !res.Created {
				verb = "already submitted (same content); nothing new started"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "order %s %s\n  workflow %s (run %s)\n  status   fulfillment order status %s\n",
				res.OrderNumber, verb, res.WorkflowID, res.RunID, res.OrderNumber)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "order JSON file, - for stdin")
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long (at most 10s) for the order to settle and print its status")
	if err := cmd.MarkFlagRequired("file"); err != nil {
		panic(err) // the flag is defined just above
	}
	return cmd
}

func (o *orderCLI) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status <number>",
		Short: "Show an order's status and its lines",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context(), args[0])
			if err != nil {
				return o.fail(cmd, err)
			}
			if o.asJSON {
				return writeJSONTo(cmd.OutOrStdout(), st)
			}
			return printStatus(cmd.OutOrStdout(), st)
		},
	}
}

func (o *orderCLI) refundCommand() *cobra.Command {
	var (
		refundID string
		lines    []string
	)
	cmd := &cobra.Command{
		Use:   "refund <number> --refund-id R [--lines 1,2]",
		Short: "Refund lines of an order (every line without --lines); the refund id makes it idempotent",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			res, err := c.Refund(cmd.Context(), args[0], refundID, lines)
			if err != nil {
				return o.fail(cmd, err)
			}
			if o.asJSON {
				return writeJSONTo(cmd.OutOrStdout(), res)
			}
			if res.Duplicate {
				fmt.Fprintf(cmd.OutOrStdout(), "refund %s of order %s was already accepted; nothing new started (%s)\n", res.RefundID, args[0], res.WorkflowID)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "refund %s of order %s accepted; revoking in workflow %s\n", res.RefundID, args[0], res.WorkflowID)
			return nil
		},
	}
	cmd.Flags().StringVar(&refundID, "refund-id", "", "refund id (your refund's reference)")
	cmd.Flags().StringSliceVar(&lines, "lines", nil, "line ids to refund, comma-separated (default: every line)")
	if err := cmd.MarkFlagRequired("refund-id"); err != nil {
		panic(err) // the flag is defined just above
	}
	return cmd
}

func (o *orderCLI) retryCommand() *cobra.Command {
	var (
		lines         []string
		all           bool
		bulk          starter.BulkRetryRequest
		course, query string
	)
	cmd := &cobra.Command{
		Use:   "retry <number> [--lines 1,2] | retry --all [--course C] [--query Q]",
		Short: "Retry an order's failed lines now (every failed line without --lines), or every order a fix concerns (--all)",
		Long: `Retry an order's failed lines now: every failed line, or those of --lines.

With --all and no order number, retry every running order with a line
waiting for an operator that --course (a failed line on that course run or
course UUID) and/or --query (a Temporal visibility query, as in the Web
UI's search) select, at most --per-second orders a second, and print how
many matched, were retried and failed.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if all {
				if len(args) > 0 || len(lines) > 0 {
					return fmt.Errorf("--all retries many orders: give no order number and no --lines")
				}
				if course == "" && query == "" {
					return fmt.Errorf("--all needs --course, --query or both")
				}
				return nil
			}
			if course != "" || query != "" {
				return fmt.Errorf("--course and --query select orders for --all")
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			if all {
				bulk.CourseID, bulk.Query = course, query
				res, err := c.BulkRetry(cmd.Context(), bulk)
				if err != nil {
					return o.fail(cmd, err)
				}
				if o.asJSON {
					return writeJSONTo(cmd.OutOrStdout(), res)
				}
				printBulkRetry(cmd.OutOrStdout(), res)
				return nil
			}
			res, err := c.Retry(cmd.Context(), args[0], lines)
			if err != nil {
				return o.fail(cmd, err)
			}
			if o.asJSON {
				return writeJSONTo(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "order %s: retrying lines %s\n", args[0], strings.Join(res.LineIDs, ", "))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&lines, "lines", nil, "line ids to retry, comma-separated (default: every failed line)")
	f.BoolVar(&all, "all", false, "retry every order --course/--query select")
	f.StringVar(&course, "course", "", "with --all: orders with a failed line on this course run key (or course UUID)")
	f.StringVar(&query, "query", "", "with --all: a Temporal visibility query the orders must match too")
	f.Float64Var(&bulk.PerSecond, "per-second", starter.DefaultBulkRetryRate, "with --all: orders retried a second at most")
	return cmd
}

// printBulkRetry prints a bulk retry's counts for people.
func printBulkRetry(out io.Writer, res starter.BulkRetryResult) {
	fmt.Fprintf(out, "matched %d, retried %d, failed %d\n", res.Matched, res.Retried, res.Failed)
	for _, f := range res.Failures {
		fmt.Fprintf(out, "  order %s: %s\n", f.OrderNumber, f.Error)
	}
	if res.Failed > len(res.Failures) {
		fmt.Fprintf(out, "  (%d more failures not listed)\n", res.Failed-len(res.Failures))
	}
	if res.Truncated {
		fmt.Fprintf(out, "more orders matched than one call retries: run it again\n")
	}
	if res.Interrupted {
		fmt.Fprintf(out, "stopped before every order was tried: run it again\n")
	}
}

func (o *orderCLI) listCommand() *cobra.Command {
	var (
		status, token string
		pageSize      int
	)
	cmd := &cobra.Command{
		Use:   "list [--status fulfillment_error]",
		Short: "List orders, optionally by status (" + contract.OrderStateNames() + ")",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			page, err := c.List(cmd.Context(), status, pageSize, token)
			if err != nil {
				return o.fail(cmd, err)
			}
			if o.asJSON {
				return writeJSONTo(cmd.OutOrStdout(), page)
			}
			out := cmd.OutOrStdout()
			if len(page.Orders) == 0 {
				fmt.Fprintln(out, "no orders")
				return nil
			}
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ORDER\tSTATUS\tOPEN\tFAILED LINES\tSTARTED\tCOURSES")
			for _, s := range page.Orders {
				fmt.Fprintf(tw, "%s\t%s\t%t\t%d\t%s\t%s\n", s.OrderNumber, dash(string(s.Status)), s.Running, s.FailedLines,
					s.StartedAt.Format("2006-01-02 15:04:05"), dash(strings.Join(s.CourseIDs, " ")))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.NextPageToken != "" {
				fmt.Fprintf(out, "more: --page-token %s\n", page.NextPageToken)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&status, "status", "", "only orders with this status")
	f.IntVar(&pageSize, "page-size", 50, "orders per page (1-1000)")
	f.StringVar(&token, "page-token", "", "next page token printed by the previous call")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printStatus prints an order's status document for people.
func printStatus(out io.Writer, st api.OrderStatus) error {
	state := "open"
	if st.Closed {
		state = "closed"
	}
	fmt.Fprintf(out, "order %s: %s (%s", st.OrderNumber, st.Status, state)
	if !st.Closed && !st.RefundWindowEndsAt.IsZero() {
		fmt.Fprintf(out, ", refund window ends %s", st.RefundWindowEndsAt.Format("2006-01-02 15:04 MST"))
	}
	fmt.Fprintln(out, ")")
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LINE\tPRODUCT\tCOURSE\tMODE\tSTATE\tATTEMPTS\tLAST ERROR")
	for _, l := range st.Lines {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", l.ID, l.ProductType, dash(l.CourseID), dash(l.Mode), l.State, l.Attempts, dash(l.LastError))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.Lines) < st.LinesTotal {
		fmt.Fprintf(out, "(%d of %d lines; by state: %v)\n", len(st.Lines), st.LinesTotal, st.LineCounts)
	}
	for _, r := range st.Refunds {
		ids := make([]string, len(r.Lines))
		for i, l := range r.Lines {
			ids[i] = l.ID + "=" + string(l.State)
		}
		fmt.Fprintf(out, "refund %s: %s [%s]\n", r.RefundID, r.State, strings.Join(ids, ", "))
	}
	return nil
}
