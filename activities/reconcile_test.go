package activities

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/modules"
)

// TestReconcileKeysAgreeWithModules keeps the drift sweep's reading of
// grants and prior states in step with the keys the modules write.
func TestReconcileKeysAgreeWithModules(t *testing.T) {
	require.Equal(t, modules.GrantAction, contract.KeyGrantAction)
	require.Equal(t, modules.PriorExists, contract.KeyPriorExists)
	require.Equal(t, modules.PriorActive, contract.KeyPriorActive)
	require.Equal(t, modules.PriorMode, contract.KeyPriorMode)
	require.Equal(t, modules.PriorEntitlements, contract.KeyPriorEntitlements)
	require.Equal(t, modules.GrantEntitlementUUID, contract.KeyEntitlementUUID)
	require.Equal(t, modules.GrantCreated, contract.KeyGrantCreated)
}
