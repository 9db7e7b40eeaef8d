package runner

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	httpapi "github.com/planetary/planetary/core/api"
	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/core/report"
	"github.com/planetary/planetary/raftfsm/command"
	"github.com/planetary/planetary/raftfsm/state"
)

// ownerActor reports whether an event's actor is an owner: a schedule entry
// or a token identity. The leader's own decisions ("system"), clients
// ("client:...") and unattributed events are not owner commands.
func ownerActor(actor string) bool {
	return actor != "" && actor != "system" && !strings.HasPrefix(actor, "client:")
}

// OwnerCommands derives the owner commands from the event log: one command
// per raft entry that an owner (a token holder or a schedule entry) caused,
// with a replayable CLI line and API request. Job events of a bulk cancel or
// reroute fold into one command; the node retirements and job moves caused
// by a shard deregistration belong to it. Entries fired by the schedule get
// their full arguments from m when it is set.
func OwnerCommands(evs []state.Event, m *mission.Mission) []report.OwnerCommand {
	entries := map[string]mission.ScheduleEntry{}
	if m != nil {
		for _, e := range m.Schedule {
			entries[e.ID] = e
		}
	}
	type cmd struct {
		index uint64
		first *state.Event
		jobs  []string
	}
	var cmds []*cmd
	byIndex := map[uint64]*cmd{}
	for i := range evs {
		e := &evs[i]
		if !ownerActor(e.Actor) || report.ClientPublished(e) {
			continue
		}
		c := byIndex[e.Index]
		switch e.Type {
		case state.EvScheduleFired:
			// A fired entry is an owner command even when its effect
			// shows in no event of its own: a checkpoint.save the
			// checkpoint loop carries out (actor system), a cancel or
			// reroute whose locator found no job. The entry's first
			// effect, when there is one, names the command.
			if _, ok := entries[e.Detail]; ok && c == nil {
				c = &cmd{index: e.Index, first: e}
				byIndex[e.Index] = c
				cmds = append(cmds, c)
			}
			continue
		}
		fired := c != nil && c.first.Type == state.EvScheduleFired
		switch e.Type {
		case state.EvJobCancelled, state.EvJobRerouted:
			if c == nil {
				c = &cmd{index: e.Index, first: e}
				byIndex[e.Index] = c
				cmds = append(cmds, c)
			} else if fired {
				c.first = e
			}
			c.jobs = append(c.jobs, e.Job)
		case state.EvShardRegistered, state.EvShardUpdated, state.EvNodeRegistered, state.EvNodeUpdated:
			if e.Detail == "mission" || strings.HasPrefix(e.Detail, "claimed by ") || e.Detail == "measured_latency_ms" {
				continue
			}
			fallthrough
		case state.EvSystemPaused, state.EvSystemResumed, state.EvShardPaused, state.EvShardResumed,
			state.EvShardDeregistered, state.EvNodeRetired, state.EvCheckpointConfigured,
			state.EvCheckpointSaved, state.EvReportingConfigured:
			if c != nil {
				// A deregistration emits its node retirements first:
				// the shard event names the command.
				if fired || e.Type == state.EvShardDeregistered && c.first.Type == state.EvNodeRetired {
					c.first = e
				}
				continue
			}
			c = &cmd{index: e.Index, first: e}
			byIndex[e.Index] = c
			cmds = append(cmds, c)
		}
	}
	out := make([]report.OwnerCommand, 0, len(cmds))
	for _, c := range cmds {
		e := c.first
		oc := report.OwnerCommand{Time: time.Unix(0, e.Time).UTC(), Actor: e.Actor, Reason: e.Reason}
		var entry *mission.ScheduleEntry
		if id, ok := strings.CutPrefix(e.Actor, "schedule:"); ok {
			if en, ok := entries[id]; ok {
				entry = &en
				if oc.Reason == "" || e.Type == state.EvScheduleFired {
					oc.Reason = en.Reason
				}
			}
		}
		fillCommand(&oc, e, c.jobs, entry)
		out = append(out, oc)
	}
	return out
}

// fillCommand sets Action, CLI and API of one owner command.
func fillCommand(oc *report.OwnerCommand, e *state.Event, jobs []string, entry *mission.ScheduleEntry) {
	reason := oc.Reason
	rflag := ""
	if reason != "" {
		rflag = " -reason " + quote(reason)
	}
	post := func(path string, body any) { oc.API = report.APIRequest{Method: "POST", Path: path, Body: body} }
	switch e.Type {
	case state.EvSystemPaused, state.EvShardPaused, state.EvSystemResumed, state.EvShardResumed:
		verb := "pause"
		oc.Action = mission.ActSystemPause
		if e.Type == state.EvSystemResumed || e.Type == state.EvShardResumed {
			verb, oc.Action = "resume", mission.ActSystemResume
		}
		shard := ""
		if e.Type == state.EvShardPaused || e.Type == state.EvShardResumed {
			shard = e.Shard
			oc.Action = "shard." + verb
		}
		oc.CLI = "planetary operator " + verb + flag("shard", shard) + rflag
		post("/v1/operator/"+verb, api.PauseRequest{Shard: shard, Reason: reason})
	case state.EvShardRegistered:
		oc.Action = mission.ActShardRegister
		body := api.Shard{Name: e.Shard, Reason: reason}
		if entry != nil {
			if a, ok := entry.Args.(*mission.ShardRegisterAction); ok {
				body = shardBody(a.Shard, reason)
			}
		}
		oc.CLI = "planetary operator shard register" + flag("display-name", body.DisplayName) +
			intFlag("latency-budget-ms", body.LatencyBudgetMs) + intFlag("max-queue", body.MaxQueue) +
			intFlag("alert-threshold", body.QueueAlertThreshold) +
			flag("spillover-targets", strings.Join(body.SpilloverTargets, ",")) + rflag + " " + quote(e.Shard)
		post("/v1/shards", body)
	case state.EvShardUpdated:
		oc.Action = mission.ActShardUpdate
		body := map[string]any{"reason": reason}
		if entry != nil {
			if a, ok := entry.Args.(*mission.ShardUpdateAction); ok {
				body = shardUpdateBody(a, reason)
			}
		}
		oc.CLI = "planetary operator shard update" + updateFlags(body) + rflag + " " + quote(e.Shard)
		post("/v1/shard/"+url.PathEscape(e.Shard)+"/update", body)
	case state.EvShardDeregistered:
		oc.Action = mission.ActShardDeregister
		body := api.ShardDeregister{SpillTo: e.To, Cancel: e.To == "", Reason: reason}
		mode := flag("spill-to", e.To)
		if body.Cancel {
			mode = " -cancel"
		}
		oc.CLI = "planetary operator shard deregister" + mode + rflag + " " + quote(e.Shard)
		post("/v1/shard/"+url.PathEscape(e.Shard)+"/deregister", body)
	case state.EvNodeRegistered:
		oc.Action = mission.ActNodeRegister
		body := api.Node{ID: e.Node, Shard: e.Shard, Reason: reason}
		if entry != nil {
			if a, ok := entry.Args.(*mission.NodeRegisterAction); ok {
				body = nodeBody(a.Node, reason)
			}
		}
		oc.CLI = "planetary node register -config <node file>" + rflag + " # node " + quote(e.Node)
		post("/v1/nodes", body)
	case state.EvNodeUpdated:
		oc.Action = mission.ActNodeUpdate
		body := map[string]any{"reason": reason}
		if entry != nil {
			if a, ok := entry.Args.(*mission.NodeUpdateAction); ok {
				body = nodeUpdateBody(a, reason)
			}
		}
		oc.CLI = "planetary node update" + updateFlags(body) + rflag + " " + quote(e.Node)
		post("/v1/node/"+url.PathEscape(e.Node)+"/update", body)
	case state.EvNodeRetired:
		oc.Action = mission.ActNodeRetire
		requeue := true
		if entry != nil {
			if a, ok := entry.Args.(*mission.NodeRetireAction); ok {
				requeue = a.Requeue
			}
		}
		req := ""
		if requeue {
			req = " -requeue"
		}
		oc.CLI = "planetary node retire" + req + rflag + " " + quote(e.Node)
		post("/v1/node/"+url.PathEscape(e.Node)+"/retire", api.NodeRetire{Requeue: requeue, Reason: reason})
	case state.EvCheckpointConfigured:
		oc.Action = mission.ActCheckpointConfigure
		body := api.CheckpointConfig{Path: e.Detail, Reason: reason}
		if entry != nil {
			if a, ok := entry.Args.(*mission.CheckpointConfigureAction); ok {
				body.IntervalMs, body.Path = a.IntervalMs, a.Path
			}
		}
		iv := ""
		if body.IntervalMs > 0 {
			iv = " -interval " + (time.Duration(body.IntervalMs) * time.Millisecond).String()
		}
		oc.CLI = "planetary operator checkpoint configure" + iv + flag("path", body.Path) + rflag
		post("/v1/operator/checkpoint", body)
	case state.EvScheduleFired:
		switch {
		case entry != nil && (entry.Action == mission.ActJobCancel || entry.Action == mission.ActJobReroute):
			fillJobCommand(oc, e, jobs, entry, rflag, entry.Action == mission.ActJobReroute)
		case entry != nil && entry.Action != mission.ActCheckpointSave:
			oc.Action = entry.Action
		default:
			oc.Action = mission.ActCheckpointSave
			oc.CLI = "planetary operator checkpoint save"
			post("/v1/operator/checkpoint/save", struct{}{})
		}
	case state.EvCheckpointSaved:
		oc.Action = mission.ActCheckpointSave
		oc.CLI = "planetary operator checkpoint save"
		post("/v1/operator/checkpoint/save", struct{}{})
	case state.EvReportingConfigured:
		oc.Action = mission.ActReportingConfigure
		body := api.ReportingConfig{Dir: e.Detail, Reason: reason}
		if entry != nil {
			if a, ok := entry.Args.(*mission.ReportingConfigureAction); ok {
				body.Dir, body.Label = a.Dir, a.Label
			}
		}
		oc.CLI = "planetary operator reporting configure" + flag("dir", body.Dir) + flag("label", body.Label) + rflag
		post("/v1/operator/reporting", body)
	case state.EvJobCancelled, state.EvJobRerouted:
		fillJobCommand(oc, e, jobs, entry, rflag, e.Type == state.EvJobRerouted)
	}
}

func fillJobCommand(oc *report.OwnerCommand, e *state.Event, jobs []string, entry *mission.ScheduleEntry, rflag string, reroute bool) {
	oc.Action = mission.ActJobCancel
	if reroute {
		oc.Action = mission.ActJobReroute
	}
	reason := oc.Reason
	var a *mission.JobAction
	if entry != nil {
		a, _ = entry.Args.(*mission.JobAction)
	}
	if a != nil && a.Locator != nil {
		l := a.Locator
		loc := api.Locator{Shard: l.Shard, Tail: l.Tail, Offset: l.Offset, InFlight: l.InFlight, Reason: reason}
		sel := intFlag("tail", l.Tail) + intFlag("offset", l.Offset)
		if l.InFlight {
			sel += " -in-flight"
		}
		if reroute {
			loc.Target = a.Target
			oc.CLI = "planetary job reroute" + flag("from", l.Shard) + sel + flag("shard", a.Target) + rflag
			oc.API = report.APIRequest{Method: "POST", Path: "/v1/jobs/reroute", Body: loc}
		} else {
			oc.CLI = "planetary job cancel" + flag("shard", l.Shard) + sel + rflag
			oc.API = report.APIRequest{Method: "POST", Path: "/v1/jobs/cancel", Body: loc}
		}
		return
	}
	ids := append([]string(nil), jobs...)
	sort.Strings(ids)
	first := ""
	if len(ids) > 0 {
		first = ids[0]
	}
	more := ""
	if len(ids) > 1 {
		more = fmt.Sprintf(" # and %d more: %s", len(ids)-1, strings.Join(ids[1:], " "))
	}
	if reroute {
		oc.CLI = "planetary job reroute" + flag("shard", e.To) + rflag + " " + quote(first) + more
		oc.API = report.APIRequest{Method: "POST", Path: "/v1/job/" + url.PathEscape(first) + "/reroute",
			Body: api.RerouteRequest{Shard: e.To, Reason: reason}}
		return
	}
	oc.CLI = "planetary job cancel" + rflag + " " + quote(first) + more
	oc.API = report.APIRequest{Method: "POST", Path: "/v1/job/" + url.PathEscape(first) + "/cancel",
		Body: api.OwnerRequest{Reason: reason}}
}

func shardBody(s mission.Shard, reason string) api.Shard {
	rec := s.Record()
	out := httpapi.ShardView(&rec)
	out.Reason = reason
	return out
}

func nodeBody(n mission.Node, reason string) api.Node {
	rec := n.Record()
	out := httpapi.NodeView(&rec)
	out.Status, out.Reason = "", reason
	return out
}

// shardUpdateBody is the JSON body of a shard update with only the changed
// fields, keyed as in api.ShardUpdate.
func shardUpdateBody(a *mission.ShardUpdateAction, reason string) map[string]any {
	body := map[string]any{"reason": reason}
	v := a.Values
	for _, f := range a.Fields {
		switch f {
		case command.ShardDisplayName:
			body[f] = v.DisplayName
		case command.ShardLatencyBudgetMs:
			body[f] = v.LatencyBudgetMs
		case command.ShardMaxQueue:
			body[f] = v.MaxQueue
		case command.ShardQueueAlertThreshold:
			body[f] = v.QueueAlertThreshold
		case command.ShardSpilloverTargets:
			body[f] = v.SpilloverTargets
		case command.ShardPolicies:
			body[f] = shardBody(v, "").Policies
		}
	}
	return body
}

func nodeUpdateBody(a *mission.NodeUpdateAction, reason string) map[string]any {
	body := map[string]any{"reason": reason}
	v := a.Values
	for _, f := range a.Fields {
		switch f {
		case command.NodeCapacity:
			body[f] = v.Capacity
		case command.NodeMaxConcurrency:
			body[f] = v.MaxConcurrency
		case command.NodeQuota:
			body[f] = v.Quota
		case command.NodeLatencyMs:
			body[f] = v.LatencyMs
		case command.NodeCapabilities:
			body[f] = v.Capabilities
		}
	}
	return body
}

// updateFlags renders the scalar fields of an update body as CLI flags
// (snake_case keys become -kebab-case), in sorted order.
func updateFlags(body map[string]any) string {
	keys := make([]string, 0, len(body))
	for k := range body {
		if k != "reason" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		name := strings.ReplaceAll(k, "_", "-")
		switch v := body[k].(type) {
		case int64:
			b.WriteString(intFlag(name, v))
		case string:
			b.WriteString(flag(name, v))
		case []string:
			b.WriteString(flag(name, strings.Join(v, ",")))
		}
	}
	return b.String()
}

func flag(name, v string) string {
	if v == "" {
		return ""
	}
	return " -" + name + " " + quote(v)
}

func intFlag(name string, v int64) string {
	if v == 0 {
		return ""
	}
	return " -" + name + " " + strconv.FormatInt(v, 10)
}

// quote shell-quotes s when it holds anything but safe characters.
func quote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:,=@", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
