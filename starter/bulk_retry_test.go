package starter_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/coursefulfill/fulfillment/starter"
)

func TestBulkRetryQuery(t *testing.T) {
	q, err := starter.BulkRetryQuery(starter.BulkRetryRequest{CourseID: "course-v1:edX+DemoX+Demo_Course", Query: `ErrorTypes = "CourseNotFound"`})
	require.NoError(t, err)
	require.Equal(t, `WorkflowType IN ('OrderWorkflow', 'LateRefundsWorkflow') AND ExecutionStatus = 'Running' AND FailedLines > 0`+
		` AND FailedCourseIds = 'course-v1:edX+DemoX+Demo_Course' AND (ErrorTypes = "CourseNotFound")`, q)
	q, err = starter.BulkRetryQuery(starter.BulkRetryRequest{Query: `OrderNumber = 'a)(b'`})
	require.NoError(t, err, "parentheses inside quotes are text")
	require.Contains(t, q, `AND (OrderNumber = 'a)(b')`)

	for _, bad := range []starter.BulkRetryRequest{
		{},
		{CourseID: "x' OR 'a' = 'a"},
		{CourseID: "two words"},
		{Query: "OrderStatus = 'x') OR (true"},
		{Query: "(OrderStatus = 'x'"},
		{Query: "OrderStatus = 'x"},
		{Query: "/* ( */ WorkflowId != '') OR (WorkflowId != '' /* ) */"}, // comments hide parentheses from a count
		{Query: "WorkflowId != '' -- )"},
	} {
		_, err := starter.BulkRetryQuery(bad)
		require.True(t, errors.Is(err, starter.ErrInvalidRequest), "%+v: %v", bad, err)
	}
}
