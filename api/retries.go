package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/starter"
)

// BulkRetrier is what POST /api/v1/retries needs from the starter;
// *starter.Starter implements it. A Starter without it answers 503.
type BulkRetrier interface {
	BulkRetry(ctx context.Context, req starter.BulkRetryRequest) (starter.BulkRetryResult, error)
}

// BulkRetryTimeout bounds one bulk retry: past it the answer reports the
// orders not reached yet as interrupted (run it again for them).
const BulkRetryTimeout = 10 * time.Minute

// bulkRetry retries every running order a visibility query or a failing
// course selects, rate-limited, and answers with the counts.
func (s *server) bulkRetry(w http.ResponseWriter, r *http.Request) {
	br, ok := s.st.(BulkRetrier)
	if !ok {
		s.writeError(w, r, errors.Join(starter.ErrUnavailable, errors.New("bulk retry is not available")))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	var req starter.BulkRetryRequest
	if err := decodeStrict(r.Body, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	// Longer than other requests: it paces its retries.
	if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(BulkRetryTimeout + 30*time.Second)); err != nil {
		s.log.Warn("bulk retry: cannot extend the write deadline", zap.Error(err))
	}
	ctx, cancel := context.WithTimeout(r.Context(), BulkRetryTimeout)
	defer cancel()
	res, err := br.BulkRetry(ctx, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("bulk retry", zap.Int("matched", res.Matched), zap.Int("retried", res.Retried), zap.Int("failed", res.Failed),
		zap.Bool("truncated", res.Truncated), zap.Bool("interrupted", res.Interrupted))
	writeJSON(w, http.StatusOK, res)
}

// BulkRetry retries every running order the request selects (see
// POST /api/v1/retries). It waits as long as the retries take.
func (c *Client) BulkRetry(ctx context.Context, req starter.BulkRetryRequest) (starter.BulkRetryResult, error) {
	long := *c
	if long.HTTPClient == nil {
		long.HTTPClient = &http.Client{Timeout: BulkRetryTimeout + time.Minute}
	}
	var out starter.BulkRetryResult
	_, err := long.do(ctx, http.MethodPost, "/api/v1/retries", req, &out)
	return out, err
}
