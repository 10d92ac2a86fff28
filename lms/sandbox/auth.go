package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// caller is who a request comes from.
type caller struct {
	// jwt: a valid token; username and staff describe its user.
	jwt      bool
	clientID string
	username string
	staff    bool
	// apiKey: a valid X-Edx-Api-Key ("privileged" in the LMS's words).
	apiKey bool
}

func (c caller) authenticated() bool { return c.jwt || c.apiKey }

// tokenClaims is the payload of the sandbox's JWT-ish tokens.
type tokenClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	ClientID string `json:"client_id"`
	Staff    bool   `json:"administrator"`
	IssuedAt int64  `json:"iat"`
	Expires  int64  `json:"exp"`
	// ExpiresMs is the exact expiry, so tests can use sub-second lifetimes.
	ExpiresMs int64 `json:"exp_ms"`
}

var b64 = base64.RawURLEncoding

// issueToken signs a token for the client.
func (l *LMS) issueToken(c OAuthClient, now time.Time) string {
	exp := now.Add(l.opts.TokenLifetime)
	claims := tokenClaims{Issuer: "sandbox-lms", Subject: c.Username, ClientID: c.ID, Staff: c.Staff,
		IssuedAt: now.Unix(), Expires: exp.Unix(), ExpiresMs: exp.UnixMilli()}
	payload, _ := json.Marshal(claims)
	signing := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + b64.EncodeToString(payload)
	return signing + "." + b64.EncodeToString(l.sign(signing))
}

func (l *LMS) sign(s string) []byte {
	m := hmac.New(sha256.New, l.signKey)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// verifyToken returns the token's claims, or the LMS's 401 detail.
func (l *LMS) verifyToken(tok string, now time.Time) (tokenClaims, string) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return tokenClaims{}, "Error decoding token."
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, l.sign(parts[0]+"."+parts[1])) {
		return tokenClaims{}, "Error decoding token."
	}
	payload, err := b64.DecodeString(parts[1])
	var claims tokenClaims
	if err != nil || json.Unmarshal(payload, &claims) != nil {
		return tokenClaims{}, "Error decoding token."
	}
	if now.UnixMilli() >= claims.ExpiresMs {
		return tokenClaims{}, "Signature has expired."
	}
	return claims, ""
}

// authenticate resolves the caller. A bad or expired token is a 401 even
// with a valid API key, as in the LMS (authentication runs before
// permissions). ok is false when the 401 has been written.
func (l *LMS) authenticate(w http.ResponseWriter, r *http.Request) (c caller, ok bool) {
	if key := r.Header.Get("X-Edx-Api-Key"); key != "" &&
		subtle.ConstantTimeCompare([]byte(key), []byte(l.opts.APIKey)) == 1 {
		c.apiKey = true
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return c, true
	}
	scheme, tok, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "JWT") && !strings.EqualFold(scheme, "Bearer") {
		return c, true // another scheme: not ours, as DRF ignores it
	}
	claims, detail := l.verifyToken(strings.TrimSpace(tok), l.now())
	if detail != "" {
		l.unauthorized(w, detail)
		return c, false
	}
	c.jwt, c.clientID, c.username, c.staff = true, claims.ClientID, claims.Subject, claims.Staff
	return c, true
}

func (l *LMS) unauthorized(w http.ResponseWriter, detail string) {
	l.mu.Lock()
	l.stats.Unauthorized++
	l.mu.Unlock()
	w.Header().Set("WWW-Authenticate", `JWT realm="api"`)
	writeJSON(w, http.StatusUnauthorized, map[string]any{"detail": detail})
}

// requireAuthenticated is the enrollment views' permission: the API key or
// any authenticated user.
func (l *LMS) requireAuthenticated(w http.ResponseWriter, c caller) bool {
	if !c.authenticated() {
		l.unauthorized(w, "Authentication credentials were not provided.")
		return false
	}
	return true
}

// requireStaff is IsAdminUser: a staff user's token; the API key alone is
// not a user.
func (l *LMS) requireStaff(w http.ResponseWriter, c caller) bool {
	if !c.jwt {
		l.unauthorized(w, "Authentication credentials were not provided.")
		return false
	}
	if !c.staff {
		writeJSON(w, http.StatusForbidden, map[string]any{"detail": "You do not have permission to perform this action."})
		return false
	}
	return true
}

// window is one caller's fixed throttle window.
type window struct {
	start time.Time
	count int
}

// throttled applies the enrollment views' user throttle to JWT callers
// without the API key (the key is exempt, as in the LMS). It writes the 429
// and returns true when the caller is over the limit.
func (l *LMS) throttled(w http.ResponseWriter, c caller) bool {
	limit := l.opts.JWTRequestsPerMinute
	if limit == 0 || c.apiKey || !c.jwt {
		return false
	}
	now := l.now()
	l.mu.Lock()
	win := l.throttle[c.clientID]
	if win == nil || now.Sub(win.start) >= time.Minute {
		win = &window{start: now}
		l.throttle[c.clientID] = win
	}
	win.count++
	over := win.count > limit
	wait := win.start.Add(time.Minute).Sub(now)
	if over {
		l.stats.Throttled++
	}
	l.mu.Unlock()
	if !over {
		return false
	}
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	writeThrottled(w, secs)
	return true
}

func writeThrottled(w http.ResponseWriter, secs int) {
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"detail": "Request was throttled. Expected available in " + strconv.Itoa(secs) + " seconds."})
}

// tokenPath is the OAuth2 token endpoint.
const tokenPath = "/oauth2/access_token"

// handleToken is POST /oauth2/access_token: the client credentials grant.
func (l *LMS) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c, known := l.clients[id]
	if !known || subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) != 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client"})
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unsupported_grant_type"})
		return
	}
	tokenType := "Bearer"
	if strings.EqualFold(r.PostForm.Get("token_type"), "jwt") {
		tokenType = "JWT"
	}
	now := l.now()
	tok := l.issueToken(c, now)
	l.mu.Lock()
	l.stats.TokenRequests++
	l.mu.Unlock()
	l.log.Debug("token issued", zap.String("client_id", c.ID), zap.Duration("lifetime", l.opts.TokenLifetime))
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"expires_in":   int(math.Ceil(l.opts.TokenLifetime.Seconds())),
		"scope":        "read write email profile",
		"token_type":   tokenType,
	})
}

// writeJSON writes v as the JSON body of a response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// AdminTokenHeader carries the admin API's token (Options.AdminToken) as
// "Authorization: Bearer <token>"; this header is an alternative that
// leaves Authorization to the LMS paths' credentials.
const AdminTokenHeader = "X-Sandbox-Admin-Token"

// adminOnly guards the admin API (/sandbox/): it holds learners' emails and
// can reset state and inject faults, so it answers only callers on this
// machine (403 otherwise, whatever address the sandbox listens on) and,
// when Options.AdminToken is set, only with that token (401).
func (l *LMS) adminOnly(next http.HandlerFunc) http.HandlerFunc {
	want := sha256.Sum256([]byte(l.opts.AdminToken))
	return func(w http.ResponseWriter, r *http.Request) {
		if !fromLoopback(r) {
			writeJSON(w, http.StatusForbidden, map[string]any{"error": "the sandbox admin API answers only callers on this machine"})
			return
		}
		if l.opts.AdminToken != "" {
			got := r.Header.Get(AdminTokenHeader)
			if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); got == "" && ok && strings.EqualFold(scheme, "Bearer") {
				got = strings.TrimSpace(tok)
			}
			sum := sha256.Sum256([]byte(got))
			if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="sandbox-admin"`)
				writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "send the sandbox admin token (Authorization: Bearer or " + AdminTokenHeader + ")"})
				return
			}
		}
		next(w, r)
	}
}

// fromLoopback reports whether r came from a loopback address.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
