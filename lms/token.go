package lms

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokenCache holds the service user's JWT. It fetches a token with the
// OAuth2 client credentials grant (token_type=jwt), reuses it until shortly
// before it expires and lets only one caller refresh at a time; the others
// wait for that refresh (or for their own context to end).
type tokenCache struct {
	conf       clientcredentials.Config
	httpClient *http.Client
	early      time.Duration
	now        func() time.Time

	// sem is a one-slot semaphore guarding tok; a channel rather than a
	// mutex so that waiting respects the caller's context.
	sem chan struct{}
	tok *oauth2.Token
	// refreshAt is when tok is replaced: early before its expiry, but never
	// less than half its lifetime so that short-lived tokens are still reused.
	refreshAt time.Time
}

func newTokenCache(baseURL, clientID, clientSecret string, early time.Duration, hc *http.Client) *tokenCache {
	return &tokenCache{
		conf: clientcredentials.Config{
			ClientID:     clientID,
			ClientSecret: clientSecret,
			TokenURL:     baseURL + "/oauth2/access_token",
			// The LMS (django-oauth-toolkit behind edx-platform) takes the
			// credentials as form fields; naming the style avoids the
			// library's auto-detection, which would retry a failed fetch.
			AuthStyle:      oauth2.AuthStyleInParams,
			EndpointParams: url.Values{"token_type": {"jwt"}},
		},
		httpClient: hc,
		early:      early,
		now:        time.Now,
		sem:        make(chan struct{}, 1),
	}
}

// Token returns a valid access token, fetching a new one when needed.
func (t *tokenCache) Token(ctx context.Context) (string, error) {
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return "", classifyTransport(ctx, "token", "waiting for the token refresh", ctx.Err())
	}
	defer func() { <-t.sem }()
	now := t.now()
	if t.tok != nil && now.Before(t.refreshAt) {
		return t.tok.AccessToken, nil
	}
	fetchedAt := now
	tok, err := t.conf.Token(context.WithValue(ctx, oauth2.HTTPClient, t.httpClient))
	if err != nil {
		t.tok = nil
		return "", classifyTokenError(ctx, err)
	}
	t.tok = tok
	t.refreshAt = refreshTime(fetchedAt, tok.Expiry, t.early)
	return tok.AccessToken, nil
}

// Invalidate drops the cached token if it is still token; the LMS rejected
// it (it may have been revoked, or the LMS restarted with a new key).
func (t *tokenCache) Invalidate(token string) {
	t.sem <- struct{}{}
	defer func() { <-t.sem }()
	if t.tok != nil && t.tok.AccessToken == token {
		t.tok = nil
	}
}

// refreshTime is when a token fetched at fetchedAt and expiring at expiry
// should be replaced.
func refreshTime(fetchedAt, expiry time.Time, early time.Duration) time.Time {
	if expiry.IsZero() {
		// No expires_in: assume the LMS default lifetime of an hour.
		return fetchedAt.Add(time.Hour - early)
	}
	lifetime := expiry.Sub(fetchedAt)
	if early > lifetime/2 {
		early = lifetime / 2
	}
	return expiry.Add(-early)
}

// classifyTokenError maps a failed token fetch to an *Error. The oauth2
// library's own error text includes the response body, so only the status and
// the RFC 6749 error code are kept.
func classifyTokenError(ctx context.Context, err error) *Error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		msg := "token endpoint refused the client credentials"
		if re.ErrorCode != "" {
			msg += " (" + re.ErrorCode + ")"
		}
		switch {
		case status == http.StatusTooManyRequests:
			e := newError("token", TypeThrottled, "token endpoint throttled the client", status)
			if re.Response != nil {
				e.RetryAfter = parseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now())
			}
			return e
		case status >= 500:
			return newError("token", TypeServerError, "token endpoint failed", status)
		case status == http.StatusBadRequest && re.ErrorCode != "" && re.ErrorCode != "invalid_client" && re.ErrorCode != "unauthorized_client":
			return newError("token", TypeInvalidRequest, "token request rejected ("+re.ErrorCode+")", status)
		case status >= 300 && status < 400:
			return newError("token", TypeUnexpectedRedirect, "token endpoint redirected; check the LMS base URL", status)
		case status == 0 || (status >= 200 && status < 300):
			return newError("token", TypeBadResponse, "token endpoint answered without a usable token", status)
		}
		return newError("token", TypeAuthenticationFailed, msg, status)
	}
	var ue *url.Error
	if errors.As(err, &ue) || ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return classifyTransport(ctx, "token", "token endpoint", err)
	}
	// The library's remaining errors are about an unusable answer
	// ("cannot parse json", "missing access_token").
	return newError("token", TypeBadResponse, "token endpoint answered without a usable token", 0)
}
