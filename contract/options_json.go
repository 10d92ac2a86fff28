package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Options travel in workflow inputs, which the Web UI shows: durations are
// written readably ("10m", "336h", "1m30s"). Inputs of orders started
// before are integers of nanoseconds; both forms are read.

// optionsWire is Options with durations as JSON values of either form.
type optionsWire struct {
	MaxParallelLines     int          `json:"max_parallel_lines,omitempty"`
	RetryHorizon         wireDuration `json:"retry_horizon,omitempty"`
	RefundWindow         wireDuration `json:"refund_window,omitempty"`
	BatchSize            int          `json:"batch_size,omitempty"`
	ActivityTimeout      wireDuration `json:"activity_timeout,omitempty"`
	InitialRetryInterval wireDuration `json:"initial_retry_interval,omitempty"`
	MaxRetryInterval     wireDuration `json:"max_retry_interval,omitempty"`
	AccountCheckInterval wireDuration `json:"account_check_interval,omitempty"`
	MaxAccountCheck      wireDuration `json:"max_account_check,omitempty"`
}

// MarshalJSON writes the durations as Go duration strings without zero
// units ("10m", not "10m0s").
func (o Options) MarshalJSON() ([]byte, error) {
	return json.Marshal(optionsWire{
		MaxParallelLines: o.MaxParallelLines, BatchSize: o.BatchSize,
		RetryHorizon: wireDuration(o.RetryHorizon), RefundWindow: wireDuration(o.RefundWindow),
		ActivityTimeout: wireDuration(o.ActivityTimeout), InitialRetryInterval: wireDuration(o.InitialRetryInterval),
		MaxRetryInterval: wireDuration(o.MaxRetryInterval), AccountCheckInterval: wireDuration(o.AccountCheckInterval),
		MaxAccountCheck: wireDuration(o.MaxAccountCheck),
	})
}

// UnmarshalJSON reads durations as strings ("10m") or as integers of
// nanoseconds (inputs written before readable durations).
func (o *Options) UnmarshalJSON(data []byte) error {
	var w optionsWire
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*o = Options{
		MaxParallelLines: w.MaxParallelLines, BatchSize: w.BatchSize,
		RetryHorizon: time.Duration(w.RetryHorizon), RefundWindow: time.Duration(w.RefundWindow),
		ActivityTimeout: time.Duration(w.ActivityTimeout), InitialRetryInterval: time.Duration(w.InitialRetryInterval),
		MaxRetryInterval: time.Duration(w.MaxRetryInterval), AccountCheckInterval: time.Duration(w.AccountCheckInterval),
		MaxAccountCheck: time.Duration(w.MaxAccountCheck),
	}
	return nil
}

// wireDuration is a duration in JSON: written as a string, read from a
// string or an integer of nanoseconds.
type wireDuration time.Duration

// MarshalJSON implements json.Marshaler.
func (d wireDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(FormatDuration(time.Duration(d)))
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *wireDuration) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = wireDuration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("duration: a string such as \"10m\" or an integer of nanoseconds: %w", err)
	}
	*d = wireDuration(n)
	return nil
}

// FormatDuration writes d as time.Duration.String does, without zero
// trailing units: "10m", "336h", "1h30m", "1.5s".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
