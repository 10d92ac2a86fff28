package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentileAndMedian(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	require.Equal(t, 50*time.Millisecond, percentile(d, 50))
	require.Equal(t, 99*time.Millisecond, percentile(d, 99))
	require.Equal(t, 100*time.Millisecond, percentile(d, 100))
	require.Equal(t, time.Millisecond, percentile(d[:1], 99))
	runs := []benchRun{{OrdersPerSec: 3}, {OrdersPerSec: 1}, {OrdersPerSec: 2}}
	require.Equal(t, 2.0, median(runs, func(r benchRun) float64 { return r.OrdersPerSec }))
	require.Equal(t, 1.5, median(runs[1:], func(r benchRun) float64 { return r.OrdersPerSec }))
}
