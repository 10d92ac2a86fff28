package contract

// LargeOrderParallelLines is the parallel cap an order larger than one
// batch starts with when none is configured: its lines run in batch
// children that share the cap, and at the small-order default of 20 a
// 10,000-line order is bound by the LMS's latency (20 lines at a time) for
// over a minute. The LMS client's rate limit (LMS_RATE_LIMIT) still bounds
// the calls per second whatever the cap.
const LargeOrderParallelLines = 200

// ForOrder is o for an order of lines lines: an order larger than one batch
// without a configured parallel cap gets LargeOrderParallelLines. The starter
// applies it as the order starts, so the cap travels in the order's input
// and a running order keeps the cap it started with.
func (o Options) ForOrder(lines int) Options {
	if o.MaxParallelLines == 0 && lines > o.WithDefaults().BatchSize {
		o.MaxParallelLines = LargeOrderParallelLines
	}
	return o
}
