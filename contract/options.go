package contract

import (
	"fmt"
	"time"
)

// Defaults applied to zero Options.
const (
	DefaultMaxParallelLines     = 20
	DefaultRetryHorizon         = 24 * time.Hour
	DefaultRefundWindow         = 14 * 24 * time.Hour
	DefaultBatchSize            = 500
	DefaultActivityTimeout      = 30 * time.Second
	DefaultInitialRetryInterval = time.Second
	DefaultMaxRetryInterval     = 5 * time.Minute
	DefaultAccountCheckInterval = time.Minute
	DefaultMaxAccountCheck      = 6 * time.Hour
)

// MaxBatchSize bounds Options.BatchSize: Temporal allows 2,000 pending
// activities per execution, and a batch also holds its timers and signals.
const MaxBatchSize = 1000

// Options tunes how an order is fulfilled. It travels in the workflow input
// so a running order keeps the options it started with. Zero fields take
// their defaults.
type Options struct {
	// MaxParallelLines caps the lines fulfilled at the same time.
	MaxParallelLines int `json:"max_parallel_lines,omitempty"`
	// RetryHorizon is how long transient LMS errors are retried before the
	// line is parked for an operator.
	RetryHorizon time.Duration `json:"retry_horizon,omitempty"`
	// RefundWindow is how long the order workflow stays open for refunds.
	RefundWindow time.Duration `json:"refund_window,omitempty"`
	// BatchSize is the most lines one execution fulfills itself; larger
	// orders are split into child workflows of at most this many lines.
	BatchSize int `json:"batch_size,omitempty"`
	// ActivityTimeout bounds one attempt of one line (start-to-close).
	ActivityTimeout time.Duration `json:"activity_timeout,omitempty"`
	// InitialRetryInterval and MaxRetryInterval shape the exponential backoff.
	InitialRetryInterval time.Duration `json:"initial_retry_interval,omitempty"`
	MaxRetryInterval     time.Duration `json:"max_retry_interval,omitempty"`
	// AccountCheckInterval and MaxAccountCheck space the checks of a line
	// waiting for the learner's LMS account (doubling from the one to the
	// other).
	AccountCheckInterval time.Duration `json:"account_check_interval,omitempty"`
	MaxAccountCheck      time.Duration `json:"max_account_check,omitempty"`
}

// OptionError names the option that is out of range, by its JSON name.
type OptionError struct {
	Field  string
	Reason string
}

func (e *OptionError) Error() string { return e.Field + " " + e.Reason }

// Validate reports the first option out of range. Zero means "default" and
// is always valid. Every place that accepts options (the command-line flags,
// the stack, the starter) calls it.
func (o Options) Validate() error {
	checks := []struct {
		field string
		bad   bool
		why   string
	}{
		{"max_parallel_lines", o.MaxParallelLines < 0, "must be at least 1"},
		{"batch_size", o.BatchSize < 0 || o.BatchSize > MaxBatchSize,
			fmt.Sprintf("must be between 1 and %d (Temporal allows 2,000 pending activities per execution)", MaxBatchSize)},
		{"retry_horizon", o.RetryHorizon < 0 || o.RetryHorizon > 0 && o.RetryHorizon < time.Second, "must be at least 1s"},
		{"refund_window", o.RefundWindow < 0 || o.RefundWindow > 0 && o.RefundWindow < time.Second, "must be at least 1s"},
		{"activity_timeout", o.ActivityTimeout < 0 || o.ActivityTimeout > 0 && o.ActivityTimeout < time.Second, "must be at least 1s"},
		{"initial_retry_interval", o.InitialRetryInterval < 0, "must not be negative"},
		{"max_retry_interval", o.MaxRetryInterval < 0, "must not be negative"},
		{"account_check_interval", o.AccountCheckInterval < 0, "must not be negative"},
		{"max_account_check", o.MaxAccountCheck < 0, "must not be negative"},
	}
	for _, c := range checks {
		if c.bad {
			return &OptionError{Field: c.field, Reason: c.why}
		}
	}
	return nil
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.MaxParallelLines <= 0 {
		o.MaxParallelLines = DefaultMaxParallelLines
	}
	if o.RetryHorizon <= 0 {
		o.RetryHorizon = DefaultRetryHorizon
	}
	if o.RefundWindow <= 0 {
		o.RefundWindow = DefaultRefundWindow
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.ActivityTimeout <= 0 {
		o.ActivityTimeout = DefaultActivityTimeout
	}
	if o.InitialRetryInterval <= 0 {
		o.InitialRetryInterval = DefaultInitialRetryInterval
	}
	if o.MaxRetryInterval <= 0 {
		o.MaxRetryInterval = DefaultMaxRetryInterval
	}
	if o.MaxRetryInterval < o.InitialRetryInterval {
		o.MaxRetryInterval = o.InitialRetryInterval
	}
	if o.AccountCheckInterval <= 0 {
		o.AccountCheckInterval = DefaultAccountCheckInterval
	}
	if o.MaxAccountCheck <= 0 {
		o.MaxAccountCheck = DefaultMaxAccountCheck
	}
	if o.MaxAccountCheck < o.AccountCheckInterval {
		o.MaxAccountCheck = o.AccountCheckInterval
	}
	return o
}

// PayloadLimit is Temporal's default limit on one payload (a workflow's
// input or result, an activity's, a signal's, a query's answer): a task
// carrying a larger one fails, again and again.
const PayloadLimit = 2 << 20

// PayloadBudget is what any payload of ours may take: three quarters of the
// limit. Tests hold the largest legal order to it.
const PayloadBudget = PayloadLimit * 3 / 4
