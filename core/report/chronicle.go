package report

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/planetary/planetary/raftfsm/state"
)

func pct(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", f*100), "0"), ".") + "%"
}

func num(n int64) string {
	s := fmt.Sprintf("%d", n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func yes(ok bool, good, bad string) string {
	if ok {
		return "✅ " + good
	}
	return "⚠️ " + bad
}

// Chronicle renders mission-chronicle.md: a plain-language account of the
// run for readers who do not operate the fabric.
func Chronicle(in Input) string {
	in = normalize(in)
	led := BuildLedger(in)
	sum := BuildSummary(in, led)
	m, r := sum.Metrics, sum.Rates
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	title := in.Mission.Name
	if title == "" {
		title = "planetary mission"
	}
	p("# Mission chronicle: %s\n\n", title)
	p("Generated %s", in.GeneratedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	if in.Mission.Label != "" {
		p(" · label **%s**", in.Mission.Label)
	}
	if in.Mission.Owner != "" {
		p(" · owner **%s**", in.Mission.Owner)
	}
	p(" · seed %d\n\n", in.Mission.Seed)
	status := in.Run.Status
	if status == "" {
		status = "unknown"
	}
	p("This is the story of the run in plain words. Every number below comes from the replicated ledger, and the event log that backs it can be checked offline with `planetary ledger verify`.\n\n")

	p("## Overview\n\n")
	p("The run finished with status **%s**. %s jobs were submitted and %s completed (%s of all work).", status, num(m.Submitted), num(m.Completed), pct(r.Completion))
	if m.Failed > 0 || m.Cancelled > 0 {
		p(" %s failed and %s were cancelled by the owner.", num(m.Failed), num(m.Cancelled))
	}
	cur, start := Currency(in), missionStart(in)
	p("\n\n| Measure | Jobs | Value (%s) |\n| --- | ---: | ---: |\n", mdCell(cur))
	g := led.Global
	p("| Submitted | %s | %s |\n", num(m.Submitted), fmtCredits(led.Totals.ValueSubmittedMu))
	for _, st := range States() {
		p("| %s | %s | %s |\n", strings.ToUpper(st[:1])+st[1:], num(g[st].Jobs), fmtCredits(g[st].ValueMu))
	}
	p("| Moved between shards | %s | %s |\n", num(m.Spillovers), fmtCredits(sumFlowMu(led.Flows)))
	p("| Paid to nodes | | %s |\n\n", fmtCredits(led.Totals.PaidMu))
	if len(in.Run.Stages) > 0 {
		p("| Stage | Started | Ended | Jobs |\n| --- | --- | --- | ---: |\n")
		for _, s := range in.Run.Stages {
			p("| %s | %s | %s | %s |\n", mdCell(s.Name), s.Start.UTC().Format("15:04:05"), s.End.UTC().Format("15:04:05"), num(s.Jobs))
		}
		p("\n")
	}

	if len(sum.Regions) > 0 {
		chronicleRegions(p, sum, cur)
	}

	p("## What happened\n\n")
	if hs := Happenings(in); len(hs) == 0 {
		p("No node went down, no work spilled, nothing was paused or retired.\n\n")
	} else {
		p("Times are mission time, from the moment the mission was applied.\n\n")
		for _, h := range hs {
			p("- **T+%s** %s\n", fmtSeconds(h.AtMs), mdCell(h.Text))
		}
		p("\n")
	}

	p("## Reliability signals\n\n")
	p("- Completion rate: **%s**\n", pct(r.Completion))
	p("- Failure rate: **%s** (%s jobs)\n", pct(r.Failure), num(m.Failed))
	p("- Drop rate: **%s** (%s jobs neither finished nor cancelled)\n", pct(r.Drop), num(m.Outstanding))
	p("- Jobs moved to a sister shard: %s (%s of all work)\n", num(m.Spillovers), pct(r.Spillover))
	p("- Jobs handed to another node after a node was lost or released them: %s\n", num(m.Reassigned))
	p("- Pauses ordered by the owner: %s\n", num(m.Pauses))
	p("- %s\n", yes(in.Run.CheckpointRestored, "The run resumed from a checkpoint.", "The run started fresh; no checkpoint was restored."))
	if in.Run.Outage != "" {
		p("- Planned outage: %s\n", mdCell(in.Run.Outage))
	}
	if in.Run.StoppedEarly {
		p("- ⚠️ The run stopped early: %s\n", mdCell(in.Run.StopReason))
	} else {
		p("- ✅ The run was not stopped early.\n")
	}
	p("\n")

	p("## Shard throughput and backlog\n\n")
	p("| Shard | Region | Health | Waiting | In progress | Completed | Failed | Moved out | Moved in |\n| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range sum.Shards {
		health := s.Health
		if s.Paused && health != HealthPaused {
			health += " (paused)"
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdCell(displayName(s.ShardView)), mdCell(s.Region), mdCell(health),
			num(s.QueueDepth), num(s.InFlight), num(s.Completed), num(s.Failed), num(s.SpilledOut), num(s.SpilledIn))
	}
	if len(led.Flows) > 0 {
		p("\nWork moved between shards:\n\n")
		for _, f := range led.Flows {
			p("- %s → %s: %s jobs worth %s %s%s\n", f.From, f.To, num(f.Jobs), fmtCredits(f.ValueMu), mdCell(cur), ruleNote(f.Rules))
		}
	}
	p("\n")

	p("## Node marketplace\n\n")
	p("Each node sets its own price; the scheduler picks the cheapest node that meets a job's needs.\n\n")
	p("| Node | Shard | Status | Price | Completed | Earned (%s) | Busy now |\n| --- | --- | --- | ---: | ---: | ---: | ---: |\n", mdCell(cur))
	for _, n := range sum.Nodes {
		p("| %s | %s | %s | %s %s/%s | %s | %s | %d of %d (%s) |\n", mdCell(n.ID), mdCell(n.Shard), mdCell(n.Status),
			fmtCredits(n.Price.BaseMicro), mdCell(cur), mdCell(unitOf(n.Price)), num(n.Completed), fmtCredits(n.EarnedMu),
			n.Active, n.Capacity, pct(n.Utilisation))
	}
	p("\n")
	for _, n := range sum.Nodes {
		var parts []string
		if n.Deployment.Image != "" {
			parts = append(parts, "image `"+n.Deployment.Image+"`")
		}
		if n.Deployment.Runtime != "" || n.Deployment.Orchestration != "" {
			parts = append(parts, "runs on "+strings.Trim(n.Deployment.Orchestration+" · "+n.Deployment.Runtime, " ·"))
		}
		if len(n.Deployment.Zones) > 0 {
			parts = append(parts, "zones "+strings.Join(n.Deployment.Zones, ", "))
		}
		if len(n.Attestations.Certifications) > 0 {
			parts = append(parts, "certified "+strings.Join(n.Attestations.Certifications, ", "))
		}
		if n.Attestations.Jurisdiction != "" {
			parts = append(parts, "jurisdiction "+n.Attestations.Jurisdiction)
		}
		if len(parts) > 0 {
			p("- **%s**: %s\n", n.ID, mdCell(strings.Join(parts, "; ")))
		}
	}
	p("\n")

	p("## Ledger guarantees\n\n")
	p("Every change of state is an event chained to the one before it by a SHA-256 hash. This bundle holds %s events, from seq %d to seq %d; the chain head recorded by the fabric is `%s`.\n\n",
		num(int64(len(in.Events))), in.Anchor.Seq+1, in.Ledger.Head.Seq, short(in.Ledger.Head.Hash))
	if pr := in.Pruned; pr != nil {
		where := "deleted"
		if pr.ArchivedSegments > 0 {
			where = fmt.Sprintf("archived gzip-compressed to `%s`", pr.ArchiveDir)
		}
		p("Event retention pruned %s earlier events (%d segments, %s bytes, %s) once a raft snapshot covered them. This bundle covers the retained window: it verifies from the anchor at event %d, hash `%s`, and its event counts start there.\n\n",
			num(int64(pr.Events)), pr.Segments, num(pr.Bytes), where, in.Anchor.Seq, short(in.Anchor.Hash))
	}
	if len(in.Ledger.Invariants) == 0 {
		p("- No invariant checks were recorded.\n")
	}
	for _, inv := range in.Ledger.Invariants {
		msg := inv.Message
		if msg == "" {
			msg = "holds"
		}
		p("- %s **%s**: %s\n", map[bool]string{true: "✅", false: "❌"}[inv.OK], inv.ID, mdCell(msg))
	}
	p("\n")

	p("## Owner timeline\n\n")
	if sum.OwnerCommands.ClientUpdates > 0 {
		p("Clients also published node state %s times (plugin fingerprints, prices, attestations and plugin state); those are not owner actions and are not listed here.\n\n", num(sum.OwnerCommands.ClientUpdates))
	}
	if len(in.OwnerCommands) == 0 {
		p("The owner gave no commands during this run.\n")
	} else {
		p("| Mission time (UTC) | Who | Action | Why | Replay with |\n| --- | --- | --- | --- | --- |\n")
		for _, c := range in.OwnerCommands {
			p("| T+%s (%s) | %s | %s | %s | `%s` |\n", fmtSeconds(max(c.Time.UnixNano()-start, 0)/int64(time.Millisecond)), c.Time.UTC().Format("15:04:05"), mdCell(c.Actor), mdCell(c.Action), mdCell(c.Reason), mdCell(c.CLI))
		}
	}
	p("\nScheduled owner actions: %d executed, %d skipped, %d pending.\n\n", len(in.Schedule.Executed), len(in.Schedule.Skipped), len(in.Schedule.Pending))

	p("## Checkpoints\n\n")
	if in.Checkpoint.Path == "" && in.Checkpoint.Index == 0 {
		p("No checkpoint was exported.\n\n")
	} else {
		p("The latest checkpoint was taken at raft index %d (term %d) and saved to `%s` with SHA-256 `%s`.\n\n", in.Checkpoint.Index, in.Checkpoint.Term, in.Checkpoint.Path, short(in.Checkpoint.SHA256))
	}

	p("## Artifact index\n\n")
	for _, a := range [][2]string{
		{FileSummary, "all figures in machine-readable form"},
		{FileLedger, "ledger totals per shard and node, flows, payments, invariants, chain head"},
		{FileEvents, "the hash-chained event log, one event per line"},
		{FileCheckpoint, "the latest checkpoint and the chain anchor"},
		{FileOwnerExecuted, "owner schedule: executed, skipped, pending"},
		{FileOwnerScript, "owner commands as CLI lines and API requests, ready to replay"},
		{FileTopologyMMD, "topology as a Mermaid diagram"},
		{FileTopologyHTML, "topology as a picture"},
		{FileDashboard, "interactive dashboard; open it in any browser, no network needed"},
	} {
		p("- [`%s`](./%s): %s\n", a[0], a[0], a[1])
	}
	for _, s := range in.Shards {
		p("- [`%s`](./%s): telemetry of shard %s\n", TelemetryFile(s.Name), TelemetryFile(s.Name), s.Name)
	}
	return b.String()
}

func sumFlowMu(fs []FlowLedger) int64 {
	var n int64
	for _, f := range fs {
		n += f.ValueMu
	}
	return n
}

// ruleNote lists the rules behind a flow's moves, " (by latency budget 10,
// no fit 2)", or nothing when the bundle's events name none.
func ruleNote(rules map[string]int64) string {
	if len(rules) == 0 {
		return ""
	}
	l := flowLabel(0, rules)
	return " (by " + l[strings.Index(l, ": ")+2:] + ")"
}

// missionStart is the mission clock's zero: the first mission.applied
// event, else the run's first stage, else the first event.
func missionStart(in Input) int64 {
	for i := range in.Events {
		if in.Events[i].Type == state.EvMissionApplied {
			return in.Events[i].Time
		}
	}
	if len(in.Run.Stages) > 0 && !in.Run.Stages[0].Start.IsZero() {
		return in.Run.Stages[0].Start.UnixNano()
	}
	if len(in.Events) > 0 {
		return in.Events[0].Time
	}
	return 0
}

// fmtSeconds renders milliseconds of mission time as seconds, "1.234s".
func fmtSeconds(ms int64) string {
	return fmt.Sprintf("%.3fs", float64(ms)/1000)
}

// Happening is one line of the chronicle's account of the run: an outage, a
// recovery, spills, a pause, a resume or a retirement, at its mission time.
type Happening struct {
	AtMs int64  `json:"at_ms"` // mission time
	Kind string `json:"kind"`  // outage, recovery, spill, pause, resume, retirement
	Text string `json:"text"`
}

// Happenings narrates the events of in that change what the fabric can do:
// nodes going down and coming back, spills (grouped per raft entry, route
// and rule), pauses and resumes, node retirements and shard
// deregistrations, in log order.
func Happenings(in Input) []Happening {
	start := missionStart(in)
	var out []Happening
	type spillKey struct {
		index          uint64
		from, to, rule string
	}
	spills := map[spillKey]int{} // -> position in out
	spillN := map[spillKey]int64{}
	who := func(e *state.Event) string {
		switch {
		case strings.HasPrefix(e.Actor, "schedule:"):
			return " by the owner's schedule (" + strings.TrimPrefix(e.Actor, "schedule:") + ")"
		case strings.HasPrefix(e.Actor, "client:"), e.Actor == "system", e.Actor == "":
			return ""
		}
		return " by " + e.Actor
	}
	why := func(e *state.Event) string {
		if e.Reason == "" {
			return ""
		}
		return ": " + e.Reason
	}
	shardOf := func(e *state.Event) string {
		if e.Shard == "" {
			return ""
		}
		return " (" + e.Shard + ")"
	}
	down := map[string]bool{}
	for i := range in.Events {
		e := &in.Events[i]
		at := (e.Time - start) / int64(time.Millisecond)
		add := func(kind, text string) {
			out = append(out, Happening{AtMs: max(at, 0), Kind: kind, Text: text})
		}
		switch e.Type {
		case state.EvNodeDown:
			down[e.Node] = true
			add("outage", fmt.Sprintf("node %s%s went down%s", e.Node, shardOf(e), why(e)))
		case state.EvNodeUp:
			if down[e.Node] {
				delete(down, e.Node)
				add("recovery", fmt.Sprintf("node %s%s came back up", e.Node, shardOf(e)))
			}
		case state.EvJobSpilled:
			k := spillKey{e.Index, e.From, e.To, e.Reason}
			spillN[k]++
			if pos, ok := spills[k]; ok {
				out[pos].Text = spillText(spillN[k], k.from, k.to, k.rule)
				continue
			}
			spills[k] = len(out)
			add("spill", spillText(1, e.From, e.To, e.Reason))
		case state.EvSystemPaused:
			add("pause", "the whole fabric was paused"+who(e)+why(e))
		case state.EvSystemResumed:
			add("resume", "the fabric resumed"+who(e)+why(e))
		case state.EvShardPaused:
			add("pause", "shard "+e.Shard+" was paused"+who(e)+why(e))
		case state.EvShardResumed:
			add("resume", "shard "+e.Shard+" resumed"+who(e)+why(e))
		case state.EvNodeRetired:
			add("retirement", fmt.Sprintf("node %s%s was retired%s%s", e.Node, shardOf(e), who(e), why(e)))
		case state.EvShardDeregistered:
			to := ""
			if e.To != "" {
				to = ", its work moved to " + e.To
			}
			add("retirement", "shard "+e.Shard+" was deregistered"+to+who(e)+why(e))
		}
	}
	return out
}

func spillText(n int64, from, to, rule string) string {
	jobs := "1 job"
	if n != 1 {
		jobs = num(n) + " jobs"
	}
	s := jobs + " spilled from " + from + " to " + to
	if rule != "" {
		s += " (" + rule + ")"
	}
	return s
}

// chronicleRegions is the chronicle's Regions section: the regions of the
// global ledger, each with its shards, leader, checkpoint and totals, and
// the global line.
func chronicleRegions(p func(string, ...any), sum Summary, cur string) {
	local := ""
	for _, r := range sum.Regions {
		if r.Local {
			local = r.Name
		}
	}
	p("## Regions\n\n")
	p("The mission runs as %d regions, each its own raft group with its own job registry, event chain and ledger.", len(sum.Regions))
	if local != "" {
		p(" This bundle is region **%s**'s: the figures above are its own.", local)
	}
	p(" The global ledger is the sum of the latest checkpoint each region published. A line's freshness is the age of its checkpoint as region %s stored it; a region publishes only when its ledger changes, so an idle region's line ages while its figures stay current.\n\n", cmp.Or(local, "this"))
	p("| Region | Shards | Leader | Index | Freshness | Jobs | Completed | Value (%s) | Paid (%s) |\n| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |\n", mdCell(cur), mdCell(cur))
	for _, r := range sum.Regions {
		name := r.Name
		if r.Local {
			name += " (local)"
		}
		p("| %s | %s | %s | %d | %s | %s | %s | %s | %s |\n", mdCell(name), mdCell(cmp.Or(strings.Join(r.Shards, ", "), "-")),
			mdCell(cmp.Or(r.Leader, "-")), r.Index, mdCell(r.Freshness), num(r.Jobs), num(r.Completed), fmtCredits(r.ValueMu), fmtCredits(r.PaidMu))
	}
	if g := sum.GlobalTotals; g != nil {
		p("| **Global** | | | | | %s | %s | %s | %s |\n", num(g.Jobs), num(g.Counts["completed"].Jobs), fmtCredits(g.ValueMicro), fmtCredits(g.PaidMicro))
	}
	p("\n")
}
