package contract_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// A keyword-list search attribute stays under the server's 2 KiB limit on
// a value however long the course keys: an order of 60 long keys sets as
// many as fit.
func TestCourseIDsAttrFitsTheValueLimit(t *testing.T) {
	var o order.Order
	for i := range 60 {
		o.Lines = append(o.Lines, order.Line{ID: fmt.Sprint(i), ProductType: order.ProductSeat,
			CourseID: fmt.Sprintf("course-v1:HarvardX+CS50x+Introduction_%04d", i)})
	}
	ids := contract.CourseIDsAttr(o)
	data, err := json.Marshal(ids)
	require.NoError(t, err)
	require.LessOrEqual(t, len(data), 1500)
	require.Greater(t, len(ids), 20)
	_, ok := contract.AppendKeyword(ids, "course-v1:HarvardX+CS50x+Introduction_9999")
	require.False(t, ok, "a full list takes no more")
}
