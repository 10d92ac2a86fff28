package contract

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSettled(t *testing.T) {
	lines := func(states ...LineState) []LineStatus {
		out := make([]LineStatus, len(states))
		for i, s := range states {
			out[i] = LineStatus{ID: string(rune('1' + i)), State: s}
		}
		return out
	}
	for _, c := range []struct {
		lines   []LineStatus
		refunds []RefundStatus
		stopped bool
		want    bool
	}{
		{lines(LineFulfilled, LineFulfilled), nil, false, true},
		{lines(LineFulfilled, LineFailed), nil, false, true},
		{lines(LineFulfilled, LineAwaitingAccount), nil, false, true},
		{lines(LineFailed, LineFulfilling), nil, false, false},
		{lines(LineFulfilled, LineRetrying), nil, false, false},
		{lines(LinePending), nil, false, false},
		{lines(LinePending), nil, true, true},
		{lines(LineRevoking), nil, true, false},
		{lines(LineRevoked), []RefundStatus{{RefundID: "R", State: RefundRevoking}}, false, false},
		{lines(LineRevoked), []RefundStatus{{RefundID: "R", State: RefundCompleted}}, false, true},
	} {
		require.Equal(t, c.want, Settled(c.lines, c.refunds, c.stopped), "%+v", c)
	}
	doc := StatusDocument{Lines: lines(LinePending), Cancelled: true}
	require.True(t, doc.Settled(), "a cancelled order's pending lines do not move")
	doc.Cancelled = false
	require.False(t, doc.Settled())
}

func TestForOrder(t *testing.T) {
	require.Equal(t, 0, Options{}.ForOrder(DefaultBatchSize).MaxParallelLines, "an order of one batch keeps the default")
	require.Equal(t, LargeOrderParallelLines, Options{}.ForOrder(DefaultBatchSize+1).MaxParallelLines)
	require.Equal(t, 7, Options{MaxParallelLines: 7}.ForOrder(10000).MaxParallelLines, "a configured cap stays")
	require.Equal(t, LargeOrderParallelLines, Options{BatchSize: 100}.ForOrder(101).MaxParallelLines)
	require.Equal(t, 0, Options{BatchSize: 1000}.ForOrder(1000).MaxParallelLines)
}
