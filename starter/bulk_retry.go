package starter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"golang.org/x/time/rate"

	"github.com/coursefulfill/fulfillment/contract"
)

// Bounds of a bulk retry.
const (
	// DefaultBulkRetryRate is how many orders a second a bulk retry retries
	// unless asked otherwise: each retry runs the orders' failed lines
	// against the LMS at once.
	DefaultBulkRetryRate = 5
	// MaxBulkRetryRate caps BulkRetryRequest.PerSecond.
	MaxBulkRetryRate = 50
	// MaxBulkRetryOrders is the most orders one bulk retry retries; the
	// result says when more matched (run it again).
	MaxBulkRetryOrders = 10000
	// maxBulkQuery bounds the length of a bulk retry's query.
	maxBulkQuery = 2000
	// maxBulkFailures bounds the failures a result lists.
	maxBulkFailures = 50
)

// BulkRetryRequest selects the orders a bulk retry retries: running orders
// with a line waiting for an operator, among them those with a failed line
// on CourseID and those Query (a Temporal visibility query, as in the Web
// UI's search) matches. At least one of the two is required.
type BulkRetryRequest struct {
	Query    string `json:"query,omitempty"`
	CourseID string `json:"course_id,omitempty"`
	// PerSecond caps the orders retried a second (default
	// DefaultBulkRetryRate, at most MaxBulkRetryRate).
	PerSecond float64 `json:"per_second,omitempty"`
}

// BulkRetryResult counts what a bulk retry did.
type BulkRetryResult struct {
	// Query is the visibility query the orders were listed with.
	Query string `json:"query"`
	// Matched orders were listed; Retried accepted the retry; Failed
	// refused it or could not be reached (Failures says why, for the first
	// of them).
	Matched  int                `json:"matched"`
	Retried  int                `json:"retried"`
	Failed   int                `json:"failed"`
	Failures []BulkRetryFailure `json:"failures,omitempty"`
	// Truncated is set when more than MaxBulkRetryOrders matched: run the
	// retry again for the rest.
	Truncated bool `json:"truncated,omitempty"`
	// Interrupted is set when the run's deadline (or the caller leaving)
	// ended it before every matched order was tried: Matched-Retried-Failed
	// were not tried, save perhaps the one in flight at that moment, whose
	// retry the server may have accepted.
	Interrupted bool `json:"interrupted,omitempty"`
}

// BulkRetryFailure is one order a bulk retry could not retry.
type BulkRetryFailure struct {
	OrderNumber string `json:"order_number"`
	Error       string `json:"error"`
}

// BulkRetryQuery is the visibility query a bulk retry lists orders with, or
// an ErrInvalidRequest error.
func BulkRetryQuery(req BulkRetryRequest) (string, error) {
	query, course := strings.TrimSpace(req.Query), strings.TrimSpace(req.CourseID)
	if query == "" && course == "" {
		return "", wrap(ErrInvalidRequest, "bulk retry", errors.New("name the orders: course_id, query or both"))
	}
	q := fmt.Sprintf("WorkflowType IN ('%s', '%s') AND ExecutionStatus = 'Running' AND %s > 0",
		contract.WorkflowOrder, contract.WorkflowLateRefunds, contract.SearchAttrFailedLines)
	if course != "" {
		if len(course) > 255 || strings.ContainsFunc(course, func(r rune) bool {
			return r == '\'' || r == '"' || r == '\\' || r == '`' || unicode.IsSpace(r) || unicode.IsControl(r)
		}) {
			return "", wrap(ErrInvalidRequest, "bulk retry", errors.New("course_id must be a course key or UUID (no quotes, backslashes or spaces)"))
		}
		q += fmt.Sprintf(" AND %s = '%s'", contract.SearchAttrFailedCourseIDs, course)
	}
	if query != "" {
		if len(query) > maxBulkQuery {
			return "", wrap(ErrInvalidRequest, "bulk retry", fmt.Errorf("query must be at most %d characters", maxBulkQuery))
		}
		if !balanced(query) {
			return "", wrap(ErrInvalidRequest, "bulk retry", errors.New("query has unbalanced parentheses or quotes, or /, *, - or # outside a quoted string"))
		}
		q += " AND (" + query + ")"
	}
	return q, nil
}

// balanced reports whether the query's parentheses pair up outside its
// quoted strings and it has no comment markers there, so it cannot escape
// the parentheses it is put in.
func balanced(q string) bool {
	depth := 0
	var quote rune
	escaped := false
	for _, r := range q {
		switch {
		case escaped:
			escaped = false
		case quote != 0 && r == '\\':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"' || r == '`':
			quote = r
		case r == '/' || r == '*' || r == '-' || r == '#':
			// Comment markers (/* */, --, #) outside strings could hide a
			// parenthesis from this count but not from the server's
			// parser.
			return false
		case r == '(':
			depth++
		case r == ')':
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return depth == 0 && quote == 0
}

// BulkRetry retries every running order the request selects (see
// BulkRetryRequest), at most PerSecond a second: the same retry as Retry
// with no line ids, so each order runs all its failed lines again (a line
// whose cause is not fixed fails again, as before). It lists the orders
// first, then retries them; an order that refuses (nothing failed any
// more, say) counts as failed with the reason.
func (s *Starter) BulkRetry(ctx context.Context, req BulkRetryRequest) (BulkRetryResult, error) {
	q, err := BulkRetryQuery(req)
	if err != nil {
		return BulkRetryResult{}, err
	}
	perSecond := req.PerSecond
	switch {
	case perSecond < 0 || perSecond > MaxBulkRetryRate:
		return BulkRetryResult{}, wrap(ErrInvalidRequest, "bulk retry", fmt.Errorf("per_second must be between 0 and %d", MaxBulkRetryRate))
	case perSecond == 0:
		perSecond = DefaultBulkRetryRate
	}
	res := BulkRetryResult{Query: q}
	numbers, truncated, err := s.listNumbers(ctx, q)
	if err != nil {
		return BulkRetryResult{}, err
	}
	res.Matched, res.Truncated = len(numbers), truncated
	limiter := rate.NewLimiter(rate.Limit(perSecond), 1)
	for _, number := range numbers {
		if err := limiter.Wait(ctx); err != nil {
			res.Interrupted = true
			break
		}
		if _, err := s.Retry(ctx, number, contract.RetryRequest{}); err != nil {
			if ctx.Err() != nil {
				res.Interrupted = true
				break
			}
			res.Failed++
			if len(res.Failures) < maxBulkFailures {
				res.Failures = append(res.Failures, BulkRetryFailure{OrderNumber: number, Error: Detail(err)})
			}
			continue
		}
		res.Retried++
	}
	return res, nil
}

// listNumbers lists the order numbers of the executions q matches, each
// once, at most MaxBulkRetryOrders of them.
func (s *Starter) listNumbers(ctx context.Context, q string) ([]string, bool, error) {
	var numbers []string
	seen := map[string]bool{}
	var token []byte
	for {
		resp, err := s.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q, PageSize: MaxPageSize, NextPageToken: token})
		if err != nil {
			var invalid *serviceerror.InvalidArgument
			if errors.As(err, &invalid) {
				return nil, false, wrap(ErrInvalidRequest, "bulk retry", fmt.Errorf("the query is not a valid visibility query: %s", invalid.Message))
			}
			return nil, false, classify(err, "list orders to retry")
		}
		for _, ex := range resp.GetExecutions() {
			// The order's workflow, or its late-refunds workflow ("~late-refunds").
			id, ok := contract.OrderNumberOf(ex.GetExecution().GetWorkflowId())
			number, _, _ := strings.Cut(id, "~")
			if !ok || number == "" || seen[number] {
				continue
			}
			if len(numbers) == MaxBulkRetryOrders {
				return numbers, true, nil
			}
			seen[number] = true
			numbers = append(numbers, number)
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return numbers, false, nil
		}
	}
}
