package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/planetary/planetary/core/server"
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
	h.handle("POST /v1/acl/client/{name}/revoke", accessManagement, true, endpoint(h, bodyOptional, h.clientRevoke))

	h.handle("GET /v1/mission", accessRead, false, h.missionGet)
	h.handle("PUT /v1/mission", accessManagement, true, h.missionPut)

	h.handle("POST /v1/jobs", accessSubmit, true, h.jobsSubmit)
	h.handle("GET /v1/jobs", accessRead, false, h.jobsList)
	h.handle("GET /v1/job/{id}", accessRead, false, h.jobGet)
	h.handle("POST /v1/job/{id}/cancel", accessManagement, true, endpoint(h, bodyOptional, h.jobCancel))
	h.handle("POST /v1/job/{id}/reroute", accessManagement, true, endpoint(h, bodyRequired, h.jobReroute))
	h.handle("POST /v1/jobs/cancel", accessManagement, true, endpoint(h, bodyRequired, h.locatorCancel))
	h.handle("POST /v1/jobs/reroute", accessManagement, true, endpoint(h, bodyRequired, h.locatorReroute))

	h.handle("GET /v1/shards", accessRead, false, h.shardsList)
	h.handle("POST /v1/shards", accessManagement, true, endpoint(h, bodyRequired, h.shardRegister))
	h.handle("GET /v1/shard/{name}", accessRead, false, h.shardGet)
	h.handle("POST /v1/shard/{name}/update", accessManagement, true, endpoint(h, bodyRequired, h.shardUpdate))
	h.handle("POST /v1/shard/{name}/deregister", accessManagement, true, endpoint(h, bodyRequired, h.shardDeregister))

	h.handle("GET /v1/nodes", accessRead, false, h.nodesList)
	h.handle("POST /v1/nodes", accessManagement, true, endpoint(h, bodyRequired, h.nodeRegister))
	h.handle("GET /v1/node/{id}", accessRead, false, h.nodeGet)
	h.handle("POST /v1/node/{id}/update", accessManagement, true, endpoint(h, bodyRequired, h.nodeUpdate))
	h.handle("POST /v1/node/{id}/retire", accessManagement, true, endpoint(h, bodyOptional, h.nodeRetire))

	h.handle("POST /v1/operator/pause", accessManagement, true, h.pause(true))
	h.handle("POST /v1/operator/resume", accessManagement, true, h.pause(false))
	h.handle("POST /v1/operator/checkpoint", accessManagement, true, endpoint(h, bodyRequired, h.checkpointConfigure))
	h.handle("POST /v1/operator/checkpoint/save", accessManagement, true, h.checkpointSave)
	h.handle("POST /v1/operator/gc", accessManagement, true, h.operatorGC)
	h.handle("POST /v1/operator/reporting", accessManagement, true, endpoint(h, bodyRequired, h.reportingConfigure))
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

	h.ownerRoutes()

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

func newToken(name string, typ state.TokenType) (state.Token, string, error) {
	secret, err := newSecret()
	if err != nil {
		return state.Token{}, "", err
	}
	acc, err := newSecret()
	if err != nil {
		return state.Token{}, "", err
	}
	return state.Token{AccessorID: acc, SecretHash: HashSecret(secret), Type: typ, Name: name}, secret, nil
}

// issue generates a token's secret, has the endpoint store the token and
// answers it with the secret (only its sha256 is replicated).
func issue(name string, typ state.TokenType, store func(tok state.Token) (state.Token, server.Result, error)) (any, error) {
	tok, secret, err := newToken(name, typ)
	if err != nil {
		return nil, err
	}
	if tok, _, err = store(tok); err != nil {
		return nil, err
	}
	return Token{AccessorID: tok.AccessorID, SecretID: secret, Name: tok.Name, Type: tok.Type.String(), CreatedAt: tok.CreatedAt}, nil
}

func (h *HTTP) aclBootstrap(w http.ResponseWriter, r *http.Request) (any, error) {
	return issue("bootstrap", state.TokenManagement, func(tok state.Token) (state.Token, server.Result, error) {
		return h.b.BootstrapACL(r.Context(), actor(r), tok)
	})
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
	return issue(req.Name, typ, func(tok state.Token) (state.Token, server.Result, error) {
		return h.b.CreateToken(r.Context(), actor(r), tok)
	})
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
	outs, err := h.b.SubmitJobs(r.Context(), actor(r), jobs)
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
func (h *HTTP) jobNotFound(id string) (err error) {
	h.b.Read(func(s *state.Store) { err = server.JobNotFound(s, id) })
	return err
}

func (h *HTTP) jobCancel(r *http.Request, req OwnerRequest) (server.Result, error) {
	return h.b.CancelJobs(r.Context(), actor(r), command.JobCancel{Meta: reason(req.Reason), IDs: []string{r.PathValue("id")}})
}

func (h *HTTP) jobReroute(r *http.Request, req RerouteRequest) (server.Result, error) {
	res, err := h.b.Reroute(r.Context(), actor(r), command.JobReroute{Meta: reason(req.Reason),
		IDs: []string{r.PathValue("id")}, Target: req.Shard})
	// This route names the target shard "shard".
	return res, renameField(err, "target", "shard")
}

func locatorRecord(req Locator) *command.Locator {
	return &command.Locator{Shard: req.Shard, Tail: req.Tail, Offset: req.Offset, InFlight: req.InFlight}
}

func (h *HTTP) locatorCancel(r *http.Request, req Locator) (server.Result, error) {
	return h.b.CancelJobs(r.Context(), actor(r), command.JobCancel{Meta: reason(req.Reason), Locator: locatorRecord(req)})
}

func (h *HTTP) locatorReroute(r *http.Request, req Locator) (server.Result, error) {
	return h.b.Reroute(r.Context(), actor(r), command.JobReroute{Meta: reason(req.Reason),
		Locator: locatorRecord(req), Target: req.Target})
}

// renameField renames the field of an endpoint refusal for a route that
// spells it differently.
func renameField(err error, from, to string) error {
	var re *server.RequestError
	if errors.As(err, &re) && re.Field == from {
		c := *re
		c.Field = to
		return &c
	}
	return err
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
