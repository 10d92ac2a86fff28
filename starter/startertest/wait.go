package startertest

import (
	"context"
	"time"

	"github.com/coursefulfill/fulfillment/contract"
)

// WaitSettled implements api.SettledWaiter: the fake's orders change only
// when a test changes them, so it answers their status at once.
func (f *Fake) WaitSettled(ctx context.Context, number string, _ time.Duration) (contract.StatusDocument, bool, error) {
	st, err := f.Status(ctx, number)
	return st, err == nil && st.Settled(), err
}

// WaitNewSettled implements api.SettledWaiter as WaitSettled does.
func (f *Fake) WaitNewSettled(ctx context.Context, number string, wait time.Duration) (contract.StatusDocument, bool, error) {
	return f.WaitSettled(ctx, number, wait)
}
