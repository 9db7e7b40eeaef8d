package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/planetary/planetary/core/server"
)

// ForwardedHeader marks a request one server forwarded to the leader; it is
// never forwarded again (a server that lost leadership answers 503 instead).
const ForwardedHeader = "X-Planetary-Forwarded"

// routeMode says where a route may be served.
type routeMode uint8

const (
	// modeRead routes are consistent reads: the leader serves them after a
	// read barrier, a follower forwards them, and ?stale=true serves the
	// local (possibly stale) state on any server.
	modeRead routeMode = iota
	// modeWrite routes propose to raft: a follower forwards them.
	modeWrite
	// modeLocal routes describe or stream from the server that answers
	// (health, status, metrics, the assignment stream, events).
	modeLocal
)

// localRoutes are served by whichever server receives them. The assignment
// and control streams are built from committed state, so a follower serves
// them as well as the leader.
var localRoutes = map[string]bool{
	"GET /v1/health":             true,
	"GET /v1/status/leader":      true,
	"GET /v1/status/peers":       true,
	"GET /v1/status/self":        true,
	"GET /v1/metrics":            true,
	"GET /v1/events":             true,
	"GET /v1/client/assignments": true,
	"POST /v1/client/control":    true,
	"GET /v1/operator/members":   true,
}

func modeOf(pattern string, write bool) routeMode {
	switch {
	case write:
		return modeWrite
	case localRoutes[pattern]:
		return modeLocal
	}
	return modeRead
}

// isStale reports ?stale=true (or a bare ?stale).
func isStale(r *http.Request) bool {
	q := r.URL.Query()
	if !q.Has("stale") {
		return false
	}
	v := q.Get("stale")
	if v == "" {
		return true
	}
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// forward proxies r to the leader's API and reports whether it did. It
// does not when forwarding is off, the request was already forwarded once,
// or the leader's address is not known.
func (h *HTTP) forward(w http.ResponseWriter, r *http.Request) bool {
	if h.cfg.LeaderAPI == nil || r.Header.Get(ForwardedHeader) != "" {
		return false
	}
	target := h.cfg.LeaderAPI()
	if target == "" {
		return false
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return false
	}
	h.metrics.forwarded.Inc()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = u.Host
			pr.Out.Header.Set(ForwardedHeader, "1")
		},
		Transport:     h.proxyTransport(),
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			h.log.Warn("forwarding to the leader failed", "leader", target, "path", r.URL.Path, "error", err)
			ae := h.noLeader()
			ae.msg = "forwarding to the leader failed: " + err.Error()
			h.writeError(w, ae)
		},
	}
	proxy.ServeHTTP(w, r)
	return true
}

func (h *HTTP) proxyTransport() http.RoundTripper {
	h.transportOnce.Do(func() {
		if h.cfg.Transport != nil {
			h.transport = h.cfg.Transport
			return
		}
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = h.cfg.PeerTLS
		t.MaxIdleConnsPerHost = 64
		h.transport = t
	})
	return h.transport
}

// peerScheme is the scheme of peers' API addresses.
func (h *HTTP) peerScheme() string {
	if h.cfg.PeerTLS != nil {
		return "https"
	}
	return "http"
}

// ---- cluster routes

func (h *HTTP) self(w http.ResponseWriter, r *http.Request) (any, error) {
	return h.b.Self(), nil
}

func (h *HTTP) digest(w http.ResponseWriter, r *http.Request) (any, error) {
	d, idx := h.b.Digest()
	return Digest{Digest: hex.EncodeToString(d[:]), AppliedIndex: idx}, nil
}

func (h *HTTP) raftJoin(w http.ResponseWriter, r *http.Request) (any, error) {
	var req RaftJoin
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	if req.ID == "" || req.RaftAddr == "" {
		return nil, badRequest("id", "id and raft_addr are required")
	}
	if err := h.b.AddVoter(r.Context(), req.ID, req.RaftAddr); err != nil {
		return nil, err
	}
	h.b.SetHTTPAddr(req.ID, req.HTTPAddr)
	h.log.Info("server joined", "id", req.ID, "raft_addr", req.RaftAddr, "http_addr", req.HTTPAddr, "by", caller(r).actor())
	return h.b.Self(), nil
}

func (h *HTTP) raftRemovePeer(w http.ResponseWriter, r *http.Request) (any, error) {
	var req RaftPeerRequest
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	if req.ID == "" {
		return nil, badRequest("id", "id is required")
	}
	known := false
	ps, err := h.b.Peers()
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		known = known || p.ID == req.ID
	}
	if !known {
		return nil, notFound("no raft server %q", req.ID)
	}
	if err := h.b.RemoveServer(r.Context(), req.ID); err != nil {
		return nil, err
	}
	h.log.Info("raft server removed", "id", req.ID, "by", caller(r).actor())
	return struct{}{}, nil
}

func (h *HTTP) raftTransferLeader(w http.ResponseWriter, r *http.Request) (any, error) {
	var req RaftPeerRequest
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	if err := h.b.TransferLeadership(r.Context(), req.ID); err != nil {
		return nil, err
	}
	if req.ID != "" {
		return LeaderInfo{ID: req.ID}, nil // raft confirmed the transfer to it
	}
	addr, id := h.b.Leader()
	return LeaderInfo{Address: addr, ID: id}, nil
}

// members lists the raft servers with what each says about itself (asked
// over its own API, in parallel; an unreachable one is listed with Error).
func (h *HTTP) members(w http.ResponseWriter, r *http.Request) (any, error) {
	ps, err := h.b.Peers()
	if err != nil {
		return nil, err
	}
	addrs := h.b.Self().Members
	out := make([]Member, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		out[i] = Member{ID: p.ID, RaftAddr: p.Address, HTTPAddr: addrs[p.ID], Voter: p.Suffrage == "Voter", Leader: p.Leader, LastContactMs: -1}
		if out[i].HTTPAddr == "" {
			out[i].Error = "HTTP address not known yet"
			continue
		}
		wg.Add(1)
		go func(m *Member) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			si, err := h.peerSelf(ctx, m.HTTPAddr)
			if err != nil {
				m.Error = err.Error()
				return
			}
			m.State, m.Term, m.AppliedIndex, m.LastIndex, m.LastContactMs = si.State, si.Term, si.AppliedIndex, si.LastIndex, si.LastContactMs
		}(&out[i])
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (h *HTTP) peerSelf(ctx context.Context, base string) (server.SelfInfo, error) {
	var si server.SelfInfo
	if !strings.Contains(base, "://") {
		base = h.peerScheme() + "://" + base
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/v1/status/self", nil)
	if err != nil {
		return si, err
	}
	resp, err := (&http.Client{Transport: h.proxyTransport()}).Do(req)
	if err != nil {
		return si, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return si, &Error{Status: resp.StatusCode, Message: resp.Status}
	}
	return si, json.NewDecoder(resp.Body).Decode(&si)
}
