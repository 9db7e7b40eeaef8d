package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"

	"github.com/hashicorp/hcl/v2"

	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/core/server"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

func (h *HTTP) missionGet(w http.ResponseWriter, r *http.Request) (any, error) {
	var out Mission
	h.b.Read(func(s *state.Store) {
		p := s.Policy()
		fired := map[string]bool{}
		for _, f := range p.Fired {
			fired[f] = true
		}
		out = Mission{Name: p.MissionName, Digest: p.MissionDigest, Seed: p.MissionSeed, Start: p.MissionStart,
			Clock: s.Clock(), CheckpointIntervalMs: p.CheckpointIntervalMs, CheckpointPath: p.CheckpointPath,
			ReportingDir: p.ReportingDir, ReportingLabel: p.ReportingLabel, CompliancePolicy: p.CompliancePolicy,
			SystemPaused: p.SystemPaused, OwnerCommands: p.OwnerCommands, Pauses: p.Pauses, Skipped: p.Skipped}
		for _, e := range p.Schedule {
			out.Schedule = append(out.Schedule, ScheduleEntry{ID: e.ID, AtMs: e.AtMs, AfterCompleted: e.AfterCompleted,
				Note: e.Note, Action: e.Action, Fired: fired[e.ID]})
		}
	})
	return out, nil
}

func diagnosticsView(diags hcl.Diagnostics) []Diagnostic {
	out := make([]Diagnostic, 0, len(diags))
	for _, d := range diags {
		v := Diagnostic{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			v.Severity = "warning"
		}
		if d.Subject != nil {
			v.File, v.Line, v.Col = d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column
		}
		out = append(out, v)
	}
	return out
}

// regionPart is the part of mission m a server of region holds: the whole
// mission on a server of the default region (one raft group for all), the
// region's own mission (mission.ForRegion) on a server of a named region.
func regionPart(m *mission.Mission, region string) (*mission.Mission, error) {
	if region == state.DefaultRegion {
		return m, nil
	}
	part, err := m.ForRegion(region)
	if err != nil {
		return nil, badRequest("hcl", "this server holds region %q: %v", region, err)
	}
	return part, nil
}

// missionCommand converts a parsed mission to the MissionApply command
// (mission.ApplyCommand).
func missionCommand(m *mission.Mission, meta command.Meta) (command.MissionApply, error) {
	return m.ApplyCommand(meta)
}

// recordDiff lists what applying cmd would change, as human lines.
func recordDiff(s *state.Store, cmd *command.MissionApply) []string {
	var out []string
	for i := range cmd.Shards {
		nv := ShardView(&cmd.Shards[i])
		if old := s.Shard(nv.Name); old == nil {
			out = append(out, "+ shard "+nv.Name)
		} else {
			out = append(out, fieldDiff("shard "+nv.Name, ShardView(old), nv, "paused", "created_at", "queue_depth", "counts")...)
		}
	}
	for i := range cmd.Nodes {
		nv := NodeView(&cmd.Nodes[i])
		if old := s.Node(nv.ID); old == nil {
			out = append(out, "+ node "+nv.ID)
		} else {
			out = append(out, fieldDiff("node "+nv.ID, NodeView(old), nv, "client", "status", "status_reason",
				"registered_at", "last_status_at", "measured_latency_ms", "heartbeat_age_ms", "active", "completed", "counts")...)
		}
	}
	p := s.Policy()
	pol := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			out = append(out, fmt.Sprintf("~ policy %s: %v -> %v", name, a, b))
		}
	}
	pol("name", p.MissionName, cmd.Name)
	pol("seed", p.MissionSeed, cmd.Seed)
	pol("checkpoint_interval_ms", p.CheckpointIntervalMs, cmd.CheckpointMs)
	pol("checkpoint_path", p.CheckpointPath, cmd.CheckpointPath)
	pol("reporting_dir", p.ReportingDir, cmd.ReportingDir)
	pol("reporting_label", p.ReportingLabel, cmd.ReportingLabel)
	pol("compliance_policy", p.CompliancePolicy, cmd.CompliancePolicy)
	pol("job_gc_threshold_ms", p.JobGCThresholdMs, cmd.JobGCThresholdMs)
	pol("job_gc_interval_ms", p.JobGCIntervalMs, cmd.JobGCIntervalMs)
	pol("job_gc_batch", p.JobGCBatch, cmd.JobGCBatch)
	pol("idempotency_window_ms", p.IdempotencyWindowMs, cmd.IdempotencyWindowMs)
	old := map[string]bool{}
	for _, e := range p.Schedule {
		old[e.ID] = true
	}
	for _, e := range cmd.Schedule {
		if !old[e.ID] {
			out = append(out, "+ schedule "+e.ID)
		}
		delete(old, e.ID)
	}
	gone := make([]string, 0, len(old))
	for id := range old {
		gone = append(gone, id)
	}
	sort.Strings(gone)
	for _, id := range gone {
		out = append(out, "- schedule "+id)
	}
	return out
}

// fieldDiff compares two views by their JSON fields.
func fieldDiff(what string, a, b any, skip ...string) []string {
	toMap := func(v any) map[string]any {
		raw, _ := json.Marshal(v)
		m := map[string]any{}
		_ = json.Unmarshal(raw, &m)
		for _, k := range skip {
			delete(m, k)
		}
		return m
	}
	am, bm := toMap(a), toMap(b)
	keys := map[string]bool{}
	for k := range am {
		keys[k] = true
	}
	for k := range bm {
		keys[k] = true
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []string
	for _, k := range names {
		if !reflect.DeepEqual(am[k], bm[k]) {
			ja, _ := json.Marshal(am[k])
			jb, _ := json.Marshal(bm[k])
			out = append(out, fmt.Sprintf("~ %s: %s %s -> %s", what, k, ja, jb))
		}
	}
	return out
}

func (h *HTTP) missionPut(w http.ResponseWriter, r *http.Request) (any, error) {
	var req MissionApply
	if err := h.decode(w, r, &req); err != nil {
		return nil, err
	}
	if req.HCL == "" {
		return nil, badRequest("hcl", "mission text is empty")
	}
	if req.Filename == "" {
		req.Filename = "mission.hcl"
	}
	m, diags := mission.ParseMission([]byte(req.HCL), req.Filename)
	if diags.HasErrors() || m == nil {
		return nil, &apiError{status: http.StatusBadRequest, field: "hcl",
			msg: fmt.Sprintf("mission %s has errors: %s", req.Filename, diags.Error()), diags: diagnosticsView(diags)}
	}
	m, err := regionPart(m, h.b.Region())
	if err != nil {
		return nil, err
	}
	cmd, err := missionCommand(m, reason(req.Reason))
	if err != nil {
		return nil, err
	}
	// Every path the mission writes to, its schedule entries' included,
	// falls under the agent's allowed roots (the endpoint checks them).
	var paths []server.PathField
	for _, wp := range m.WritePaths() {
		paths = append(paths, server.PathField{Field: wp.Field, Path: wp.Path})
	}
	out := MissionApplied{Digest: cmd.Digest, Diff: []string{}}
	h.b.Read(func(s *state.Store) {
		if s.Policy().MissionDigest != cmd.Digest {
			out.Diff = append(out.Diff, recordDiff(s, &cmd)...)
		}
	})
	resp, err := h.b.ApplyMission(r.Context(), actor(r), cmd, paths)
	if err != nil {
		return nil, err
	}
	if resp.Index == 0 {
		out.Diff = []string{}
		return out, nil
	}
	out.Changed, out.Index = true, resp.Index
	return out, nil
}
