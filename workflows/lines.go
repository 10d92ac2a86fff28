package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// LineItem is one line a LinesWorkflow acts on.
type LineItem struct {
	Line  order.Line        `json:"line"`
	Grant map[string]string `json:"grant,omitempty"`
	// Prior is the learner's state recorded before the line's first write;
	// a fulfill of a line that has one does not observe again.
	Prior map[string]string `json:"prior,omitempty"`
}

// LinesInput starts a LinesWorkflow: one batch of a large order.
type LinesInput struct {
	OrderNumber string           `json:"order_number"`
	User        order.User       `json:"user"`
	Action      contract.Action  `json:"action"`
	Items       []LineItem       `json:"items"`
	Options     contract.Options `json:"options"`
	// Run tags the outcomes the batch reports (see runSpec.run).
	Run int `json:"run,omitempty"`
	// LiveReports asks the batch to report its lines as they go.
	LiveReports bool `json:"live_reports,omitempty"`
	// Flow is the order's flow (see contract.CurrentFlow): a batch with one
	// follows it instead of reading versions with workflow.GetVersion.
	Flow int `json:"flow,omitempty"`
}

// LineOutcome is what a LinesWorkflow reports for one line.
type LineOutcome struct {
	ID       string          `json:"id"`
	Result   contract.Result `json:"result"`
	Attempts int             `json:"attempts"`
	// Prior is the learner's state the line's module observed before its
	// first write (nil when nothing was observed).
	Prior map[string]string `json:"prior,omitempty"`
	// Retrying marks a report, while the line still runs, that its first
	// attempt failed transiently (Result is that failure).
	Retrying bool `json:"retrying,omitempty"`
	// Run is the order's run of the line this outcome belongs to (0 from
	// batches of earlier versions).
	Run int `json:"run,omitempty"`
}

// Live reports of a batch to its order: at most reportMax outcomes a
// signal, at most one signal per reportEvery.
const (
	reportMax   = 200
	reportEvery = time.Second
)

// LinesWorkflow fulfills or revokes one batch of lines of a large order, so
// that no single execution holds more than a batch of activities. The
// contract.SignalCancelLines signal stops lines of the batch.
func LinesWorkflow(ctx workflow.Context, in LinesInput) ([]LineOutcome, error) {
	opts := in.Options.WithDefaults()
	if !in.Action.Valid() {
		return nil, temporal.NewNonRetryableApplicationError("unknown action "+string(in.Action), "InvalidInput", nil)
	}
	// Every line has an outcome even if the batch is cancelled before it ran.
	outcomes := make([]LineOutcome, len(in.Items))
	pos := make(map[string]int, len(in.Items))
	for i, item := range in.Items {
		pos[item.Line.ID] = i
		outcomes[i] = LineOutcome{ID: item.Line.ID, Result: contract.Result{Status: contract.StatusFailure,
			ErrorType: contract.ErrorTypeLineCanceled, Message: "the batch was cancelled before this line ran"}, Run: in.Run}
	}
	stops := map[string]func(){}
	finished, stopped := map[string]bool{}, map[string]bool{}
	parent := workflow.GetInfo(ctx).ParentWorkflowExecution
	// A batch of an order's fulfillment reports each line's first transient
	// failure and its outcome to the order as they happen, coalesced, so the
	// order's status and search attributes follow its lines live (batches
	// of runs from before live reports only hand over stopped lines).
	flowed, hasFlow := flowVersions(in.Flow)
	live := in.Action == contract.ActionFulfill && parent != nil && in.LiveReports &&
		(hasFlow && flowed.liveReports || !hasFlow && workflow.GetVersion(ctx, changeBatchLiveReports, workflow.DefaultVersion, 1) == 1)
	var queued []LineOutcome
	// report hands outcomes to the order. Best effort: the batch's result
	// carries every outcome too.
	report := func(outs []LineOutcome) {
		switch {
		case len(outs) == 0 || parent == nil:
		case live:
			queued = append(queued, outs...)
		default:
			workflow.SignalExternalWorkflow(ctx, parent.ID, "", contract.SignalLineOutcomes, outs)
		}
	}
	if live {
		workflow.Go(ctx, func(ctx workflow.Context) {
			for {
				if err := workflow.Await(ctx, func() bool { return len(queued) > 0 }); err != nil {
					return
				}
				n := min(len(queued), reportMax)
				outs := queued[:n:n]
				queued = queued[n:]
				if err := workflow.SignalExternalWorkflow(ctx, parent.ID, "", contract.SignalLineOutcomes, outs).Get(ctx, nil); err != nil {
					workflow.GetLogger(ctx).Warn("line report not delivered; the batch's result carries it", "error", err)
				}
				if err := workflow.Sleep(ctx, reportEvery); err != nil {
					return
				}
			}
		})
	}
	cancelCh := workflow.GetSignalChannelWithOptions(ctx, contract.SignalCancelLines, workflow.SignalChannelOptions{Description: descCancelLines})
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("Batch of order %s: %s %d line(s). Its lines' states are in the order's `status` query; "+
		"operators act on the order (`%s`), never on this batch.", in.OrderNumber, in.Action, len(in.Items), contract.OrderWorkflowID(in.OrderNumber)))
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			if err := workflow.Await(ctx, func() bool { return cancelCh.Len() > 0 }); err != nil {
				return
			}
			var ids []string
			if ok, _ := cancelCh.ReceiveAsyncWithMoreFlag(&ids); !ok {
				workflow.GetLogger(ctx).Warn("ignored malformed cancel-lines signal")
				continue
			}
			var done []LineOutcome
			for _, id := range ids {
				i, known := pos[id]
				switch {
				case !known:
				case finished[id]:
					done = append(done, outcomes[i])
				case stops[id] != nil:
					stopped[id] = true
					stops[id]()
				}
			}
			report(done)
		}
	})
	// Batches of orders started before observation have no marker and
	// do not observe.
	observe := observeNone
	switch {
	case in.Action != contract.ActionFulfill:
	case hasFlow:
		observe = flowed.observe
	default:
		observe = readObserveMode(ctx)
	}
	runItems(ctx, opts, in.OrderNumber, in.User, runSpec{action: in.Action, observe: observe, run: in.Run, lean: flowed.lean}, in.Items, lineHooks{
		queued: func(id string, stop func()) bool { stops[id] = stop; return true },
		retrying: func(id string, r contract.Result, attempts int) {
			if live {
				report([]LineOutcome{{ID: id, Result: r, Attempts: attempts, Retrying: true, Run: in.Run}})
			}
		},
		done: func(o LineOutcome) {
			if i, ok := pos[o.ID]; ok {
				outcomes[i] = o
				finished[o.ID] = true
				if live || stopped[o.ID] {
					report([]LineOutcome{o})
				}
			}
		},
	})
	return outcomes, nil
}
