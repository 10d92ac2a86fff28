package woocommerce_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/starter/startertest"
	"github.com/coursefulfill/fulfillment/woocommerce"
)

// A variable product DEMOX (product 200) sells the course verified; its
// audit variation (201) has no SKU of its own and is mapped by id. WooCommerce
// reports the parent's SKU on the variation's line item, so matching the SKU
// first enrolled the audit buyer as verified.
func TestVariationIsMappedByIDBeforeItsParentsSKU(t *testing.T) {
	pm, err := woocommerce.ParseProductMap([]byte(`{"products": [
	  {"sku": "DEMOX", "course_id": "course-v1:edX+DemoX+Demo_Course", "mode": "verified"},
	  {"product_id": 201, "course_id": "course-v1:edX+DemoX+Demo_Course", "mode": "audit"}
	]}`))
	require.NoError(t, err)
	fake := &startertest.Fake{}
	rc, err := woocommerce.NewReceiver(woocommerce.Config{Secret: secret, Products: pm, AllowAnyStore: true}, fake, zap.NewNop())
	require.NoError(t, err)
	e := &env{t: t, fake: fake, rc: rc}

	audit := `{"id": 501, "name": "DemoX - Audit", "product_id": 200, "variation_id": 201, "quantity": 1, "sku": "DEMOX", "meta_data": []}`
	a := e.deliver(orderJSON(740, "processing", audit, ""), nil)
	require.Equal(t, http.StatusAccepted, a.code, a.raw)
	o, ok := fake.Order("shop.example.com-740")
	require.True(t, ok)
	require.Equal(t, "audit", o.Lines[0].Mode, "the variation's own entry wins over its parent's SKU")

	// A variation with no entry of its own still falls back to the SKU.
	verified := `{"id": 502, "name": "DemoX - Verified", "product_id": 200, "variation_id": 202, "quantity": 1, "sku": "DEMOX", "meta_data": []}`
	a = e.deliver(orderJSON(741, "processing", verified, ""), nil)
	require.Equal(t, http.StatusAccepted, a.code, a.raw)
	o, ok = fake.Order("shop.example.com-741")
	require.True(t, ok)
	require.Equal(t, "verified", o.Lines[0].Mode)
}
