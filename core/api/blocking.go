package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultQueryWait is the wait of a blocking query that gives ?index=
// without ?wait=.
const DefaultQueryWait = 5 * time.Minute

// nonBlocking are the read routes that take no ?index=: the event log has
// its own index (an event sequence number), the assignment stream and the
// snapshot download are streams, and the status routes answer at once.
var nonBlocking = map[string]bool{
	"GET /v1/events":             true,
	"GET /v1/client/assignments": true,
	"GET /v1/operator/snapshot":  true,
	"GET /v1/metrics":            true,
	"GET /v1/health":             true,
	"GET /v1/status/leader":      true,
	"GET /v1/status/peers":       true,
	"GET /v1/status/self":        true,
	"GET /v1/operator/members":   true,
}

// blocks reports whether pattern is a list or get route that supports
// blocking queries.
func blocks(pattern string) bool {
	return strings.HasPrefix(pattern, "GET ") && !nonBlocking[pattern]
}

// blockingQuery parses ?index= and ?wait= and, when index is set, waits
// until the FSM has applied an entry past it, the wait passes or the caller
// goes away. Any applied entry wakes it: the index is the raft index of the
// whole store, not of one table, so a wake can find the answer unchanged
// (the caller compares and asks again). An idle fabric applies nothing.
func (h *HTTP) blockingQuery(r *http.Request) error {
	q := r.URL.Query()
	index, err := uintParam(q.Get("index"), "index")
	if err != nil {
		return err
	}
	wait := DefaultQueryWait
	if s := q.Get("wait"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return badRequest("wait", "wait must be a duration such as 30s")
		}
		wait = d
	}
	wait = min(wait, h.cfg.MaxEventWait)
	if index == 0 || h.b.AppliedIndex() > index {
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	// A timeout or a caller that left both end the wait; the answer is
	// then the current state, as after a change.
	_ = h.b.WaitIndex(ctx, index+1)
	return nil
}

// setIndex writes the index header. It is taken before the handler reads,
// so the answer holds at least the state at that index: a caller that
// blocks on it never misses a change.
func (h *HTTP) setIndex(w http.ResponseWriter) {
	w.Header().Set(IndexHeader, strconv.FormatUint(h.b.AppliedIndex(), 10))
}

// allowed returns the methods that have a route for r's path, in order.
func (h *HTTP) allowed(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "" && pattern != "/" {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

// unrouted answers a request that matches no route: 405 with Allow when its
// path has routes for other methods, 404 otherwise.
func (h *HTTP) unrouted(w http.ResponseWriter, r *http.Request) {
	if allow := h.allowed(r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		h.writeError(w, &apiError{status: http.StatusMethodNotAllowed,
			msg: "method " + r.Method + " not allowed on " + r.URL.Path + "; allowed: " + strings.Join(allow, ", ")})
		return
	}
	h.writeError(w, notFound("no route %s %s", r.Method, r.URL.Path))
}
