package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/lms"
	"github.com/coursefulfill/fulfillment/order"
)

// What the Temporal Web UI shows of an order besides its history: the
// workflow's current details (a short markdown report of the lines that are
// not done, with what to do next), a summary on every line's activity and on
// the timers, and descriptions of the query, updates and signals an
// operator can send. None of it holds personal data (no learner username
// or email): the UI shows it to anyone who can read the namespace.
//
// None of it changes what replay compares: the SDK matches a command to its
// event by kind and ID (activity ID and type, timer ID, ...), never by the
// user metadata (summaries) it carries, and the current details are no
// command at all (the UI reads them with the __temporal_workflow_metadata
// query). Histories recorded before summaries existed replay unchanged
// (TestReplayRecordedHistories).

// maxDetailRows bounds the rows of the current details' table: a large
// order lists the first lines that need attention and says how many more.
const maxDetailRows = 25

// maxDetailMessage bounds a line's message in the table.
const maxDetailMessage = 160

// Descriptions of the order workflow's interactions, as the Web UI lists
// them in its Query, Send an Update and Send a Signal dialogs.
const (
	descStatus = "The order's status document: every line's state, result, attempts and last error; refunds; " +
		"signals the order ignored. No input."
	descRetryUpdate = "Retry the order's failed lines once their cause is fixed (failed fulfillments run again, " +
		"failed revokes are revoked again). Input `{}` retries every failed line; `{\"line_ids\":[\"1\"]}` only " +
		"those lines. A request the order cannot honour is answered here with the reason."
	descRefundUpdate = "Refund lines and revoke what they granted in the LMS. Input " +
		"`{\"refund_id\":\"R-1\",\"line_ids\":[\"1\"]}` (no line_ids: every line not refunded yet). The refund id " +
		"makes it idempotent. A request the order cannot honour is answered here with the reason."
	descRetrySignal = "For scripts; operators: use Send an Update `retry`, which answers. Same input " +
		"(`{}` or `{\"line_ids\":[\"1\"]}`); a signal the order cannot act on is listed under ignored_requests " +
		"in the `status` query and in the order's current details."
	descRefundSignal = "For scripts; operators: use Send an Update `refund`, which answers. Same input " +
		"(`{\"refund_id\":\"R-1\",\"line_ids\":[\"1\"]}`); a signal the order cannot act on is listed under " +
		"ignored_requests in the `status` query and in the order's current details."
	descLineOutcomes = "INTERNAL, do not send: the order's batch workflows report their lines' outcomes on it."
	descCancelLines  = "INTERNAL, do not send: the order stops refunded lines of this batch with it."
	descBatchStatus  = "INTERNAL: the lines of this batch are shown in the order's `status` query."
)

// nextStep says what an operator does about a line in its state.
func nextStep(l contract.LineStatus) string {
	switch l.State {
	case contract.LinePending, contract.LineFulfilling:
		return "nothing: in progress"
	case contract.LineRetrying:
		return "nothing: retried automatically within the retry horizon; if it lasts, check that the LMS is up"
	case contract.LineAwaitingAccount:
		return "nothing: checked again automatically; Send an Update `retry` to check now once the learner registered"
	case contract.LineRevoking:
		return "nothing: the refund's revoke is running"
	case contract.LineRevokeFailed:
		return "fix the cause, then Send an Update `retry` (the revoke runs again)"
	case contract.LineFailed:
		if l.RefundID != "" {
			return "nothing: being refunded"
		}
	default:
		return ""
	}
	fix := "fix the cause named in the message"
	if l.Result != nil {
		switch string(l.Result.ErrorType) {
		case lms.TypeCourseNotFound:
			fix = "create the course run in the LMS (or correct the product's course)"
		case lms.TypeModeUnavailable:
			fix = "offer the mode in the course run"
		case lms.TypeEnrollmentClosed:
			fix = "reopen the course run's enrollment"
		case lms.TypeCourseFull:
			fix = "raise the course run's seat limit"
		case lms.TypeUserNotFound, string(contract.ErrorTypeAccountNeverCreated):
			fix = "make sure the learner has an LMS account"
		case lms.TypeForbidden, lms.TypeNotPrivileged, lms.TypeAuthenticationFailed:
			fix = "fix the worker's LMS credentials or permissions (docs/lms.md)"
		case lms.TypeEmbargoed:
			return "refund: the course is embargoed for the learner"
		case string(contract.ErrorTypeModuleNotConfigured):
			fix = "map the product type to a module on the workers (docs/modules.md)"
		case string(contract.ErrorTypeRetryHorizonExceeded), string(contract.ErrorTypeAttemptTimedOut),
			string(contract.ErrorTypeBatchFailed), lms.TypeServerError, lms.TypeTimeout, lms.TypeConnectionRefused,
			lms.TypeConnectionError, lms.TypeThrottled:
			fix = "make sure the LMS is up and reachable"
		case string(contract.ErrorTypeLineCanceled):
			fix = "decide whether the line should still be fulfilled"
		}
	}
	return fix + ", then Send an Update `retry`; or refund the line"
}

// settled reports whether a line needs nothing more: it is not listed in
// the current details.
func settled(s contract.LineState) bool {
	return s == contract.LineFulfilled || s == contract.LineRevoked || s == contract.LineRefundedUnfulfilled
}

// cell makes s fit one cell of a markdown table on one line.
func cell(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit-1]) + "…"
	}
	if s == "" {
		return "–"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}

// currentDetails is the markdown the Web UI shows as the order's current
// details: the order's state in a sentence, then one row per line that is
// not settled (its state, why: error type and message, what to do next),
// then the
// signals the order ignored lately.
func (w *orderRun) currentDetails() string {
	var b strings.Builder
	state := w.state()
	open, needs := 0, 0
	for _, l := range w.lines {
		if !settled(l.State) {
			open++
		}
		// A failed line being refunded needs no one: its refund decides it.
		if w.lineNeedsOperator(l) && (l.RefundID == "" || l.State == contract.LineRevokeFailed) {
			needs++
		}
	}
	b.WriteString(fmt.Sprintf("**%s** · %d line(s)", state, len(w.lines)))
	switch {
	case needs > 0:
		b.WriteString(fmt.Sprintf(" · **%d need a person**: fix the cause, then **Send an Update** `retry` with `{}`.", needs))
	case open > 0:
		b.WriteString(fmt.Sprintf(" · %d in progress, nothing to do.", open))
	default:
		b.WriteString(" · nothing to do.")
	}
	if !w.late && !w.deadline.IsZero() {
		b.WriteString(fmt.Sprintf(" Refund window ends %s.", w.deadline.UTC().Format("2006-01-02 15:04 UTC")))
	}
	b.WriteString("\n")
	if open > 0 {
		b.WriteString("\n| line | state | why | what to do next |\n| --- | --- | --- | --- |\n")
		rows := 0
		for _, l := range w.lines {
			if settled(l.State) {
				continue
			}
			if rows == maxDetailRows {
				b.WriteString(fmt.Sprintf("\n… and %d more line(s): see the `status` query.\n", open-rows))
				break
			}
			rows++
			errType, msg := "", ""
			failure := w.lineFailure(l)
			switch {
			case failure != nil && !failure.OK() && l.State != contract.LinePending && l.State != contract.LineFulfilling:
				errType, msg = string(failure.ErrorType), failure.Message
			case l.State == contract.LineRevokeFailed:
				errType, msg = "revoke failed", l.LastError
			}
			course := l.CourseID
			if course == "" {
				course = w.orderLine(l.ID).CourseUUID
			}
			why := "–"
			if errType != "" {
				why = "**" + cell(errType, 40) + "**: " + cell(msg, maxDetailMessage)
			}
			b.WriteString(fmt.Sprintf("| %s · %s · %s | %s | %s | %s |\n", cell(l.ID, 40), cell(l.ProductType, 20), cell(course, 80),
				l.State, why, nextStep(l)))
		}
	}
	if n := len(w.ignored); n > 0 {
		b.WriteString("\n**Signals not acted on** (latest first; Send an Update instead, it answers at once):\n\n")
		for i := n - 1; i >= 0 && i >= n-3; i-- {
			r := w.ignored[i]
			b.WriteString(fmt.Sprintf("- %s `%s`: %s\n", r.At.UTC().Format(time.DateTime), r.Signal, cell(r.Reason, maxDetailMessage)))
		}
	}
	return b.String()
}

// showDetails sets the order's current details for the Web UI.
func (w *orderRun) showDetails(ctx workflow.Context) {
	workflow.SetCurrentDetails(ctx, w.currentDetails())
}

// lineSummary is the one-line summary of one round of one action on one
// line, as the Web UI shows it on the activity: its line, product, course
// and mode (never the learner).
func lineSummary(action contract.Action, l order.Line, round int) string {
	course := l.CourseID
	if course == "" {
		course = l.CourseUUID
	}
	var what string
	switch action {
	case contract.ActionObserve:
		what = "read the learner's state in " + course + " before writing"
	case contract.ActionRevoke:
		what = "revoke what was granted in " + course
	default:
		switch l.ProductType {
		case order.ProductSeat:
			what = "enroll in " + course + " as " + l.Mode
		case order.ProductUpgrade:
			what = "upgrade in " + course + " to " + l.Mode
		case order.ProductEntitlement:
			what = "grant an entitlement to " + course + " as " + l.Mode
		case order.ProductDonation:
			what = "record a donation (nothing in the LMS)"
		default:
			what = "fulfill " + course
		}
	}
	s := fmt.Sprintf("line %s · %s · %s", l.ID, l.ProductType, what)
	if round > 1 {
		s += " (retries)"
	}
	return cell(s, 200)
}

// windowSummary is the summary of the refund-window timer.
func (w *orderRun) windowSummary() string {
	if w.late {
		return "refunds after close are taken until " + w.deadline.UTC().Format("2006-01-02 15:04 UTC")
	}
	return "refund window: the order takes refunds until " + w.deadline.UTC().Format("2006-01-02 15:04 UTC") +
		" (it stays open past it while a line needs a person)"
}
