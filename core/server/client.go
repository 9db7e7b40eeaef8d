package server

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// NodeBeat is one node's heartbeat from its client.
type NodeBeat struct {
	ID        string
	Healthy   bool
	LatencyMs int64
}

// Assignment is one attempt of a job sent to the client that hosts its node.
type Assignment struct {
	JobID        string
	Attempt      uint32
	Node         string
	Kind         string
	Payload      []byte
	Capabilities []string
	// Seed is derived from the mission seed, the job id and the attempt, so
	// a simulated outcome is reproducible and differs between attempts.
	Seed    uint64
	QuoteMu int64
}

// AttemptSeed is the Seed of an assignment: the first 8 bytes of
// sha256(missionSeed || jobID || attempt).
func AttemptSeed(missionSeed uint64, jobID string, attempt uint32) uint64 {
	var buf [128]byte
	b := binary.BigEndian.AppendUint64(buf[:0], missionSeed)
	b = append(b, jobID...)
	b = binary.BigEndian.AppendUint32(b, attempt)
	sum := sha256.Sum256(b)
	return binary.BigEndian.Uint64(sum[:])
}

func (s *Server) systemMeta(actor, reason string) command.Meta {
	return command.Meta{Time: s.Now(), Actor: actor, Reason: reason}
}

// RegisterClient registers the nodes a client declares that do not exist yet
// (NodeRegister), then claims for the client (NodeClaim) every node whose
// PluginKind is in kinds and that the client declares or that no client
// hosts yet. It returns the claimed node ids, sorted. Claimed nodes get a
// fresh heartbeat TTL.
func (s *Server) RegisterClient(ctx context.Context, client string, nodes []state.Node, kinds []string) ([]string, error) {
	if !s.IsLeader() {
		return nil, ErrNotLeader
	}
	for i, n := range nodes {
		if err := checkNodeValues(n, fmt.Sprintf("nodes[%d].", i)); err != nil {
			return nil, asRequestError(err)
		}
	}
	actor := "client:" + client
	declared := make(map[string]bool, len(nodes))
	var missing []state.Node
	s.fsm.Read(func(st *state.Store) {
		for _, n := range nodes {
			declared[n.ID] = true
			if st.Node(n.ID) == nil {
				missing = append(missing, n)
			}
		}
	})
	for _, n := range missing {
		if n.Client == "" {
			n.Client = client
		}
		n.RegisteredAt = s.Now()
		if _, err := s.Apply(ctx, command.NodeRegisterType, &command.NodeRegister{Meta: s.systemMeta(actor, "client registration"), Node: n}); err != nil {
			return nil, fmt.Errorf("server: register node %s: %w", n.ID, err)
		}
	}
	var claim []string
	s.fsm.Read(func(st *state.Store) {
		for _, n := range st.Nodes() {
			if n.Status == state.NodeRetired || !slices.Contains(kinds, n.PluginKind) {
				continue
			}
			if declared[n.ID] || n.Client == "" || n.Client == client {
				claim = append(claim, n.ID)
			}
		}
	})
	sort.Strings(claim)
	if len(claim) == 0 {
		return nil, nil
	}
	if _, err := s.Apply(ctx, command.NodeClaimType, &command.NodeClaim{Meta: s.systemMeta(actor, "client registration"), Client: client, Nodes: claim}); err != nil {
		return nil, fmt.Errorf("server: claim nodes: %w", err)
	}
	for _, id := range claim {
		s.hb.reset(id, s.cfg.HeartbeatTTL)
	}
	return claim, nil
}

// Heartbeat records beats from a client's nodes: it resets their in-memory
// TTL timers (no raft entry) and commits a status change only on a
// transition: a healthy beat for a node not recorded Up commits Up, an
// unhealthy beat for an Up node commits Down. Beats for nodes the client does
// not host are ignored. Leader only; pausing has no effect on heartbeats.
func (s *Server) Heartbeat(client string, beats []NodeBeat) error {
	if !s.IsLeader() {
		return ErrNotLeader
	}
	s.stats.heartbeats.Add(1)
	type change struct {
		id      string
		status  state.NodeStatus
		latency int64
		reason  string
	}
	var changes []change
	s.fsm.Read(func(st *state.Store) {
		for _, b := range beats {
			n := st.Node(b.ID)
			if n == nil || n.Client != client || n.Status == state.NodeRetired {
				continue
			}
			s.hb.reset(b.ID, s.cfg.HeartbeatTTL)
			switch {
			case b.Healthy && n.Status != state.NodeUp:
				changes = append(changes, change{b.ID, state.NodeUp, b.LatencyMs, "heartbeat"})
			case !b.Healthy && n.Status == state.NodeUp:
				changes = append(changes, change{b.ID, state.NodeDown, b.LatencyMs, "unhealthy heartbeat"})
			}
		}
	})
	ctx, cancel := context.WithTimeout(s.shutdownCtx, s.cfg.ApplyTimeout)
	defer cancel()
	var first error
	for _, c := range changes {
		if !s.hb.begin(c.id, c.status) {
			continue // the same transition is already being committed
		}
		_, err := s.Apply(ctx, command.NodeStatusType, &command.NodeStatusChange{
			Meta: s.systemMeta("client:"+client, c.reason), ID: c.id, Status: c.status, MeasuredLatencyMs: c.latency,
		})
		s.hb.end(c.id)
		if err != nil && first == nil {
			first = fmt.Errorf("server: node %s status: %w", c.id, err)
		}
	}
	return first
}

// heartbeats keeps the leader's in-memory TTL timers.
type heartbeats struct {
	s       *Server
	mu      sync.Mutex
	ctx     context.Context // the leadership term's context; nil when not leading
	timers  map[string]*hbTimer
	pending map[string]state.NodeStatus
}

type hbTimer struct {
	t   *time.Timer
	gen uint64
}

func newHeartbeats(s *Server) *heartbeats {
	return &heartbeats{s: s, timers: map[string]*hbTimer{}, pending: map[string]state.NodeStatus{}}
}

// start arms a grace-period timer for every node that is Up. Called when
// leadership is gained.
func (h *heartbeats) start(ctx context.Context) {
	h.mu.Lock()
	h.ctx = ctx
	h.mu.Unlock()
	var ids []string
	h.s.fsm.Read(func(st *state.Store) {
		for _, n := range st.Nodes() {
			if n.Status == state.NodeUp {
				ids = append(ids, n.ID)
			}
		}
	})
	for _, id := range ids {
		h.reset(id, h.s.cfg.grace())
	}
}

// stop disarms every timer. Called when leadership is lost.
func (h *heartbeats) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ctx = nil
	for id, t := range h.timers {
		t.t.Stop()
		delete(h.timers, id)
	}
}

// sweep arms a TTL timer for Up nodes that have none (a node brought up by
// an owner command or a mission).
func (h *heartbeats) sweep() {
	var ids []string
	h.s.fsm.Read(func(st *state.Store) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, n := range st.Nodes() {
			if n.Status == state.NodeUp && h.timers[n.ID] == nil {
				ids = append(ids, n.ID)
			}
		}
	})
	for _, id := range ids {
		h.resetIfAbsent(id, h.s.cfg.HeartbeatTTL)
	}
}

func (h *heartbeats) resetIfAbsent(id string, ttl time.Duration) {
	h.mu.Lock()
	_, ok := h.timers[id]
	h.mu.Unlock()
	if !ok {
		h.reset(id, ttl)
	}
}

// reset (re)arms a node's timer; a no-op when not leading.
func (h *heartbeats) reset(id string, ttl time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx == nil {
		return
	}
	t := h.timers[id]
	if t == nil {
		t = &hbTimer{}
		h.timers[id] = t
	} else {
		t.t.Stop()
	}
	t.gen++
	gen, ctx := t.gen, h.ctx
	t.t = time.AfterFunc(ttl, func() { h.expire(ctx, id, gen) })
}

// expire commits Down for a node whose timer ran out, if it is still Up.
func (h *heartbeats) expire(ctx context.Context, id string, gen uint64) {
	h.mu.Lock()
	t := h.timers[id]
	if t == nil || t.gen != gen || h.ctx != ctx || ctx.Err() != nil {
		h.mu.Unlock()
		return
	}
	delete(h.timers, id)
	h.mu.Unlock()

	up := false
	h.s.fsm.Read(func(st *state.Store) {
		n := st.Node(id)
		up = n != nil && n.Status == state.NodeUp
	})
	if !up || !h.begin(id, state.NodeDown) {
		return
	}
	defer h.end(id)
	h.s.stats.ttlExpiries.Add(1)
	h.s.logger.Warn("node missed heartbeat TTL; marking down", "node", id)
	if _, err := h.s.Apply(ctx, command.NodeStatusType, &command.NodeStatusChange{
		Meta: h.s.systemMeta("system", "heartbeat ttl expired"), ID: id, Status: state.NodeDown,
	}); err != nil {
		h.s.logger.Error("commit node down", "node", id, "error", err)
	}
}

// begin marks a status transition in flight; false if one is already.
func (h *heartbeats) begin(id string, st state.NodeStatus) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur, ok := h.pending[id]; ok && cur == st {
		return false
	}
	h.pending[id] = st
	return true
}

func (h *heartbeats) end(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.pending, id)
}

// Assignments streams to fn, until ctx ends or fn fails, every attempt that
// is Assigned or Running on a node the client hosts and that this stream has
// not sent yet. The first call sends all current ones (after a reconnect the
// client de-duplicates by job and attempt). It wakes on applied entries, not
// by polling, and each wake reads only the attempts that became active since
// the previous one (state.Store.AssignedSince). It reads local state, so it
// works on any server.
func (s *Server) Assignments(ctx context.Context, client string, fn func([]Assignment) error) error {
	var (
		seen  *state.Store // the store the cursor belongs to; a restore replaces it
		after uint64
		// hosted are the client's nodes at the last wake: a node claimed
		// since is read from its start.
		hosted = map[string]bool{}
	)
	for {
		ch := s.changes()
		var batch []Assignment
		s.fsm.Read(func(st *state.Store) {
			if st != seen {
				seen, after = st, 0
				clear(hosted)
			}
			pol := st.Policy()
			for _, n := range st.Nodes() {
				if n.Client != client {
					delete(hosted, n.ID)
					continue
				}
				from := after
				if !hosted[n.ID] {
					hosted[n.ID], from = true, 0
				}
				st.AssignedSince(n.ID, from, func(j *state.Job) {
					batch = append(batch, Assignment{
						JobID: j.ID, Attempt: j.Attempt, Node: j.Node, Kind: j.Kind, Payload: j.Payload,
						Capabilities: j.Capabilities, Seed: AttemptSeed(pol.MissionSeed, j.ID, j.Attempt), QuoteMu: j.QuoteMu,
					})
				})
			}
			after = st.AssignGen()
		})
		if len(batch) > 0 {
			if err := fn(batch); err != nil {
				return err
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.shutdownCtx.Done():
			return ErrShutdown
		}
	}
}
