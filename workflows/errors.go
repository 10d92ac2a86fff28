package workflows

import (
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/coursefulfill/fulfillment/contract"
)

// asApplicationError hands a rejection to the caller of an update as an
// ApplicationError whose type is the rejection's contract.ErrorType, so
// callers classify it by type, never by its text.
func asApplicationError(err error) error {
	var r *contract.Rejection
	if errors.As(err, &r) {
		return temporal.NewApplicationError(r.Message, string(r.Type))
	}
	return err
}
