package lms

import (
	"net/http"
	"time"
)

// maxIdleConnsPerHost is how many idle connections to the LMS the client
// keeps for reuse. Go's default of 2 is far below the calls a worker makes
// at once (every line in flight makes one), so most calls would open a new
// connection (a TCP handshake, and a TLS one for a real LMS) and leave
// another in TIME_WAIT.
const maxIdleConnsPerHost = 128

// newTransport is the client's HTTP transport: Go's default, keeping
// enough idle connections to the LMS for the calls in flight.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2 * maxIdleConnsPerHost
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	t.IdleConnTimeout = 90 * time.Second
	return t
}
