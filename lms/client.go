// Package lms is the client fulfillment uses to talk to an Open edX LMS: the
// Enrollment API v1 (enroll, change mode, unenroll, pre-enroll by email) and
// the Entitlements API v1.
//
// Every write is preceded by a read, and "already in the wanted state" is a
// success without a write: the LMS's enrollment endpoint is not idempotent
// (re-posting fails once enrollment has closed, unenrolling a stranger creates
// an enrollment, deactivating an inactive enrollment re-activates it first),
// and fulfillment calls are retried at least once.
//
// Every failure is an *Error with a stable Type and a Transient flag; the
// client never sleeps through a long Retry-After itself but returns it, so the
// caller's durable retry can wait.
package lms

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// maxBody bounds how much of an LMS answer is read.
const maxBody = 1 << 20

// Client calls the LMS. It is safe for concurrent use.
type Client struct {
	cfg     Config
	hc      *http.Client
	tokens  *tokenCache // nil without client credentials
	limiter *rate.Limiter
	log     *zap.Logger
	now     func() time.Time
}

// New validates cfg and returns a Client. It does not contact the LMS.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	hc := &http.Client{Transport: newTransport()}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &Client{cfg: cfg, hc: hc, log: cfg.Logger, now: time.Now}
	if cfg.ClientID != "" {
		c.tokens = newTokenCache(cfg.BaseURL, cfg.ClientID, cfg.ClientSecret, cfg.TokenRefreshEarly, hc)
	}
	if cfg.RateLimit > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), cfg.Burst)
	}
	return c, nil
}

// PreEnrollByEmail reports whether the client falls back to pre-enrollment by
// email for learners without an account.
func (c *Client) PreEnrollByEmail() bool { return c.cfg.PreEnrollByEmail }

// call is one HTTP request to the LMS.
type call struct {
	op     string // operation name for errors and logs
	method string
	path   string     // escaped path below BaseURL
	query  url.Values // may hold emails: never logged nor put in errors
	body   any        // JSON-encoded when non-nil
}

// response is an LMS answer with any status.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a call and returns the answer whatever its status; only failures
// to get an answer are errors. A JWT the LMS rejects with 401 is dropped and
// the call retried once with a fresh one.
func (c *Client) do(ctx context.Context, cl call) (*response, error) {
	resp, token, err := c.doOnce(ctx, cl)
	if err == nil && resp.status == http.StatusUnauthorized && token != "" {
		c.tokens.Invalidate(token)
		resp, _, err = c.doOnce(ctx, cl)
	}
	return resp, err
}

func (c *Client) doOnce(ctx context.Context, cl call) (*response, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", classifyTransport(ctx, cl.op, cl.method+" "+cl.path, err)
	}
	callCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	if err := c.wait(callCtx, cl.op); err != nil {
		return nil, "", err
	}
	var token string
	if c.tokens != nil {
		var err error
		if token, err = c.tokens.Token(callCtx); err != nil {
			if e, ok := AsError(err); ok && e.Type == TypeTimeout && ctx.Err() == nil {
				e.Message = "token endpoint: no answer in time"
			}
			return nil, "", err
		}
	}
	var body io.Reader
	if cl.body != nil {
		b, err := json.Marshal(cl.body)
		if err != nil {
			return nil, "", invalidRequest(cl.op, "cannot encode the request")
		}
		body = bytes.NewReader(b)
	}
	u := c.cfg.BaseURL + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	req, err := http.NewRequestWithContext(callCtx, cl.method, u, body)
	if err != nil {
		return nil, "", invalidRequest(cl.op, "cannot build the request")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "coursefulfill-fulfillment")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "JWT "+token)
	}
	if c.cfg.APIKey != "" {
		req.Header.Set("X-Edx-Api-Key", c.cfg.APIKey)
	}
	start := c.now()
	res, err := c.hc.Do(req)
	if err != nil {
		e := classifyTransport(ctx, cl.op, cl.method+" "+cl.path, err)
		c.log.Debug("lms call failed", zap.String("op", cl.op), zap.String("method", cl.method),
			zap.String("error_type", e.Type), zap.Duration("duration", c.now().Sub(start)))
		return nil, "", e
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, "", classifyTransport(ctx, cl.op, "reading the answer to "+cl.method+" "+cl.path, err)
	}
	c.log.Debug("lms call", zap.String("op", cl.op), zap.String("method", cl.method),
		zap.Int("status", res.StatusCode), zap.Duration("duration", c.now().Sub(start)))
	return &response{status: res.StatusCode, header: res.Header, body: b}, token, nil
}

// wait applies the client-side rate limit. It waits only as long as the call
// may take; when the next slot is further away, it fails with a Throttled
// error carrying the delay, so the caller's durable retry does the waiting.
func (c *Client) wait(ctx context.Context, op string) error {
	if c.limiter == nil {
		return nil
	}
	r := c.limiter.Reserve()
	if !r.OK() {
		return &Error{Op: op, Type: TypeThrottled, Transient: true, Message: "client-side rate limit cannot admit the call"}
	}
	delay := r.Delay()
	if delay == 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
		r.Cancel()
		return &Error{Op: op, Type: TypeThrottled, Transient: true, RetryAfter: delay,
			Message: "client-side rate limit: next slot is after the call's deadline"}
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return classifyTransport(ctx, op, "waiting for the client-side rate limit", ctx.Err())
	}
}

// expect returns nil when resp has one of the wanted statuses and an *Error
// classifying it otherwise.
func expect(op string, resp *response, statuses ...int) error {
	for _, s := range statuses {
		if resp.status == s {
			return nil
		}
	}
	if resp.status < 300 {
		return newError(op, TypeBadResponse, fmt.Sprintf("unexpected HTTP %d", resp.status), resp.status)
	}
	return classifyResponse(op, resp.status, resp.header, resp.body)
}

// getOK sends a GET and returns the answer when it is a 200; any other
// answer is classified.
func (c *Client) getOK(ctx context.Context, op, path string, query url.Values) (*response, error) {
	resp, err := c.do(ctx, call{op: op, method: http.MethodGet, path: path, query: query})
	if err != nil {
		return nil, err
	}
	if err := expect(op, resp, http.StatusOK); err != nil {
		return nil, err
	}
	return resp, nil
}

// badResponse reports a 2xx answer that cannot be decoded.
func badResponse(op string, resp *response, err error) *Error {
	return newError(op, TypeBadResponse, "cannot decode the LMS answer: "+err.Error(), resp.status)
}
