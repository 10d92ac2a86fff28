// Package sandbox is a faithful stand-in for an Open edX LMS: the Enrollment
// API v1, enrollment_allowed pre-enrollments, the Entitlements API v1 and the
// OAuth2 token endpoint, as an http.Handler.
//
// It reproduces the LMS's behaviour closely enough that tests against it
// prove a client safe against the real one: the same paths, bodies, status
// codes and messages, the empty 200 for a missing enrollment, the privileged
// update path without a downgrade guard, the add path's check order (course
// exists, enrollment open, not full, already enrolled) and the idempotency
// quirks (a re-post fails once enrollment has closed; unenrolling a learner
// who was never enrolled creates and then deactivates an enrollment;
// deactivating an inactive enrollment re-activates and deactivates it).
//
// Beside the LMS paths it serves an admin API under /sandbox/ to inspect
// state (with a count of state-changing writes per enrollment), add courses
// and users, and inject faults.
package sandbox

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Default development credentials. The dev command wires the client and the
// sandbox together with them; they protect nothing.
const (
	DevClientID     = "fulfillment-dev"
	DevClientSecret = "fulfillment-dev-secret"
	DevAPIKey       = "fulfillment-dev-api-key"
	// ServiceUsername is the LMS user the OAuth2 client acts as: a global
	// staff service user, like ecommerce's worker.
	ServiceUsername = "fulfillment_worker"
	// DefaultTokenLifetime is the lifetime of issued tokens (the LMS's).
	DefaultTokenLifetime = time.Hour
)

// OAuthClient is an OAuth2 client the token endpoint accepts.
type OAuthClient struct {
	ID       string
	Secret   string
	Username string
	// Staff makes the client's user global staff: it may enroll others, in
	// any mode, change and deactivate enrollments, and use the staff-only
	// endpoints (enrollment listing, enrollment_allowed, entitlements).
	Staff bool
}

// Options configures a sandbox LMS.
type Options struct {
	// StateFile, when set, persists enrollments, pre-enrollments,
	// entitlements and users and courses added at run time across restarts.
	StateFile string
	// CatalogFile and UsersFile replace the built-in catalog
	// (DefaultCourses) and user directory (DefaultUsers). JSON lists.
	CatalogFile string
	UsersFile   string
	// AutoRegister creates unknown learners on first use instead of
	// answering 406.
	AutoRegister bool
	// ClientID and ClientSecret are the staff service user's OAuth2 client
	// credentials; APIKey is the X-Edx-Api-Key. Empty means the Dev*
	// constants.
	ClientID     string
	ClientSecret string
	APIKey       string
	// Clients are further OAuth2 clients (for example an unprivileged
	// learner, to see the LMS's 403 and 404 answers).
	Clients []OAuthClient
	// TokenLifetime is the lifetime of issued tokens (default one hour).
	// expires_in is rounded up to whole seconds, the token itself expires
	// exactly, so sub-second lifetimes test a client's handling of 401.
	TokenLifetime time.Duration
	// JWTRequestsPerMinute throttles JWT callers without the API key on the
	// enrollment endpoints (429 with Retry-After); 0 means no throttling.
	JWTRequestsPerMinute int
	// AdminToken, when set, is required by the admin API under /sandbox/
	// (Authorization: Bearer, or X-Sandbox-Admin-Token). The admin API
	// answers only loopback callers either way.
	AdminToken string
	// Faults are injected from start-up (see also POST /sandbox/faults).
	Faults Faults
	// Logger receives request logs; nil means none.
	Logger *zap.Logger
	// Now is the sandbox's clock (default time.Now).
	Now func() time.Time
}

// LMS is a sandbox LMS. It is safe for concurrent use.
type LMS struct {
	opts    Options
	log     *zap.Logger
	now     func() time.Time
	signKey []byte
	clients map[string]OAuthClient
	handler http.Handler

	// closing is closed by Close, to end held answers.
	closing chan struct{}

	mu          sync.Mutex
	closed      bool
	courses     map[string]*Course // by course id
	courseOrder []string
	users       map[string]User   // by username
	byEmail     map[string]string // email -> username
	addedUsers  []string          // usernames added at run time (persisted)
	addedCourse map[string]bool   // course ids added or changed at run time (persisted)
	enrollments map[enrollmentKey]*enrollment
	allowed     map[allowedKey]*allowance
	entitle     map[string]*entitlement // by uuid
	journal     *journal                // with a StateFile: the changes since its snapshot
	faults      faultState
	throttle    map[string]*window
	stats       Stats
}

// Stats counts what the sandbox has served.
type Stats struct {
	// Requests counts LMS requests (not admin ones).
	Requests int `json:"requests"`
	// TokenRequests counts token endpoint requests that issued a token.
	TokenRequests int `json:"token_requests"`
	// Throttled counts 429s from the JWT throttle.
	Throttled int `json:"throttled"`
	// InjectedFaults counts answers replaced by a fault.
	InjectedFaults int `json:"injected_faults"`
	// Unauthorized counts 401s.
	Unauthorized int `json:"unauthorized"`
}

// New returns a sandbox LMS loaded from opts' files (or the built-in
// catalog and users) and its state file.
func New(opts Options) (*LMS, error) {
	if opts.ClientID == "" {
		opts.ClientID = DevClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DevClientSecret
	}
	if opts.APIKey == "" {
		opts.APIKey = DevAPIKey
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = DefaultTokenLifetime
	}
	if opts.JWTRequestsPerMinute < 0 {
		return nil, errors.New("sandbox: JWTRequestsPerMinute must not be negative")
	}
	if err := opts.Faults.validate(); err != nil {
		return nil, err
	}
	l := &LMS{
		opts:        opts,
		log:         opts.Logger,
		now:         opts.Now,
		clients:     map[string]OAuthClient{},
		courses:     map[string]*Course{},
		users:       map[string]User{},
		byEmail:     map[string]string{},
		addedCourse: map[string]bool{},
		enrollments: map[enrollmentKey]*enrollment{},
		allowed:     map[allowedKey]*allowance{},
		entitle:     map[string]*entitlement{},
		throttle:    map[string]*window{},
		closing:     make(chan struct{}),
	}
	if l.log == nil {
		l.log = zap.NewNop()
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.signKey = make([]byte, 32)
	if _, err := rand.Read(l.signKey); err != nil {
		return nil, fmt.Errorf("sandbox: signing key: %w", err)
	}
	l.clients[opts.ClientID] = OAuthClient{ID: opts.ClientID, Secret: opts.ClientSecret, Username: ServiceUsername, Staff: true}
	for _, c := range opts.Clients {
		if c.ID == "" || c.Secret == "" || c.Username == "" {
			return nil, errors.New("sandbox: every OAuth client needs an ID, a Secret and a Username")
		}
		if _, dup := l.clients[c.ID]; dup {
			return nil, fmt.Errorf("sandbox: duplicate OAuth client %q", c.ID)
		}
		l.clients[c.ID] = c
	}

	courses := DefaultCourses()
	if opts.CatalogFile != "" {
		var err error
		if courses, err = loadCourses(opts.CatalogFile); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	for _, c := range courses {
		l.putCourse(c)
	}
	users := DefaultUsers()
	if opts.UsersFile != "" {
		var err error
		if users, err = loadUsers(opts.UsersFile); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	for _, u := range users {
		l.putUser(u)
	}
	if opts.StateFile != "" {
		if err := l.load(); err != nil {
			return nil, fmt.Errorf("sandbox: state file %s: %w", opts.StateFile, err)
		}
		if err := l.openJournal(); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	l.setFaults(opts.Faults)
	l.handler = l.routes()
	return l, nil
}

// Handler returns the sandbox's HTTP handler: the LMS paths and /sandbox/.
func (l *LMS) Handler() http.Handler { return l.handler }

// Close saves the state (when persisted). Requests after Close get 503.
func (l *LMS) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.closing)
	return l.closeJournal()
}

// Stats returns the request counters.
func (l *LMS) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// putCourse adds or replaces a course, its course UUID in canonical form.
// Callers hold mu (or own l).
func (l *LMS) putCourse(c Course) {
	if _, ok := l.courses[c.CourseID]; !ok {
		l.courseOrder = append(l.courseOrder, c.CourseID)
	}
	cc := c
	if canon, ok := canonicalUUID(c.CourseUUID); ok {
		cc.CourseUUID = canon
	}
	l.courses[c.CourseID] = &cc
}

// putUser adds or replaces a user. Callers hold mu (or own l).
func (l *LMS) putUser(u User) {
	if old, ok := l.users[u.Username]; ok {
		delete(l.byEmail, normEmail(old.Email))
	}
	l.users[u.Username] = u
	l.byEmail[normEmail(u.Email)] = u.Username
}
