package modules

import "context"

func init() {
	Register("donation", func(Deps) (Module, error) { return Donation{}, nil })
}

// Donation fulfills a donation: the payment is the whole product, there is
// nothing to grant in the LMS and nothing to take back.
type Donation struct{}

// Fulfill succeeds.
func (Donation) Fulfill(context.Context, Request) Result { return Success(nil) }

// Revoke succeeds.
func (Donation) Revoke(context.Context, Request) Result { return Success(nil) }
