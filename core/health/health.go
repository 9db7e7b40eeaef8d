// Package health is planetary's one health model. A shard is "ok",
// "degraded" or "alert", with the reasons that made it so; the API serves
// it on every shard view, and the console, the report bundle (dashboard,
// atlas, chronicle) and `planetary run`'s exit code all read it from
// there, so no two surfaces can disagree. It is pure: counts in, verdict
// out.
package health

import (
	"fmt"

	"github.com/planetary/planetary/core/api/client"
)

// Status values, from best to worst.
const (
	OK       = "ok"
	Degraded = "degraded"
	Alert    = "alert"
)

// Reason codes.
const (
	// ReasonParked: jobs parked in the shard (nothing anywhere can take
	// them until the topology changes). Alert.
	ReasonParked = "parked"
	// ReasonFailed: jobs of the shard failed for good. Degraded.
	ReasonFailed = "failed"
	// ReasonNodesDown: some (degraded) or every (alert) registered node of
	// the shard is down.
	ReasonNodesDown = "nodes-down"
	// ReasonQueue: the queue is past its alert threshold (degraded) or at
	// max_queue (alert).
	ReasonQueue = "queue"
	// ReasonPaused: the shard or the whole system is paused. Degraded.
	ReasonPaused = "paused"
)

// Shard is what the model needs to know about one shard.
type Shard struct {
	Paused              bool
	QueueDepth          int64
	MaxQueue            int64 // 0: unbounded
	QueueAlertThreshold int64 // 0: none
	Parked              int64
	Failed              int64
	Nodes               int64 // registered, not retired
	NodesDown           int64
}

// Reason is one cause of a shard's status, as the API's shard view carries
// it (core/api/client defines the wire type).
type Reason = client.HealthReason

// Verdict is a shard's status and the reasons for it, worst first.
type Verdict struct {
	Status  string   `json:"status"`
	Reasons []Reason `json:"reasons,omitempty"`
}

// Of computes the verdict of one shard.
func Of(s Shard) Verdict {
	var rs []Reason
	add := func(code, status, format string, args ...any) {
		rs = append(rs, Reason{Code: code, Status: status, Text: fmt.Sprintf(format, args...)})
	}
	if s.Parked > 0 {
		add(ReasonParked, Alert, "%d %s parked", s.Parked, plural(s.Parked, "job", "jobs"))
	}
	switch {
	case s.Nodes > 0 && s.NodesDown >= s.Nodes:
		add(ReasonNodesDown, Alert, "all %d %s down", s.Nodes, plural(s.Nodes, "node", "nodes"))
	case s.NodesDown > 0:
		add(ReasonNodesDown, Degraded, "%d of %d nodes down", s.NodesDown, s.Nodes)
	}
	switch {
	case s.MaxQueue > 0 && s.QueueDepth >= s.MaxQueue:
		add(ReasonQueue, Alert, "queue %d at max_queue %d", s.QueueDepth, s.MaxQueue)
	case s.QueueAlertThreshold > 0 && s.QueueDepth > s.QueueAlertThreshold:
		add(ReasonQueue, Degraded, "queue %d past its alert threshold %d", s.QueueDepth, s.QueueAlertThreshold)
	}
	if s.Failed > 0 {
		add(ReasonFailed, Degraded, "%d %s failed", s.Failed, plural(s.Failed, "job", "jobs"))
	}
	if s.Paused {
		add(ReasonPaused, Degraded, "paused")
	}
	v := Verdict{Status: OK}
	// Worst first, stable within a status.
	for _, want := range []string{Alert, Degraded} {
		for _, r := range rs {
			if r.Status == want {
				v.Reasons = append(v.Reasons, r)
			}
		}
	}
	if len(v.Reasons) > 0 {
		v.Status = v.Reasons[0].Status
	}
	return v
}

// Worst returns the worst of the statuses (OK for none).
func Worst(statuses ...string) string {
	out := OK
	for _, s := range statuses {
		if rank(s) > rank(out) {
			out = s
		}
	}
	return out
}

func rank(s string) int {
	switch s {
	case Alert:
		return 2
	case Degraded:
		return 1
	}
	return 0
}

// Has reports whether v holds a reason with the given code.
func (v Verdict) Has(code string) bool {
	for _, r := range v.Reasons {
		if r.Code == code {
			return true
		}
	}
	return false
}

// Exit codes of `planetary run` (and the commands that follow a run).
const (
	ExitDone  = 0 // every job completed (or was cancelled by its owner)
	ExitError = 1 // the command failed: bad input, API error, bundle did not verify, deadline
	ExitWork  = 2 // the run finished, but work is parked or failed
)

// RunExit is the exit code of a run that ended without error: ExitWork
// when any shard's verdict holds parked or failed work, ExitDone
// otherwise.
func RunExit(shards []Verdict) int {
	for _, v := range shards {
		if v.Has(ReasonParked) || v.Has(ReasonFailed) {
			return ExitWork
		}
	}
	return ExitDone
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
