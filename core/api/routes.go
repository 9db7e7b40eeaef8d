package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/planetary/planetary/raftfsm"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// Route table. The third column is the access a caller needs; the fourth
// says whether the route proposes to raft (and so needs the leader).
func (h *HTTP) routes() {
	h.handle("GET /v1/health", accessOpen, false, h.health)
	h.handle("GET /v1/status/leader", accessRead, false, h.leader)
	h.handle("GET /v1/status/peers", accessRead, false, h.peers)
	h.handle("GET /v1/metrics", accessRead, false, h.metricsHandler)
	h.handle("GET /v1/status/self", accessOpen, false, h.self)
	h.handle("GET /v1/status/digest", accessRead, false, h.digest)
	h.handle("GET /v1/operator/members", accessRead, false, h.members)
	h.handle("POST /v1/operator/raft/join", accessManagement, true, h.raftJoin)
	h.handle("POST /v1/operator/raft/remove-peer", accessManagement, true, h.raftRemovePeer)
	h.handle("POST /v1/operator/raft/transfer-leader", accessManagement, true, h.raftTransferLeader)

	h.handle("POST /v1/acl/bootstrap", accessOpen, true, h.aclBootstrap)
	h.handle("POST /v1/acl/tokens", accessManagement, true, h.aclCreate)
	h.handle("GET /v1/acl/tokens", accessManagement, false, h.aclList)
	h.handle("POST /v1/acl/client/{name}/revoke", accessManagement, true, h.clientRevoke)

	h.handle("GET /v1/mission", accessRead, false, h.missionGet)
	h.handle("PUT /v1/mission", accessManagement, true, h.missionPut)

	h.handle("POST /v1/jobs", accessSubmit, true, h.jobsSubmit)
	h.handle("GET /v1/jobs", accessRead, false, h.jobsList)
	h.handle("GET /v1/job/{id}", accessRead, false, h.jobGet)
	h.handle("POST /v1/job/{id}/cancel", accessManagement, true, h.jobCancel)
	h.handle("POST /v1/job/{id}/reroute", accessManagement, true, h.jobReroute)
	h.handle("POST /v1/jobs/cancel", accessManagement, true, h.locatorCancel)
	h.handle("POST /v1/jobs/reroute", accessManagement, true, h.locatorReroute)

	h.handle("GET /v1/shards", accessRead, false, h.shardsList)
	h.handle("POST /v1/shards", accessManagement, true, h.shardRegister)
	h.handle("GET /v1/shard/{name}", accessRead, false, h.shardGet)
	h.handle("POST /v1/shard/{name}/update", accessManagement, true, h.shardUpdate)
	h.handle("POST /v1/shard/{name}/deregister", accessManagement, true, h.shardDeregister)

	h.handle("GET /v1/nodes", accessRead, false, h.nodesList)
	h.handle("POST /v1/nodes", accessManagement, true, h.nodeRegister)
	h.handle("GET /v1/node/{id}", accessRead, false, h.nodeGet)
	h.handle("POST /v1/node/{id}/update", accessManagement, true, h.nodeUpdate)
	h.handle("POST /v1/node/{id}/retire", accessManagement, true, h.nodeRetire)

	h.handle("POST /v1/operator/pause", accessManagement, true, h.pause(true))
	h.handle("POST /v1/operator/resume", accessManagement, true, h.pause(false))
	h.handle("POST /v1/operator/checkpoint", accessManagement, true, h.checkpointConfigure)
	h.handle("POST /v1/operator/checkpoint/save", accessManagement, true, h.checkpointSave)
	h.handle("POST /v1/operator/gc", accessManagement, true, h.operatorGC)
	h.handle("POST /v1/operator/reporting", accessManagement, true, h.reportingConfigure)
	h.handle("GET /v1/operator/snapshot", accessManagement, false, h.snapshotSave)
	h.handle("PUT /v1/operator/snapshot", accessManagement, true, h.snapshotRestore)

	h.handle("GET /v1/ledger", accessRead, false, h.ledger)
	h.handle("GET /v1/events", accessRead, false, h.events)
	h.handle("GET /v1/events/retention", accessRead, false, h.eventRetention)
	h.handle("GET /v1/topology.svg", accessRead, false, h.topologySVG)

	h.handle("POST /v1/client/join", accessJoin, true, h.clientJoin)
	h.handle("POST /v1/client/register", accessClient, true, h.clientRegister)
	h.handle("POST /v1/client/heartbeat", accessClient, true, h.clientHeartbeat)
	h.handle("GET /v1/client/assignments", accessClient, false, h.clientAssignments)
	h.handle("POST /v1/client/control", accessClient, false, h.clientControl)
	h.handle("POST /v1/client/results", accessClient, true, h.clientResults)
	h.handle("POST /v1/client/nodes/state", accessClient, true, h.clientNodeState)

	h.mux.HandleFunc("/", h.unrouted)
}

func (h *HTTP) health(w http.ResponseWriter, r *http.Request) (any, error) {
	addr, _ := h.b.Leader()
	out := Health{Status: "ok", Leader: h.b.IsLeader(), LeaderAddr: addr, AppliedIndex: h.b.AppliedIndex()}
	if addr == "" {
		out.Status = "no leader"
	}
	if d := h.b.Disk(); d.Full {
		out.Status, out.Message = "disk full", d.Err.Error()
	}
	if rd := h.b.Readiness(); !rd.Ready {
		out.Status, out.AppliedIndex, out.ReplayTarget, out.Message = "starting", rd.Applied, rd.Target, rd.Error().Error()
		if rd.Halted != nil {
			out.Status = "halted"
		}
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, out)
		return nil, nil
	}
	return out, nil
}

func (h *HTTP) leader(w http.ResponseWriter, r *http.Request) (any, error) {
	addr, id := h.b.Leader()
	return LeaderInfo{Address: addr, ID: id}, nil
}

func (h *HTTP) peers(w http.ResponseWriter, r *http.Request) (any, error) {
	ps, err := h.b.Peers()
	if err != nil {
		return nil, err
	}
	out := make([]Peer, len(ps))
	for i, p := range ps {
		out[i] = Peer{ID: p.ID, Address: p.Address, Suffrage: p.Suffrage, Leader: p.Leader}
	}
	return out, nil
}

// ---- ACL

func newSecret() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("api: token secret: %w", err)
	}
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:], nil
}

func (h *HTTP) newToken(name string, typ state.TokenType) (state.Token, string, error) {
	secret, err := newSecret()
	if err != nil {
		return state.Token{}, "", err
	}
	acc, err := newSecret()
	if err != nil {
		return state.Token{}, "", err
	}
	return state.Token{AccessorID: acc, SecretHash: HashSecret(secret), Type: typ, Name: name, CreatedAt: h.b.Now()}, secret, nil
}

func (h *HTTP) aclBootstrap(w http.ResponseWriter, r *http.Request) (any, error) {
	done := false
	h.b.Read(func(s *state.Store) { done = s.ACLBootstrapped() })
	if done {
		return nil, &apiError{status: http.StatusConflict, msg: "ACL already bootstrapped"}
	}
	tok, secret, err := h.newToken("bootstrap", state.TokenManagement)
	if err != nil {
		return nil, err
	}
	// The secret is generated here; only its sha256 is replicated.
	if _, err := h.b.Apply(r.Context(), command.ACLBootstrapType, &command.ACLBootstrap{Time: tok.CreatedAt, Token: tok}); err != nil {
		return nil, err
	}
	return Token{AccessorID: tok.AccessorID, SecretID: secret, Name: tok.Name, Type: tok.Type.String(), CreatedAt: tok.CreatedAt}, nil
}

func (h *HTTP) aclCreate(w http.ResponseWriter, r *http.Request) (any, error) {
	var req TokenRequest
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	typ, ok := ParseTokenType(req.Type)
	if !ok {
		return nil, badRequest("type", "token type %q is not read, submit, management or client", req.Type)
	}
	if req.Name == "" {
		return nil, badRequest("name", "token name is required")
	}
	tok, secret, err := h.newToken(req.Name, typ)
	if err != nil {
		return nil, err
	}
	if _, err := h.b.Apply(r.Context(), command.ACLTokenCreateType, &command.ACLTokenCreate{Meta: h.meta(r, ""), Token: tok}); err != nil {
		return nil, err
	}
	return Token{AccessorID: tok.AccessorID, SecretID: secret, Name: tok.Name, Type: tok.Type.String(), CreatedAt: tok.CreatedAt}, nil
}

func (h *HTTP) aclList(w http.ResponseWriter, r *http.Request) (any, error) {
	out := []Token{}
	h.b.Read(func(s *state.Store) {
		for _, t := range s.Tokens() {
			out = append(out, Token{AccessorID: t.AccessorID, Name: t.Name, Type: t.Type.String(), CreatedAt: t.CreatedAt,
				RevokedAt: t.RevokedAt})
		}
	})
	return out, nil
}

// ---- jobs

func outcomeStatus(s raftfsm.OutcomeStatus) string {
	switch s {
	case raftfsm.Applied:
		return StatusAccepted
	case raftfsm.Duplicate:
		return StatusDuplicate
	}
	return StatusRejected
}

func (h *HTTP) jobsSubmit(w http.ResponseWriter, r *http.Request) (any, error) {
	start := time.Now()
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
	req, err := decodeSubmit(r.Body)
	if err != nil {
		return nil, err
	}
	jobs, err := validateSubmit(req)
	if err != nil {
		return nil, err
	}
	if err := h.requireShards(jobs); err != nil {
		return nil, err
	}
	outs, err := h.b.Submit(r.Context(), jobs, caller(r).actor())
	if err != nil {
		return nil, err
	}
	res := make([]SubmitResult, len(outs))
	for i, o := range outs {
		res[i] = SubmitResult{ID: o.ID, Status: outcomeStatus(o.Status), Reason: o.Reason}
	}
	h.metrics.submitLatency.Observe(time.Since(start).Seconds())
	return res, nil
}

const (
	defaultJobLimit = 100
	maxJobLimit     = 10000
)

func (h *HTTP) jobsList(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	var want state.JobState
	if s := q.Get("state"); s != "" {
		st, ok := state.ParseJobState(s)
		if !ok {
			return nil, badRequest("state", "unknown job state %q", s)
		}
		want = st
	}
	after, err := uintParam(q.Get("after"), "after")
	if err != nil {
		return nil, err
	}
	limit := defaultJobLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, badRequest("limit", "limit must be a positive integer")
		}
		limit = min(n, maxJobLimit)
	}
	// q= keeps the jobs whose id contains it (a text search on ids).
	shard, node, text := q.Get("shard"), q.Get("node"), q.Get("q")
	out := JobList{Jobs: []Job{}}
	h.b.Read(func(s *state.Store) {
		n := s.NumJobs()
		for seq := max(after+1, s.FirstSeq()); seq <= uint64(n); seq++ {
			j := s.JobBySeq(seq)
			if j == nil || (want != state.JobUnknown && j.State != want) ||
				(shard != "" && j.Shard != shard) || (node != "" && j.Node != node) ||
				(text != "" && !strings.Contains(j.ID, text)) {
				continue
			}
			if len(out.Jobs) == limit {
				out.Next = out.Jobs[len(out.Jobs)-1].Seq
				return
			}
			out.Jobs = append(out.Jobs, JobView(j))
		}
	})
	return out, nil
}

func uintParam(s, name string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, badRequest(name, "%s must be a non-negative integer", name)
	}
	return n, nil
}

func (h *HTTP) jobGet(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	var out *Job
	h.b.Read(func(s *state.Store) {
		if j := s.Job(id); j != nil {
			v := JobView(j)
			out = &v
		}
	})
	if out == nil {
		return nil, h.jobNotFound(id)
	}
	return out, nil
}

// jobNotFound is the 404 of a job id: a collected job's tomb says when it
// was collected (docs/retention.md), any other id is not found.
func (h *HTTP) jobNotFound(id string) error {
	var (
		t  state.Tomb
		ok bool
	)
	h.b.Read(func(s *state.Store) { t, ok = s.CollectedByID(id) })
	if !ok {
		return notFound("job %q not found", id)
	}
	msg := fmt.Sprintf("job %q collected at %s (mission time %d", id, time.Unix(0, t.CollectedAt).UTC().Format(time.RFC3339Nano), t.CollectedAt)
	if t.CollectedIndex > 0 {
		msg += fmt.Sprintf(", raft index %d", t.CollectedIndex)
	}
	return notFound("%s): it was %s and its record is gone; its share of the ledger stays in the totals", msg, t.State)
}

// requireJob answers 404 unless the job exists.
func (h *HTTP) requireJob(id string) error {
	ok := false
	h.b.Read(func(s *state.Store) { ok = s.Job(id) != nil })
	if !ok {
		return h.jobNotFound(id)
	}
	return nil
}

func (h *HTTP) requireShard(name, field string) error {
	if name == "" {
		return badRequest(field, "%s is required", field)
	}
	ok := false
	h.b.Read(func(s *state.Store) { ok = s.Shard(name) != nil })
	if !ok {
		if field == "" {
			return notFound("shard %q not found", name)
		}
		return &apiError{status: http.StatusNotFound, field: field, msg: fmt.Sprintf("shard %q not found", name)}
	}
	return nil
}

func (h *HTTP) requireNode(id string) error {
	ok := false
	h.b.Read(func(s *state.Store) { ok = s.Node(id) != nil })
	if !ok {
		return notFound("node %q not found", id)
	}
	return nil
}

func (h *HTTP) jobCancel(w http.ResponseWriter, r *http.Request) (any, error) {
	var req OwnerRequest
	if err := h.decodeOptional(w, r, &req); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if err := h.requireJob(id); err != nil {
		return nil, err
	}
	return h.apply(r, command.JobCancelType, &command.JobCancel{Meta: h.meta(r, req.Reason), IDs: []string{id}})
}

func (h *HTTP) jobReroute(w http.ResponseWriter, r *http.Request) (any, error) {
	var req RerouteRequest
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if err := h.requireJob(id); err != nil {
		return nil, err
	}
	if err := h.requireShard(req.Shard, "shard"); err != nil {
		return nil, err
	}
	return h.apply(r, command.JobRerouteType, &command.JobReroute{Meta: h.meta(r, req.Reason), IDs: []string{id}, Target: req.Shard})
}

func (h *HTTP) locator(w http.ResponseWriter, r *http.Request) (Locator, error) {
	var req Locator
	if err := h.decode(w, r, &req); err != nil {
		return req, err
	}
	if err := h.requireShard(req.Shard, "shard"); err != nil {
		return req, err
	}
	if req.Tail <= 0 {
		return req, badRequest("tail", "tail must be positive")
	}
	if req.Offset < 0 {
		return req, badRequest("offset", "offset must not be negative")
	}
	return req, nil
}

func (h *HTTP) locatorCancel(w http.ResponseWriter, r *http.Request) (any, error) {
	req, err := h.locator(w, r)
	if err != nil {
		return nil, err
	}
	loc := &command.Locator{Shard: req.Shard, Tail: req.Tail, Offset: req.Offset, InFlight: req.InFlight}
	return h.apply(r, command.JobCancelType, &command.JobCancel{Meta: h.meta(r, req.Reason), Locator: loc})
}

func (h *HTTP) locatorReroute(w http.ResponseWriter, r *http.Request) (any, error) {
	req, err := h.locator(w, r)
	if err != nil {
		return nil, err
	}
	if err := h.requireShard(req.Target, "target"); err != nil {
		return nil, err
	}
	if req.Target == req.Shard {
		return nil, badRequest("target", "target must differ from shard")
	}
	loc := &command.Locator{Shard: req.Shard, Tail: req.Tail, Offset: req.Offset, InFlight: req.InFlight}
	return h.apply(r, command.JobRerouteType, &command.JobReroute{Meta: h.meta(r, req.Reason), Locator: loc, Target: req.Target})
}

// decodeOptional decodes a body that may be empty.
func (h *HTTP) decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	err := h.decode(w, r, v)
	if ae, ok := err.(*apiError); ok && ae.msg == "empty request body" {
		return nil
	}
	return err
}
