package contract

// Result statuses.
const (
	StatusSuccess = "success"
	StatusFailure = "failure"
)

// Result is what a fulfillment module answers for one fulfill or revoke of
// one line: {"status":"success"} or
// {"status":"failure","error_type":"...","message":"..."}.
type Result struct {
	Status    string    `json:"status"`
	ErrorType ErrorType `json:"error_type,omitempty"`
	Message   string    `json:"message,omitempty"`
	// Retryable marks a failure that may go away by itself (LMS down, slow,
	// throttled). Permanent failures wait for an operator.
	Retryable bool `json:"retryable,omitempty"`
	// RetryAfterSeconds is the LMS's Retry-After hint for a throttled call.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
	// Grant records what a fulfill did that its revoke needs to undo exactly
	// (for example "prior_mode" of an upgrade, "entitlement_uuid", "pre_enrolled").
	// It holds no secrets and no personal data.
	Grant map[string]string `json:"grant,omitempty"`
}

// OK reports whether the result is a success.
func (r Result) OK() bool { return r.Status == StatusSuccess }

// ErrorText is the one-line reason of a failure: "<error_type>: <message>".
func (r Result) ErrorText() string {
	if r.Message == "" {
		return string(r.ErrorType)
	}
	return string(r.ErrorType) + ": " + r.Message
}
