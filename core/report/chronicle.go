package report

import (
	"fmt"
	"strings"
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
	p("\n\n| Measure | Jobs | Value (credits) |\n| --- | ---: | ---: |\n")
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

	p("## Reliability signals\n\n")
	p("- Completion rate: **%s**\n", pct(r.Completion))
	p("- Failure rate: **%s** (%s jobs)\n", pct(r.Failure), num(m.Failed))
	p("- Drop rate: **%s** (%s jobs neither finished nor cancelled)\n", pct(r.Drop), num(m.Outstanding))
	p("- Jobs moved to a sister shard: %s (%s of all work)\n", num(m.Spillovers), pct(r.Spillover))
	p("- Jobs handed to another node after a node was lost or released them: %s\n", num(m.Reassigned))
	p("- Pauses ordered by the owner: %s\n", num(m.Pauses))
	p("- %s\n", yes(in.Run.CheckpointRestored, "The run resumed from a checkpoint.", "The run started fresh; no checkpoint was restored."))
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
			p("- %s → %s: %s jobs worth %s credits%s\n", f.From, f.To, num(f.Jobs), fmtCredits(f.ValueMu), ruleNote(f.Rules))
		}
	}
	p("\n")

	p("## Node marketplace\n\n")
	p("Each node sets its own price; the scheduler picks the cheapest node that meets a job's needs.\n\n")
	p("| Node | Shard | Status | Price | Completed | Earned (credits) | Busy now |\n| --- | --- | --- | ---: | ---: | ---: | ---: |\n")
	for _, n := range sum.Nodes {
		p("| %s | %s | %s | %s %s/%s | %s | %s | %d of %d (%s) |\n", mdCell(n.ID), mdCell(n.Shard), mdCell(n.Status),
			fmtCredits(n.Price.BaseMu), mdCell(currency(n.Price)), mdCell(unitOf(n.Price)), num(n.Completed), fmtCredits(n.EarnedMu),
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
	if len(in.OwnerCommands) == 0 {
		p("The owner gave no commands during this run.\n")
	} else {
		p("| Time | Who | Action | Why | Replay with |\n| --- | --- | --- | --- | --- |\n")
		for _, c := range in.OwnerCommands {
			p("| %s | %s | %s | %s | `%s` |\n", c.Time.UTC().Format("15:04:05"), mdCell(c.Actor), mdCell(c.Action), mdCell(c.Reason), mdCell(c.CLI))
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
