package modules

import (
	"context"

	"github.com/coursefulfill/fulfillment/order"
)

func init() {
	Register(order.ProductDonation, func(Deps) (Module, error) { return Donation{}, nil })
}

// Donation fulfills a donation: the payment is the whole product, there is
// nothing to grant in the LMS and nothing to take back.
type Donation struct{}

// Fulfill succeeds.
func (Donation) Fulfill(context.Context, Request) Result { return Success(nil) }

// Revoke succeeds.
func (Donation) Revoke(context.Context, Request) Result { return Success(nil) }
