// Package contract is what the order workflows and their callers agree on:
// the names of workflows, activities, signals, queries and updates, the
// workflow-ID scheme, the wire types (order input, status document, refund
// and retry requests and results), the typed states and the error-type
// vocabulary, and the rules both sides apply (which lines a refund revokes,
// with which grant; what state an order's lines add up to).
//
// It links no workflow, activity, module or LMS code, so the HTTP API, the
// starter, the WooCommerce receiver and the CLI depend on it alone.
package contract
