package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/planetary/planetary/core/health"
	"github.com/planetary/planetary/core/limits"
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

func validateShard(s Shard) error {
	switch {
	case s.Name == "":
		return badRequest("name", "shard name is required")
	case s.LatencyBudgetMs < 0:
		return badRequest("latency_budget_ms", "latency_budget_ms must not be negative")
	case s.MaxQueue < 0:
		return badRequest("max_queue", "max_queue must not be negative")
	case s.QueueAlertThreshold < 0:
		return badRequest("queue_alert_threshold", "queue_alert_threshold must not be negative")
	case s.SpillGraceMs < 0:
		return badRequest("spill_grace_ms", "spill_grace_ms must not be negative")
	}
	for i, t := range s.SpilloverTargets {
		if t == s.Name {
			return badRequest(fmt.Sprintf("spillover_targets[%d]", i), "a shard cannot spill to itself")
		}
	}
	for i, p := range s.Policies {
		if p.Target == "" || p.Target == s.Name {
			return badRequest(fmt.Sprintf("policies[%d].target", i), "spillover target must name another shard")
		}
	}
	return checkShardLimits(s)
}

// requireTargets refuses spillover targets that name no shard.
func (h *HTTP) requireTargets(s Shard) error {
	var field, name string
	h.b.Read(func(st *state.Store) {
		for i, t := range s.SpilloverTargets {
			if st.Shard(t) == nil {
				field, name = fmt.Sprintf("spillover_targets[%d]", i), t
				return
			}
		}
		for i, p := range s.Policies {
			if st.Shard(p.Target) == nil {
				field, name = fmt.Sprintf("policies[%d].target", i), p.Target
				return
			}
		}
	})
	if field == "" {
		return nil
	}
	return &apiError{status: http.StatusNotFound, field: field,
		msg: fmt.Sprintf("%s: spillover target shard %q not found", field, name)}
}

func (h *HTTP) shardRegister(w http.ResponseWriter, r *http.Request) (any, error) {
	var req Shard
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	if err := validateShard(req); err != nil {
		return nil, err
	}
	exists := false
	h.b.Read(func(s *state.Store) { exists = s.Shard(req.Name) != nil })
	if exists {
		return nil, &apiError{status: http.StatusConflict, field: "name", msg: fmt.Sprintf("shard %q already exists", req.Name)}
	}
	if err := h.requireTargets(req); err != nil {
		return nil, err
	}
	return h.apply(r, command.ShardRegisterType, &command.ShardRegister{Meta: h.meta(r, req.Reason), Shard: ShardRecord(req)})
}

func (h *HTTP) shardUpdate(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ShardUpdate
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	if err := h.requireShard(name, ""); err != nil {
		return nil, err
	}
	cmd := command.ShardUpdate{Meta: h.meta(r, req.Reason), Name: name}
	v := Shard{Name: name}
	if req.DisplayName != nil {
		cmd.Fields, v.DisplayName = append(cmd.Fields, "display_name"), *req.DisplayName
	}
	if req.LatencyBudgetMs != nil {
		cmd.Fields, v.LatencyBudgetMs = append(cmd.Fields, "latency_budget_ms"), *req.LatencyBudgetMs
	}
	if req.MaxQueue != nil {
		cmd.Fields, v.MaxQueue = append(cmd.Fields, "max_queue"), *req.MaxQueue
	}
	if req.QueueAlertThreshold != nil {
		cmd.Fields, v.QueueAlertThreshold = append(cmd.Fields, "queue_alert_threshold"), *req.QueueAlertThreshold
	}
	if req.SpilloverTargets != nil {
		cmd.Fields, v.SpilloverTargets = append(cmd.Fields, "spillover_targets"), *req.SpilloverTargets
	}
	if req.Policies != nil {
		cmd.Fields, v.Policies = append(cmd.Fields, "policies"), *req.Policies
	}
	if req.SpillGraceMs != nil {
		cmd.Fields, v.SpillGraceMs = append(cmd.Fields, "spill_grace_ms"), *req.SpillGraceMs
	}
	if len(cmd.Fields) == 0 {
		return nil, badRequest("", "no field to update")
	}
	if err := validateShard(v); err != nil {
		return nil, err
	}
	if err := h.requireTargets(v); err != nil {
		return nil, err
	}
	cmd.Shard = ShardRecord(v)
	return h.apply(r, command.ShardUpdateType, &cmd)
}

func (h *HTTP) shardDeregister(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ShardDeregister
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	if err := h.requireShard(name, ""); err != nil {
		return nil, err
	}
	switch {
	case req.SpillTo == "" && !req.Cancel:
		return nil, badRequest("spill_to", "name spill_to or set cancel")
	case req.SpillTo != "" && req.Cancel:
		return nil, badRequest("cancel", "spill_to and cancel exclude each other")
	case req.SpillTo == name:
		return nil, badRequest("spill_to", "cannot spill a shard to itself")
	case req.SpillTo != "":
		if err := h.requireShard(req.SpillTo, "spill_to"); err != nil {
			return nil, err
		}
	}
	return h.apply(r, command.ShardDeregisterType, &command.ShardDeregister{Meta: h.meta(r, req.Reason),
		Name: name, SpillTo: req.SpillTo, Cancel: req.Cancel})
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

func validateNode(n Node, prefix string) error {
	f := func(name string) string { return prefix + name }
	switch {
	case n.ID == "":
		return badRequest(f("id"), "node id is required")
	case n.Shard == "":
		return badRequest(f("shard"), "node %s: shard is required", n.ID)
	case n.Capacity < 0:
		return badRequest(f("capacity"), "node %s: capacity must not be negative", n.ID)
	case n.MaxConcurrency < 0:
		return badRequest(f("max_concurrency"), "node %s: max_concurrency must not be negative", n.ID)
	case n.Quota < 0:
		return badRequest(f("quota"), "node %s: quota must not be negative", n.ID)
	case n.Price.Base < 0:
		return badRequest(f("price.base"), "node %s: price base must not be negative", n.ID)
	}
	return checkNodeLimits(n, prefix)
}

func (h *HTTP) nodeRegister(w http.ResponseWriter, r *http.Request) (any, error) {
	var req Node
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	if err := validateNode(req, ""); err != nil {
		return nil, err
	}
	if err := h.requireShard(req.Shard, "shard"); err != nil {
		return nil, err
	}
	if err := h.requireNode(req.ID); err == nil {
		return nil, &apiError{status: http.StatusConflict, field: "id", msg: fmt.Sprintf("node %q already exists", req.ID)}
	}
	return h.apply(r, command.NodeRegisterType, &command.NodeRegister{Meta: h.meta(r, req.Reason), Node: NodeRecord(req)})
}

func (h *HTTP) nodeUpdate(w http.ResponseWriter, r *http.Request) (any, error) {
	var req NodeUpdate
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if err := h.requireNode(id); err != nil {
		return nil, err
	}
	cmd := command.NodeUpdate{Meta: h.meta(r, req.Reason), ID: id}
	n := &cmd.Node
	n.ID = id
	if req.Capacity != nil {
		if *req.Capacity < 0 {
			return nil, badRequest("capacity", "capacity must not be negative")
		}
		cmd.Fields, n.Capacity = append(cmd.Fields, "capacity"), *req.Capacity
	}
	if req.MaxConcurrency != nil {
		if *req.MaxConcurrency < 0 {
			return nil, badRequest("max_concurrency", "max_concurrency must not be negative")
		}
		cmd.Fields, n.MaxConcurrency = append(cmd.Fields, "max_concurrency"), *req.MaxConcurrency
	}
	if req.Quota != nil {
		if *req.Quota < 0 {
			return nil, badRequest("quota", "quota must not be negative")
		}
		cmd.Fields, n.Quota = append(cmd.Fields, "quota"), *req.Quota
	}
	if req.LatencyMs != nil {
		if *req.LatencyMs < 0 {
			return nil, badRequest("latency_ms", "latency_ms must not be negative")
		}
		cmd.Fields, n.LatencyMs = append(cmd.Fields, "latency_ms"), *req.LatencyMs
	}
	if req.Capabilities != nil {
		if err := checkCapabilities("capabilities", *req.Capabilities); err != nil {
			return nil, err
		}
		cmd.Fields, n.Capabilities = append(cmd.Fields, "capabilities"), *req.Capabilities
	}
	if req.Price != nil {
		if req.Price.Base < 0 {
			return nil, badRequest("price.base", "price base must not be negative")
		}
		if err := checkPrice("price.", *req.Price); err != nil {
			return nil, err
		}
		cmd.Fields, n.Price = append(cmd.Fields, "price"), priceRecord(*req.Price)
	}
	if req.Deployment != nil {
		cmd.Fields, n.Deployment = append(cmd.Fields, "deployment"), deploymentRecord(*req.Deployment)
	}
	if req.Attestations != nil {
		cmd.Fields, n.Attestations = append(cmd.Fields, "attestations"), attestationsRecord(*req.Attestations)
	}
	if len(cmd.Fields) == 0 {
		return nil, badRequest("", "no field to update")
	}
	if err := checkAll(checkCount("capacity", n.Capacity), checkCount("max_concurrency", n.MaxConcurrency),
		checkCount("quota", n.Quota), checkDuration("latency_ms", n.LatencyMs),
		checkCount("deployment.resources.gpus", n.Deployment.Resources.GPUs),
		limitCheck("deployment.zones", limits.Labels("deployment.zones", n.Deployment.Zones)),
		checkAttestations("attestations.", attestationsView(n.Attestations))); err != nil {
		return nil, err
	}
	return h.apply(r, command.NodeUpdateType, &cmd)
}

func (h *HTTP) nodeRetire(w http.ResponseWriter, r *http.Request) (any, error) {
	var req NodeRetire
	if err := h.decodeOptional(w, r, &req); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if err := h.requireNode(id); err != nil {
		return nil, err
	}
	return h.apply(r, command.NodeRetireType, &command.NodeRetire{Meta: h.meta(r, req.Reason), ID: id, Requeue: req.Requeue})
}

// ---- operator

func (h *HTTP) pause(paused bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req PauseRequest
		if err := h.decodeOptional(w, r, &req); err != nil {
			return nil, err
		}
		if req.Shard != "" {
			if err := h.requireShard(req.Shard, "shard"); err != nil {
				return nil, err
			}
		}
		return h.apply(r, command.PauseType, &command.Pause{Meta: h.meta(r, req.Reason), Shard: req.Shard, Paused: paused})
	}
}

// checkPath refuses a path outside the agent's allowed roots (403 naming it).
func (h *HTTP) checkPath(path, field string) error {
	if err := h.b.CheckPath(path); err != nil {
		status := http.StatusForbidden
		if !errors.Is(err, server.ErrPathNotAllowed) {
			status = http.StatusBadRequest
		}
		return &apiError{status: status, field: field, path: path, msg: fmt.Sprintf("path %q refused: %v", path, err)}
	}
	return nil
}

func (h *HTTP) checkpointConfigure(w http.ResponseWriter, r *http.Request) (any, error) {
	var req CheckpointConfig
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	if req.IntervalMs < 0 {
		return nil, badRequest("interval_ms", "interval_ms must not be negative")
	}
	if err := checkDuration("interval_ms", req.IntervalMs); err != nil {
		return nil, err
	}
	if req.IntervalMs == 0 && req.Path == "" {
		return nil, badRequest("", "set interval_ms or path")
	}
	if req.Path != "" {
		if err := h.checkPath(req.Path, "path"); err != nil {
			return nil, err
		}
	}
	return h.apply(r, command.CheckpointConfigureType, &command.CheckpointConfigure{Meta: h.meta(r, req.Reason),
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
	path := ""
	h.b.Read(func(s *state.Store) { path = s.Policy().CheckpointPath })
	if path == "" {
		return nil, badRequest("path", "no checkpoint path configured")
	}
	if err := h.checkPath(path, "path"); err != nil {
		return nil, err
	}
	si, err := h.b.Checkpoint(r.Context())
	if err != nil {
		return nil, err
	}
	return snapshotView(si), nil
}

func (h *HTTP) reportingConfigure(w http.ResponseWriter, r *http.Request) (any, error) {
	var req ReportingConfig
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	if req.Dir == "" && req.Label == "" {
		return nil, badRequest("", "set dir or label")
	}
	if req.Label != "" {
		if err := limits.PathComponent("label", req.Label); err != nil {
			return nil, limitError("label", err)
		}
	}
	if req.Dir != "" {
		if err := h.checkPath(req.Dir, "dir"); err != nil {
			return nil, err
		}
	}
	return h.apply(r, command.ReportingConfigureType, &command.ReportingConfigure{Meta: h.meta(r, req.Reason),
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
