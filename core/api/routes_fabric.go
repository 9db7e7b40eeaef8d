package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/planetary/planetary/core/health"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// ---- shards

// shardViewLive is the view of sh with its queue, counts and health
// (verdicts from health.Shards over the same read).
func shardViewLive(s *state.Store, sh *state.Shard, verdicts map[string]health.Verdict) Shard {
	v := ShardView(sh)
	v.QueueDepth = int64(s.QueueLen(sh.Name))
	v.Counts = CountsView(s.ShardCounts(sh.Name))
	hv := verdicts[sh.Name]
	v.Health, v.HealthReasons = hv.Status, hv.Reasons
	return v
}

func (h *HTTP) shardsList(w http.ResponseWriter, r *http.Request) (any, error) {
	out := []Shard{}
	h.b.Read(func(s *state.Store) {
		verdicts := health.Shards(s)
		for _, sh := range s.Shards() {
			out = append(out, shardViewLive(s, sh, verdicts))
		}
	})
	return out, nil
}

func (h *HTTP) shardGet(w http.ResponseWriter, r *http.Request) (any, error) {
	name := r.PathValue("name")
	var out *Shard
	h.b.Read(func(s *state.Store) {
		if sh := s.Shard(name); sh != nil {
			v := shardViewLive(s, sh, health.Shards(s))
			out = &v
		}
	})
	if out == nil {
		return nil, notFound("shard %q not found", name)
	}
	return out, nil
}

func (h *HTTP) shardRegister(r *http.Request, req Shard) (server.Result, error) {
	return h.b.RegisterShard(r.Context(), actor(r), command.ShardRegister{Meta: reason(req.Reason), Shard: ShardRecord(req)})
}

// set appends field to fields and returns the value v points at when v is
// set (a field of a partial update).
func set[T any](fields *[]string, field string, v *T, dst *T) {
	if v != nil {
		*fields, *dst = append(*fields, field), *v
	}
}

func (h *HTTP) shardUpdate(r *http.Request, req ShardUpdate) (server.Result, error) {
	v := Shard{Name: r.PathValue("name")}
	var f []string
	set(&f, command.ShardDisplayName, req.DisplayName, &v.DisplayName)
	set(&f, command.ShardLatencyBudgetMs, req.LatencyBudgetMs, &v.LatencyBudgetMs)
	set(&f, command.ShardMaxQueue, req.MaxQueue, &v.MaxQueue)
	set(&f, command.ShardQueueAlertThreshold, req.QueueAlertThreshold, &v.QueueAlertThreshold)
	set(&f, command.ShardSpilloverTargets, req.SpilloverTargets, &v.SpilloverTargets)
	set(&f, command.ShardPolicies, req.Policies, &v.Policies)
	set(&f, command.ShardSpillGraceMs, req.SpillGraceMs, &v.SpillGraceMs)
	return h.b.UpdateShard(r.Context(), actor(r), command.ShardUpdate{Meta: reason(req.Reason), Name: v.Name,
		Fields: f, Shard: ShardRecord(v)})
}

func (h *HTTP) shardDeregister(r *http.Request, req ShardDeregister) (server.Result, error) {
	return h.b.DeregisterShard(r.Context(), actor(r), command.ShardDeregister{Meta: reason(req.Reason),
		Name: r.PathValue("name"), SpillTo: req.SpillTo, Cancel: req.Cancel})
}

// ---- nodes

// heartbeatSource is implemented by backends that track heartbeats.
type heartbeatSource interface {
	LastHeartbeat(node string) (time.Time, bool)
}

func (h *HTTP) nodeViewLive(s *state.Store, n *state.Node, now time.Time) Node {
	v := NodeView(n)
	v.Active = int64(s.ActiveCount(n.ID))
	v.Completed = int64(s.CompletedOn(n.ID))
	v.Counts = CountsView(s.NodeCounts(n.ID))
	if hs, ok := h.b.(heartbeatSource); ok {
		if t, ok := hs.LastHeartbeat(n.ID); ok {
			v.HeartbeatAgeMs = now.Sub(t).Milliseconds()
		}
	}
	if ps, ok := h.b.(pluginPidSource); ok {
		v.PluginPid = ps.PluginPid(n.ID)
	}
	return v
}

func (h *HTTP) nodesList(w http.ResponseWriter, r *http.Request) (any, error) {
	out := []Node{}
	now := time.Now()
	h.b.Read(func(s *state.Store) {
		for _, n := range s.Nodes() {
			out = append(out, h.nodeViewLive(s, n, now))
		}
	})
	return out, nil
}

func (h *HTTP) nodeGet(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	var out *Node
	now := time.Now()
	h.b.Read(func(s *state.Store) {
		if n := s.Node(id); n != nil {
			v := h.nodeViewLive(s, n, now)
			out = &v
		}
	})
	if out == nil {
		return nil, notFound("node %q not found", id)
	}
	return out, nil
}

func (h *HTTP) nodeRegister(r *http.Request, req Node) (server.Result, error) {
	if err := checkPrice("price.", req.Price); err != nil {
		return server.Result{}, err
	}
	return h.b.RegisterNode(r.Context(), actor(r), command.NodeRegister{Meta: reason(req.Reason), Node: NodeRecord(req)})
}

func (h *HTTP) nodeUpdate(r *http.Request, req NodeUpdate) (server.Result, error) {
	cmd := command.NodeUpdate{Meta: reason(req.Reason), ID: r.PathValue("id")}
	n, f := &cmd.Node, &cmd.Fields
	n.ID = cmd.ID
	set(f, command.NodeCapacity, req.Capacity, &n.Capacity)
	set(f, command.NodeMaxConcurrency, req.MaxConcurrency, &n.MaxConcurrency)
	set(f, command.NodeQuota, req.Quota, &n.Quota)
	set(f, command.NodeLatencyMs, req.LatencyMs, &n.LatencyMs)
	set(f, command.NodeCapabilities, req.Capabilities, &n.Capabilities)
	if req.Price != nil {
		if err := checkPrice("price.", *req.Price); err != nil {
			return server.Result{}, err
		}
		*f, n.Price = append(*f, command.NodePrice), priceRecord(*req.Price)
	}
	if req.Deployment != nil {
		*f, n.Deployment = append(*f, command.NodeDeployment), deploymentRecord(*req.Deployment)
	}
	if req.Attestations != nil {
		*f, n.Attestations = append(*f, command.NodeAttestations), attestationsRecord(*req.Attestations)
	}
	return h.b.UpdateNode(r.Context(), actor(r), cmd)
}

func (h *HTTP) nodeRetire(r *http.Request, req NodeRetire) (server.Result, error) {
	return h.b.RetireNode(r.Context(), actor(r), command.NodeRetire{Meta: reason(req.Reason),
		ID: r.PathValue("id"), Requeue: req.Requeue})
}

// ---- operator

func (h *HTTP) pause(paused bool) handlerFunc {
	return endpoint(h, bodyOptional, func(r *http.Request, req PauseRequest) (server.Result, error) {
		return h.b.Pause(r.Context(), actor(r), command.Pause{Meta: reason(req.Reason), Shard: req.Shard, Paused: paused})
	})
}

func (h *HTTP) checkpointConfigure(r *http.Request, req CheckpointConfig) (server.Result, error) {
	return h.b.ConfigureCheckpoint(r.Context(), actor(r), command.CheckpointConfigure{Meta: reason(req.Reason),
		IntervalMs: req.IntervalMs, Path: req.Path})
}

func snapshotView(si server.SnapshotInfo) Snapshot {
	return Snapshot{Index: si.Index, Term: si.Term, Path: si.Path, SHA256: si.SHA256, Size: si.Size}
}

func (h *HTTP) checkpointSave(w http.ResponseWriter, r *http.Request) (any, error) {
	var req OwnerRequest
	if err := h.decodeOptional(w, r, &req); err != nil {
		return nil, err
	}
	si, err := h.b.SaveCheckpoint(r.Context(), actor(r))
	if err != nil {
		return nil, err
	}
	return snapshotView(si), nil
}

func (h *HTTP) reportingConfigure(r *http.Request, req ReportingConfig) (server.Result, error) {
	return h.b.ConfigureReporting(r.Context(), actor(r), command.ReportingConfigure{Meta: reason(req.Reason),
		Dir: req.Dir, Label: req.Label})
}

func (h *HTTP) snapshotSave(w http.ResponseWriter, r *http.Request) (any, error) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="planetary.snap"`)
	if _, err := h.b.SnapshotSave(r.Context(), w); err != nil {
		// Headers may be out already; log and let the broken body speak.
		h.log.Error("snapshot save failed", "error", err)
		return nil, err
	}
	return nil, nil
}

func (h *HTTP) snapshotRestore(w http.ResponseWriter, r *http.Request) (any, error) {
	body := http.MaxBytesReader(w, r.Body, h.cfg.MaxSnapshotBytes)
	if err := h.b.SnapshotRestore(r.Context(), body); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, &apiError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("snapshot larger than %d bytes", mbe.Limit)}
		case errors.Is(err, server.ErrNotLeader), errors.Is(err, server.ErrShutdown):
			return nil, err
		}
		return nil, &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf("snapshot restore: %v", err)}
	}
	return WriteResult{Index: h.b.AppliedIndex()}, nil
}

func (h *HTTP) operatorGC(w http.ResponseWriter, r *http.Request) (any, error) {
	var req GCRequest
	if err := h.decodeOptional(w, r, &req); err != nil {
		return nil, err
	}
	opt := server.GCOptions{Threshold: -1, Actor: caller(r).actor(), Reason: req.Reason}
	if req.Threshold != "" {
		d, err := time.ParseDuration(req.Threshold)
		if err != nil || d < 0 {
			return nil, badRequest("threshold", "threshold must be a non-negative duration such as \"0s\" or \"10m\", got %q", req.Threshold)
		}
		opt.Threshold = d
	}
	res, err := h.b.CollectGarbage(r.Context(), opt)
	if err != nil {
		return nil, err
	}
	return GCResult{
		Before: res.Before, ForgetBefore: res.ForgetBefore, Collected: res.Collected, Forgotten: res.Forgotten,
		Skipped: res.Skipped, Batches: res.Batches, First: res.First, Last: res.Last, Index: res.Index,
		LiveJobs: res.LiveJobs, Tombs: res.Tombs,
	}, nil
}
