package startertest

import (
	"context"

	"github.com/coursefulfill/fulfillment/contract"
)

// RememberRefunded implements woocommerce.Fulfiller: the first marker of an
// order stays, like a workflow ID in Temporal.
func (f *Fake) RememberRefunded(_ context.Context, m contract.RefundedMarker) (bool, error) {
	if f.Err != nil {
		return false, f.Err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.refunded[m.OrderNumber]; ok {
		return false, nil
	}
	if f.refunded == nil {
		f.refunded = map[string]contract.RefundedMarker{}
	}
	f.refunded[m.OrderNumber] = m
	return true, nil
}

// RememberedRefund implements woocommerce.Fulfiller.
func (f *Fake) RememberedRefund(_ context.Context, number string) (contract.RefundedMarker, bool, error) {
	if f.Err != nil {
		return contract.RefundedMarker{}, false, f.Err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.refunded[number]
	return m, ok, nil
}
