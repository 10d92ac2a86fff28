package lms

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/coursefulfill/fulfillment/internal/envconfig"
)

// Defaults applied by New when the matching Config field is zero.
const (
	// DefaultTimeout bounds one HTTP call to the LMS. ecommerce used 7 s.
	DefaultTimeout = 7 * time.Second
	// DefaultTokenRefreshEarly is how long before its expiry a JWT is
	// replaced (the WooCommerce plugin refreshes 300 s early).
	DefaultTokenRefreshEarly = 300 * time.Second
)

// Config configures a Client. Either ClientID and ClientSecret (OAuth2 client
// credentials, JWT) or APIKey (X-Edx-Api-Key) must be set; with both, every
// call carries both, which makes the caller privileged and unthrottled on the
// enrollment endpoints while still reaching the staff-only ones.
type Config struct {
	// BaseURL is the LMS root, for example https://lms.example.com.
	BaseURL string
	// ClientID and ClientSecret are the OAuth2 client credentials of a
	// (staff) service user. The secret is never logged nor put in errors.
	ClientID     string
	ClientSecret string
	// APIKey is the LMS's EDX_API_KEY, sent as X-Edx-Api-Key.
	APIKey string
	// Timeout bounds each HTTP call (default 7 s).
	Timeout time.Duration
	// RateLimit caps requests per second to the LMS; 0 means unlimited.
	RateLimit float64
	// Burst is the rate limiter's bucket size (default 1 when RateLimit > 0).
	Burst int
	// PreEnrollByEmail makes Enroll fall back to an enrollment_allowed
	// pre-enrollment when the learner has no LMS account yet.
	PreEnrollByEmail bool
	// TokenRefreshEarly is how long before its expiry a cached JWT is
	// replaced (default 300 s, never more than half the token's lifetime).
	TokenRefreshEarly time.Duration
	// HTTPClient is the client used for every call; nil means a default
	// client. Its redirect policy is overridden (the LMS API never
	// redirects; a redirect means a wrong BaseURL or a login page).
	HTTPClient *http.Client
	// Logger receives debug logs of calls; nil means no logs.
	Logger *zap.Logger
}

// Environment variables ConfigFromEnv reads. The secrets may instead be
// read from the file named by the variable with a _FILE suffix
// (LMS_CLIENT_SECRET_FILE, LMS_API_KEY_FILE).
const (
	EnvURL              = "LMS_URL"
	EnvClientID         = "LMS_CLIENT_ID"
	EnvClientSecret     = "LMS_CLIENT_SECRET"
	EnvAPIKey           = "LMS_API_KEY"
	EnvTimeout          = "LMS_TIMEOUT"
	EnvRateLimit        = "LMS_RATE_LIMIT"
	EnvRateBurst        = "LMS_RATE_BURST"
	EnvPreEnrollByEmail = "LMS_PRE_ENROLL_BY_EMAIL"
)

// ConfigFromEnv reads the client configuration from the environment (getenv
// is os.Getenv outside tests):
//
//	LMS_URL                 base URL (required)
//	LMS_CLIENT_ID           OAuth2 client id
//	LMS_CLIENT_SECRET       OAuth2 client secret, or LMS_CLIENT_SECRET_FILE
//	LMS_API_KEY             X-Edx-Api-Key value, or LMS_API_KEY_FILE
//	LMS_TIMEOUT             per-call timeout (Go duration, or seconds)
//	LMS_RATE_LIMIT          requests per second, 0 = unlimited
//	LMS_RATE_BURST          rate limiter burst
//	LMS_PRE_ENROLL_BY_EMAIL true to pre-enroll learners without an account
//
// It does not validate the result; call Validate (New does).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	cfg := Config{BaseURL: get(EnvURL), ClientID: get(EnvClientID)}
	var errs []error
	var err error
	if cfg.ClientSecret, err = envconfig.Secret(getenv, EnvClientSecret); err != nil {
		errs = append(errs, err)
	}
	if cfg.APIKey, err = envconfig.Secret(getenv, EnvAPIKey); err != nil {
		errs = append(errs, err)
	}
	if v := get(EnvTimeout); v != "" {
		if cfg.Timeout, err = parseDuration(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", EnvTimeout, err))
		}
	}
	if v := get(EnvRateLimit); v != "" {
		if cfg.RateLimit, err = strconv.ParseFloat(v, 64); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a number", EnvRateLimit, v))
		}
	}
	if v := get(EnvRateBurst); v != "" {
		if cfg.Burst, err = strconv.Atoi(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not an integer", EnvRateBurst, v))
		}
	}
	if v := get(EnvPreEnrollByEmail); v != "" {
		if cfg.PreEnrollByEmail, err = strconv.ParseBool(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a boolean", EnvPreEnrollByEmail, v))
		}
	}
	return cfg, errors.Join(errs...)
}

// parseDuration accepts a Go duration ("7s", "1500ms") or plain seconds ("7").
func parseDuration(s string) (time.Duration, error) {
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(secs * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither a duration nor seconds", s)
	}
	return d, nil
}

// Validate reports every problem with the configuration. Its messages name
// fields, never secret values.
func (c Config) Validate() error {
	var errs []error
	if c.BaseURL == "" {
		errs = append(errs, errors.New("lms: BaseURL (LMS_URL) is required"))
	} else if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("lms: BaseURL (LMS_URL) must be an absolute http(s) URL"))
	} else if u.User != nil {
		errs = append(errs, errors.New("lms: BaseURL (LMS_URL) must not carry credentials"))
	}
	hasOAuth := c.ClientID != "" || c.ClientSecret != ""
	switch {
	case hasOAuth && c.ClientID == "":
		errs = append(errs, errors.New("lms: ClientSecret is set but ClientID (LMS_CLIENT_ID) is empty"))
	case hasOAuth && c.ClientSecret == "":
		errs = append(errs, errors.New("lms: ClientID is set but ClientSecret (LMS_CLIENT_SECRET) is empty"))
	case !hasOAuth && c.APIKey == "":
		errs = append(errs, errors.New("lms: credentials are required: ClientID+ClientSecret and/or APIKey"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("lms: Timeout must not be negative"))
	}
	if c.RateLimit < 0 {
		errs = append(errs, errors.New("lms: RateLimit must not be negative"))
	}
	if c.Burst < 0 {
		errs = append(errs, errors.New("lms: Burst must not be negative"))
	}
	if c.TokenRefreshEarly < 0 {
		errs = append(errs, errors.New("lms: TokenRefreshEarly must not be negative"))
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields with their defaults.
func (c Config) withDefaults() Config {
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RateLimit > 0 && c.Burst == 0 {
		c.Burst = 1
	}
	if c.TokenRefreshEarly == 0 {
		c.TokenRefreshEarly = DefaultTokenRefreshEarly
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}
