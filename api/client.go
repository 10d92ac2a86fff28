package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coursefulfill/fulfillment/api/problem"
	"github.com/coursefulfill/fulfillment/contract"
	"github.com/coursefulfill/fulfillment/order"
)

// Client calls the API; the CLI's order commands use it. Failures the API
// answered with a problem document are returned as *problem.Problem.
type Client struct {
	// BaseURL is the API's root, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Token is the bearer token.
	Token string
	// HTTPClient defaults to a client with a 60 s timeout.
	HTTPClient *http.Client
}

// Created answers CreateOrder: the order was started (true) or already
// existed with the same content (false).
type Created struct {
	OrderAccepted
	Created bool `json:"created"`
}

// CreateOrder posts an order.
func (c *Client) CreateOrder(ctx context.Context, o order.Order) (Created, error) {
	var out Created
	code, err := c.do(ctx, http.MethodPost, "/api/v1/orders", o, &out.OrderAccepted)
	out.Created = code == http.StatusAccepted
	return out, err
}

// Status returns an order's status document.
func (c *Client) Status(ctx context.Context, number string) (OrderStatus, error) {
	var out OrderStatus
	_, err := c.do(ctx, http.MethodGet, "/api/v1/orders/"+url.PathEscape(number), nil, &out)
	return out, err
}

// Refund refunds lines of an order (all lines when lineIDs is empty).
func (c *Client) Refund(ctx context.Context, number, refundID string, lineIDs []string) (RefundAccepted, error) {
	var out RefundAccepted
	_, err := c.do(ctx, http.MethodPost, "/api/v1/orders/"+url.PathEscape(number)+"/refunds",
		contract.RefundRequest{RefundID: refundID, LineIDs: lineIDs}, &out)
	return out, err
}

// Retry retries failed lines of an order (all failed lines when lineIDs is
// empty).
func (c *Client) Retry(ctx context.Context, number string, lineIDs []string) (RetryAccepted, error) {
	var out RetryAccepted
	_, err := c.do(ctx, http.MethodPost, "/api/v1/orders/"+url.PathEscape(number)+"/retry",
		contract.RetryRequest{LineIDs: lineIDs}, &out)
	return out, err
}

// List lists orders with a status (all orders when empty).
func (c *Client) List(ctx context.Context, status string, pageSize int, pageToken string) (OrderList, error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if pageSize > 0 {
		q.Set("page_size", strconv.Itoa(pageSize))
	}
	if pageToken != "" {
		q.Set("page_token", pageToken)
	}
	path := "/api/v1/orders"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out OrderList
	_, err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out, err
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, "+problem.ContentType)
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		p := &problem.Problem{}
		if jerr := json.Unmarshal(b, p); jerr != nil || p.Status == 0 {
			p = problem.New(resp.StatusCode, "about:blank", strings.TrimSpace(string(b)))
		}
		return resp.StatusCode, p
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// AsProblem returns the problem document behind err, if any.
func AsProblem(err error) (*problem.Problem, bool) {
	var p *problem.Problem
	ok := errors.As(err, &p)
	return p, ok
}
