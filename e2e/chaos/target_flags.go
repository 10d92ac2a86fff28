package chaos

import (
	"flag"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Settings are the suite's command-line flags, the same in every test
// that runs it on a target (-chaos.orders, -chaos.concurrency,
// -chaos.seed, -chaos.timeout, -chaos.report).
type Settings struct {
	orders, concurrency *int
	seed                *int64
	timeout             *time.Duration
	report              *string
}

// RegisterFlags registers the suite's flags on fs for the test named
// test, placing orders orders by default.
func RegisterFlags(fs *flag.FlagSet, test string, orders int) *Settings {
	return &Settings{
		orders:      fs.Int("chaos.orders", orders, test+": orders to place (the full size is 1000)"),
		concurrency: fs.Int("chaos.concurrency", 0, test+": orders worked on at a time (0: orders/8, at least 8, at most 64)"),
		seed:        fs.Int64("chaos.seed", 1, test+": the seed of the orders"),
		timeout:     fs.Duration("chaos.timeout", 0, test+": bound of the run (0: 4 min + 1 s an order)"),
		report:      fs.String("chaos.report", "", test+": write the result tables (Markdown) to this file"),
	}
}

// Orders is how many orders the run places.
func (s *Settings) Orders() int { return *s.orders }

// Config is the run's configuration: the flags', a client timeout of
// 45 s, 3 minutes to settle, the run's names prefixed with prefix and the
// seed, its progress logged to t.
func (s *Settings) Config(t testing.TB, prefix string) Config {
	n := *s.orders
	conc := *s.concurrency
	if conc == 0 {
		conc = min(max(n/8, 8), 64)
	}
	timeout := *s.timeout
	if timeout == 0 {
		timeout = 4*time.Minute + time.Duration(n)*time.Second
	}
	return Config{Orders: n, Concurrency: conc, Seed: *s.seed, Name: prefix + strconv.FormatInt(*s.seed, 10),
		ClientTimeout: 45 * time.Second, Timeout: timeout, SettleTimeout: 3 * time.Minute,
		Log: func(format string, args ...any) { t.Logf(format, args...) }}
}

// Check logs the run's result tables, writes them to -chaos.report when
// given, and fails t on an order lost or anything res.Failures() reports;
// it returns whether the run found nothing.
func (s *Settings) Check(t testing.TB, res *Result) bool {
	t.Helper()
	table := res.Markdown()
	t.Logf("result:\n%s", table)
	if *s.report != "" {
		require.NoError(t, os.WriteFile(*s.report, []byte(table), 0o644))
	}
	require.Equal(t, *s.orders, res.Orders)
	require.Zero(t, res.Lost, "orders lost")
	if failures := res.Failures(); len(failures) > 0 {
		t.Errorf("%d failures:\n  %s", len(failures), strings.Join(failures, "\n  "))
		return false
	}
	return true
}
