package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/coursefulfill/fulfillment/contract"
)

// changeLeanStart: a new order run reads this one change instead of the
// five order changes before it (all taken at their latest version), its
// line activities take readable IDs without reading line-activity-ids, and
// it does not upsert the search attributes its start already set. Every
// GetVersion records a marker and an upsert of TemporalChangeVersion, and
// every upsert is a visibility write on the server: a 3-line order went
// from 9 upserts to 2.
const changeLeanStart = "lean-start"

// readLeanVersions reports, for a run that starts lean, the versions it
// follows; ok is false for runs that started before the change.
//
// Version 2 adds changeFailureAttrs: runs that started lean at version 1
// publish no FailedCourseIds or ErrorTypes.
func readLeanVersions(ctx workflow.Context) (_ orderVersions, ok bool) {
	v := workflow.GetVersion(ctx, changeLeanStart, workflow.DefaultVersion, 2)
	if v == workflow.DefaultVersion {
		return orderVersions{}, false
	}
	return leanVersions(v), true
}

// leanVersions are the versions of a lean run of lean-start version v.
func leanVersions(v workflow.Version) orderVersions {
	return orderVersions{lean: true, refundingState: true, tildeRefundIDs: true, observe: observeLocal,
		liveReports: true, awaitAccount: true, failureAttrs: v >= 2}
}

// startSetAttributes reports whether a lean run's start already set the
// order's OrderNumber (and CourseIds, when it has courses), so the run need
// not upsert them; and it takes OrderStatus and FailedLines as the start
// set them as already published, so the first publish upserts only a
// change.
func (w *orderRun) startSetAttributes(ctx workflow.Context) bool {
	if !w.versions.lean {
		return false
	}
	sa := workflow.GetTypedSearchAttributes(ctx)
	status, okStatus := sa.GetKeyword(contract.OrderStatusKey)
	failed, okFailed := sa.GetInt64(contract.FailedLinesKey)
	if okStatus && okFailed {
		// The start sets no FailedCourseIds or ErrorTypes: both empty.
		w.published.status, w.published.failed = contract.OrderState(status), int(failed)
		w.published.failures = failureKey(nil, nil)
	}
	number, ok := sa.GetKeyword(contract.OrderNumberKey)
	if !ok || number != w.in.Order.Number {
		return false
	}
	if len(contract.CourseIDsAttr(w.in.Order)) > 0 {
		_, ok = sa.GetKeywordList(contract.CourseIDsKey)
	}
	return ok
}
