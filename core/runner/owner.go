package runner

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/api/view"
	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/core/ownercmd"
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
// with a replayable CLI line and API request. The FSM puts the command's
// registry name and arguments on its first event (state.Event.Command,
// Args), so each is a lookup of its renderer: a bulk cancel or reroute is
// one command, and the node retirements and job moves of a shard
// deregistration belong to it. m, when set, gives fired entries their
// reason.
func OwnerCommands(evs []state.Event, m *mission.Mission) []report.OwnerCommand {
	entries := map[string]mission.ScheduleEntry{}
	if m != nil {
		for _, e := range m.Schedule {
			entries[e.ID] = e
		}
	}
	var out []report.OwnerCommand
	for i := range evs {
		e := &evs[i]
		if e.Command == "" || !ownerActor(e.Actor) || report.ClientPublished(e) {
			continue
		}
		spec, ok := command.ByName(e.Command)
		render := renderers[e.Command]
		if render == nil && spec.Described() {
			render = renderDescribed(spec)
		}
		if !ok || !spec.Owner || render == nil {
			continue
		}
		args := spec.New()
		if e.Args != "" {
			if err := json.Unmarshal([]byte(e.Args), args); err != nil {
				continue // not this build's arguments: nothing to replay
			}
		}
		oc := report.OwnerCommand{Time: time.Unix(0, e.Time).UTC(), Actor: e.Actor, Reason: e.Reason, Action: spec.Name}
		if id, ok := strings.CutPrefix(e.Actor, "schedule:"); ok {
			if en, ok := entries[id]; ok && (oc.Reason == "" || e.Type == state.EvScheduleFired) {
				oc.Reason = en.Reason
			}
		}
		rflag := ""
		if oc.Reason != "" {
			rflag = " -reason " + quote(oc.Reason)
		}
		render(&oc, args, rflag)
		out = append(out, oc)
	}
	return out
}

// renderer fills in an owner command's CLI line and API request (and its
// schedule action name when it is not the command's name) from the
// command's arguments.
type renderer func(oc *report.OwnerCommand, args command.Command, rflag string)

// renderers are keyed by registry name (command.Spec.Name); an owner
// command without one is left out of the ledger.
var renderers = map[string]renderer{
	"pause": func(oc *report.OwnerCommand, args command.Command, rflag string) {
		a := args.(*command.Pause)
		verb := "resume"
		if a.Paused {
			verb = "pause"
		}
		oc.Action = "system." + verb
		if a.Shard != "" {
			oc.Action = "shard." + verb
		}
		oc.CLI = "planetary operator " + verb + flag("shard", a.Shard) + rflag
		post(oc, "/v1/operator/"+verb, api.PauseRequest{Shard: a.Shard, Reason: oc.Reason})
	},
	"shard.register": func(oc *report.OwnerCommand, args command.Command, rflag string) {
		a := args.(*command.ShardRegister)
		body := view.Shard(&a.Shard)
		body.Reason = oc.Reason
		oc.CLI = "planetary operator shard register" + flag("display-name", body.DisplayName) +
			intFlag("latency-budget-ms", body.LatencyBudgetMs) + intFlag("max-queue", body.MaxQueue) +
			intFlag("alert-threshold", body.QueueAlertThreshold) +
			flag("spillover-targets", strings.Join(body.SpilloverTargets, ",")) + rflag + " " + quote(a.Shard.Name)
		post(oc, "/v1/shards", body)
	},
	"shard.update": func(oc *report.OwnerCommand, args command.Command, rflag string) {
		a := args.(*command.ShardUpdate)
		body := shardUpdateBody(a, oc.Reason)
		oc.CLI = "planetary operator shard update" + updateFlags(body) + rflag + " " + quote(a.Name)
		post(oc, "/v1/shard/"+url.PathEscape(a.Name)+"/update", body)
	},
	"shard.deregister": func(oc *report.OwnerCommand, args command.Command, rflag string) {
		a := args.(*command.ShardDeregister)
		mode := flag("spill-to", a.SpillTo)
		if a.Cancel {
			mode = " -cancel"
		}
		oc.CLI = "planetary operator shard deregister" + mode + rflag + " " + quote(a.Name)
		post(oc, "/v1/shard/"+url.PathEscape(a.Name)+"/deregister", api.ShardDeregister{SpillTo: a.SpillTo, Cancel: a.Cancel, Reason: oc.Reason})
	},
	"node.register": func(oc *report.OwnerCommand, args command.Command, rflag string) {
		a := args.(*command.NodeRegister)
		body := view.Node(&a.Node)
		body.Status, body.Reason = "", oc.Reason
		oc.CLI = "planetary node register -config <node file>" + rflag + " # node " + quote(a.Node.ID)
		post(oc, "/v1/nodes", body)
	},
	"node.update": func(oc *report.OwnerCommand, args command.Command, rflag string) {
		a := args.(*command.NodeUpdate)
		body := nodeUpdateBody(a, oc.Reason)
		oc.CLI = "planetary node update" + updateFlags(body) + rflag + " " + quote(a.ID)
		post(oc, "/v1/node/"+url.PathEscape(a.ID)+"/update", body)
	},
	"node.retire": func(oc *report.OwnerCommand, args command.Command, rflag string) {
		a := args.(*command.NodeRetire)
		req := ""
		if a.Requeue {
			req = " -requeue"
		}
		oc.CLI = "planetary node retire" + req + rflag + " " + quote(a.ID)
		post(oc, "/v1/node/"+url.PathEscape(a.ID)+"/retire", api.NodeRetire{Requeue: a.Requeue, Reason: oc.Reason})
	},
	"job.cancel": func(oc *report.OwnerCommand, args command.Command, rflag string) {
		a := args.(*command.JobCancel)
		jobCommand(oc, a.IDs, a.Locator, "", rflag)
	},
	"job.reroute": func(oc *report.OwnerCommand, args command.Command, rflag string) {
		a := args.(*command.JobReroute)
		jobCommand(oc, a.IDs, a.Locator, a.Target, rflag)
	},
	"checkpoint.configure": func(oc *report.OwnerCommand, args command.Command, rflag string) {
		a := args.(*command.CheckpointConfigure)
		iv := ""
		if a.IntervalMs > 0 {
			iv = " -interval " + (time.Duration(a.IntervalMs) * time.Millisecond).String()
		}
		oc.CLI = "planetary operator checkpoint configure" + iv + flag("path", a.Path) + rflag
		post(oc, "/v1/operator/checkpoint", api.CheckpointConfig{IntervalMs: a.IntervalMs, Path: a.Path, Reason: oc.Reason})
	},
	"checkpoint.save": func(oc *report.OwnerCommand, _ command.Command, _ string) {
		oc.CLI = "planetary operator checkpoint save"
		post(oc, "/v1/operator/checkpoint/save", struct{}{})
	},
	"reporting.configure": func(oc *report.OwnerCommand, args command.Command, rflag string) {
		a := args.(*command.ReportingConfigure)
		oc.CLI = "planetary operator reporting configure" + flag("dir", a.Dir) + flag("label", a.Label) + rflag
		post(oc, "/v1/operator/reporting", api.ReportingConfig{Dir: a.Dir, Label: a.Label, Reason: oc.Reason})
	},
}

// renderDescribed renders a described owner command (core/ownercmd) from
// its registry row: its CLI line and its route's path and body.
func renderDescribed(spec command.Spec) renderer {
	return func(oc *report.OwnerCommand, args command.Command, _ string) {
		if m := command.MetaOf(args); m != nil {
			m.Reason = oc.Reason
		}
		oc.CLI = ownercmd.CLI(spec, args)
		post(oc, ownercmd.Path(spec, spec.Arg().Format(args)), ownercmd.Body(spec, args))
	}
}

func post(oc *report.OwnerCommand, path string, body any) {
	oc.API = report.APIRequest{Method: "POST", Path: path, Body: body}
}

// jobCommand renders a cancel (target empty) or reroute by locator or ids.
func jobCommand(oc *report.OwnerCommand, ids []string, l *command.Locator, target, rflag string) {
	reroute := target != ""
	if l != nil {
		loc := api.Locator{Shard: l.Shard, Tail: l.Tail, Offset: l.Offset, InFlight: l.InFlight, Reason: oc.Reason}
		sel := intFlag("tail", l.Tail) + intFlag("offset", l.Offset)
		if l.InFlight {
			sel += " -in-flight"
		}
		if reroute {
			loc.Target = target
			oc.CLI = "planetary job reroute" + flag("from", l.Shard) + sel + flag("shard", target) + rflag
			post(oc, "/v1/jobs/reroute", loc)
		} else {
			oc.CLI = "planetary job cancel" + flag("shard", l.Shard) + sel + rflag
			post(oc, "/v1/jobs/cancel", loc)
		}
		return
	}
	ids = append([]string(nil), ids...)
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
		oc.CLI = "planetary job reroute" + flag("shard", target) + rflag + " " + quote(first) + more
		post(oc, "/v1/job/"+url.PathEscape(first)+"/reroute", api.RerouteRequest{Shard: target, Reason: oc.Reason})
		return
	}
	oc.CLI = "planetary job cancel" + rflag + " " + quote(first) + more
	post(oc, "/v1/job/"+url.PathEscape(first)+"/cancel", api.OwnerRequest{Reason: oc.Reason})
}

// shardUpdateBody is the JSON body of a shard update with only the changed
// fields, keyed as in api.ShardUpdate.
func shardUpdateBody(a *command.ShardUpdate, reason string) map[string]any {
	body := map[string]any{"reason": reason}
	v := a.Shard
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
			body[f] = view.Shard(&v).Policies
		}
	}
	return body
}

func nodeUpdateBody(a *command.NodeUpdate, reason string) map[string]any {
	body := map[string]any{"reason": reason}
	v := a.Node
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
func quote(s string) string { return ownercmd.Quote(s) }
