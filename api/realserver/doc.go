// Package realserver holds tests of the HTTP API, the starter and the
// WooCommerce receiver against a real embedded Temporal server, worker and
// sandbox LMS (package stack). It has no code of its own; its tests link the
// Temporal server, so they live apart from the fast unit tests.
package realserver
