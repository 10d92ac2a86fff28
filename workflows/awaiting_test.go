package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/modules"
)

var preEnrolled = map[string]string{modules.GrantPreEnrolled: "true"}

// A paid seat bought for a learner without an account waits for the
// account, visibly, checks again with backoff, and ends in the paid mode.
func TestLineWaitsForTheLearnersAccount(t *testing.T) {
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		if call < 4 {
			return contract.Result{Status: contract.StatusFailure, ErrorType: contract.ErrorTypeAwaitingAccount,
				Message: "pre-enrolled; verified waits for the learner's account", Grant: preEnrolled}
		}
		return modules.Success(map[string]string{modules.GrantPreEnrolled: "true", "mode": "verified"})
	}}
	env := newEnv(t, m)
	opts := fastOpts
	opts.AccountCheckInterval, opts.MaxAccountCheck = time.Minute, 4*time.Minute
	var waiting contract.StatusDocument
	env.RegisterDelayedCallback(func() { waiting = query(t, env) }, 30*time.Second)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(1), Options: opts})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, contract.LineAwaitingAccount, waiting.Lines[0].State)
	require.Equal(t, contract.OrderFulfilling, waiting.Status, "an order waiting for an account is not fulfilled yet")
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, contract.LineFulfilled, final.Lines[0].State)
	require.Equal(t, contract.OrderFulfilled, final.Status)
	require.Equal(t, 4, m.calls["fulfill:1"], "checked again 3 times (1, 2, 4 minutes)")
}

// Refunding a line that waits for the account revokes what was done (the
// pre-enrollment) and stops the waiting.
func TestRefundOfAWaitingLineRevokesThePreEnrollment(t *testing.T) {
	var revoked map[string]string
	m := &fakeModule{
		fulfill: func(req modules.Request, call int) contract.Result {
			return contract.Result{Status: contract.StatusFailure, ErrorType: contract.ErrorTypeAwaitingAccount, Grant: preEnrolled}
		},
		revoke: func(req modules.Request, call int) contract.Result {
			revoked = req.Grant
			return modules.Success(map[string]string{"action": "allowance_removed"})
		},
	}
	env := newEnv(t, m)
	opts := fastOpts
	opts.AccountCheckInterval = time.Minute
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1"})
	}, 90*time.Second)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(1), Options: opts})
	require.NoError(t, env.GetWorkflowError())
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, preEnrolled, revoked, "the revoke undoes the pre-enrollment")
	require.Equal(t, contract.LineRevoked, final.Lines[0].State)
	require.Equal(t, contract.OrderRefunded, final.Status)
	require.LessOrEqual(t, m.calls["fulfill:1"], 3, "no more checks after the refund")
}

// A learner who never registers: at the end of the refund window the line
// fails with the reason, for an operator, and the order stays open.
func TestAccountNeverCreatedNeedsAnOperator(t *testing.T) {
	m := &fakeModule{fulfill: func(req modules.Request, call int) contract.Result {
		return contract.Result{Status: contract.StatusFailure, ErrorType: contract.ErrorTypeAwaitingAccount, Grant: preEnrolled}
	}}
	env := newEnv(t, m)
	opts := fastOpts
	opts.AccountCheckInterval, opts.MaxAccountCheck = time.Minute, 30*time.Minute
	var after contract.StatusDocument
	env.RegisterDelayedCallback(func() { after = query(t, env) }, opts.RefundWindow+time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(contract.SignalRefund, contract.RefundRequest{RefundID: "R-1"})
	}, opts.RefundWindow+2*time.Minute)
	env.ExecuteWorkflow(OrderWorkflow, contract.OrderInput{Order: testOrder(1), Options: opts})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, contract.LineFailed, after.Lines[0].State)
	require.Equal(t, contract.ErrorTypeAccountNeverCreated, after.Lines[0].Result.ErrorType)
	require.Equal(t, contract.OrderFulfillmentError, after.Status)
	var final contract.StatusDocument
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, contract.LineRevoked, final.Lines[0].State, "the refund revoked the pre-enrollment")
}
