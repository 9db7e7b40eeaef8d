package report

import (
	"fmt"
	"sort"
	"strings"
)

// topo is the shared model behind the Mermaid and SVG renderings.
type topo struct {
	shards []topoShard
	flows  []Flow
}

type topoShard struct {
	ShardView
	id     string // identifier-safe, unique
	router string
	nodes  []topoNode
}

type topoNode struct {
	NodeView
	id string
}

// ident maps a name onto [A-Za-z0-9_]; used keeps the results unique.
func ident(prefix, name string, used map[string]bool) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	id := b.String()
	for i := 2; used[id]; i++ {
		id = fmt.Sprintf("%s_%d", b.String(), i)
	}
	used[id] = true
	return id
}

func buildTopo(in Input) topo {
	used := map[string]bool{}
	var t topo
	idx := map[string]int{}
	for _, s := range in.Shards {
		idx[s.Name] = len(t.shards)
		t.shards = append(t.shards, topoShard{ShardView: s, id: ident("shard_", s.Name, used), router: ident("router_", s.Name, used)})
	}
	nodes := append([]NodeView(nil), in.Nodes...)
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].ID < nodes[j].ID })
	for _, n := range nodes {
		i, ok := idx[n.Shard]
		if !ok {
			idx[n.Shard] = len(t.shards)
			i = len(t.shards)
			t.shards = append(t.shards, topoShard{ShardView: ShardView{Name: n.Shard, Health: HealthOK},
				id: ident("shard_", n.Shard, used), router: ident("router_", n.Shard, used)})
		}
		t.shards[i].nodes = append(t.shards[i].nodes, topoNode{NodeView: n, id: ident("node_", n.ID, used)})
	}
	// Spillover edges: every configured target, labelled with its flow.
	seen := map[[2]string]int{}
	rules := flowRules(in.Events)
	for _, f := range in.Ledger.Flows {
		f.Rules = rules[[2]string{f.From, f.To}]
		if _, a := idx[f.From]; !a {
			continue
		}
		if _, b := idx[f.To]; !b {
			continue
		}
		seen[[2]string{f.From, f.To}] = len(t.flows)
		t.flows = append(t.flows, f)
	}
	for _, s := range in.Shards {
		targets := append([]string(nil), s.SpilloverTargets...)
		for _, p := range s.Policies {
			targets = append(targets, p.Target)
		}
		for _, to := range targets {
			if _, ok := idx[to]; !ok || to == s.Name {
				continue
			}
			if _, ok := seen[[2]string{s.Name, to}]; !ok {
				seen[[2]string{s.Name, to}] = len(t.flows)
				t.flows = append(t.flows, Flow{From: s.Name, To: to})
			}
		}
	}
	sort.SliceStable(t.flows, func(i, j int) bool {
		if t.flows[i].From != t.flows[j].From {
			return t.flows[i].From < t.flows[j].From
		}
		return t.flows[i].To < t.flows[j].To
	})
	return t
}

func (t topo) shardByName(name string) *topoShard {
	for i := range t.shards {
		if t.shards[i].Name == name {
			return &t.shards[i]
		}
	}
	return nil
}

func nodeClass(status string) string {
	switch status {
	case "up":
		return "nodeUp"
	case "down":
		return "nodeDown"
	case "retired":
		return "nodeRetired"
	}
	return "nodeUnknown"
}

func shardClass(s ShardView) string {
	switch {
	case s.Paused || s.Health == HealthPaused:
		return "shardPaused"
	case s.Health == HealthAlert:
		return "shardAlert"
	case s.Health == HealthDegraded:
		return "shardDegraded"
	case s.Health == HealthDown:
		return "shardDown"
	}
	return "shardOK"
}

// mlabel makes s safe inside a quoted Mermaid label.
func mlabel(s string) string {
	r := strings.NewReplacer(`"`, "#quot;", "\n", " ", "\r", " ", "|", "#124;", "`", "'")
	return r.Replace(s)
}

func displayName(s ShardView) string {
	if s.DisplayName != "" && s.DisplayName != s.Name {
		return s.DisplayName + " (" + s.Name + ")"
	}
	return s.Name
}

// Mermaid renders the topology as a Mermaid flowchart: one subgraph per
// shard holding its router and nodes, router->node edges labelled with the
// shard's latency budget, and dashed router->router spillover edges labelled
// with flow counts. With more than one region in the global ledger, the
// shards are grouped in one subgraph per region (Regions), labelled with
// its leader, checkpoint index and freshness; another region's shards,
// which the bundle does not hold, are plain boxes in its subgraph.
func Mermaid(in Input) string {
	t := buildTopo(in)
	var b strings.Builder
	fmt.Fprintf(&b, "%%%% planetary mission topology: %s\n", mlabel(in.Mission.Name))
	b.WriteString("flowchart LR\n")
	for _, c := range [][2]string{
		{"shardOK", "fill:#0d1b4c,stroke:#64a9ff,color:#f5f7ff"},
		{"shardAlert", "fill:#3a2308,stroke:#f6b93b,color:#fff"},
		{"shardDegraded", "fill:#2a2a10,stroke:#e8e36a,color:#fff"},
		{"shardPaused", "fill:#2f143a,stroke:#ff6bcb,color:#fff"},
		{"shardDown", "fill:#3d0d0d,stroke:#ff6b6b,color:#fff"},
		{"router", "fill:#0b1733,stroke:#64a9ff,stroke-dasharray:4 2,color:#f5f7ff"},
		{"nodeUp", "fill:#053b2a,stroke:#1dd1a1,color:#f5f7ff"},
		{"nodeDown", "fill:#3d0d0d,stroke:#ff6b6b,color:#fff"},
		{"nodeRetired", "fill:#2b2b2b,stroke:#999,color:#ddd"},
		{"nodeUnknown", "fill:#2b2b2b,stroke:#f6b93b,color:#ddd"},
	} {
		fmt.Fprintf(&b, "  classDef %s %s;\n", c[0], c[1])
	}
	shard := func(s topoShard, in string) {
		fmt.Fprintf(&b, "%ssubgraph %s[\"%s\"]\n", in, s.id, mlabel(displayName(s.ShardView)))
		fmt.Fprintf(&b, "%s  direction TB\n", in)
		state := "open"
		if s.Paused {
			state = "paused"
		}
		fmt.Fprintf(&b, "%s  %s{{\"router %s · queue %d · %s\"}}\n", in, s.router, mlabel(s.Name), s.QueueDepth, state)
		for _, n := range s.nodes {
			fmt.Fprintf(&b, "%s  %s[\"%s · %s · %d/%d active\"]\n", in, n.id, mlabel(n.ID), mlabel(n.Status), n.Active, n.Capacity)
		}
		for _, n := range s.nodes {
			if s.LatencyBudgetMs > 0 {
				fmt.Fprintf(&b, "%s  %s -->|\"<= %dms\"| %s\n", in, s.router, s.LatencyBudgetMs, n.id)
			} else {
				fmt.Fprintf(&b, "%s  %s --> %s\n", in, s.router, n.id)
			}
		}
		fmt.Fprintf(&b, "%send\n", in)
	}
	regions := Regions(in)
	if len(regions) == 0 {
		for _, s := range t.shards {
			shard(s, "  ")
		}
	}
	// With more than one region, each region is a subgraph around the
	// shards it holds; a shard of another region, which this bundle does
	// not hold, is a box of its own.
	var regionClasses []string
	if len(regions) > 0 {
		used := map[string]bool{}
		of := regionOf(regions)
		for _, r := range regions {
			id := ident("region_", r.Name, used)
			fmt.Fprintf(&b, "  subgraph %s[\"%s\"]\n", id, mlabel(regionLabel(r)))
			b.WriteString("    direction LR\n")
			held := map[string]bool{}
			for _, s := range t.shards {
				if of[s.Name] == r.Name {
					shard(s, "    ")
					held[s.Name] = true
				}
			}
			for _, name := range r.Shards {
				if !held[name] {
					rid := ident("remote_", name, used)
					fmt.Fprintf(&b, "    %s[\"shard %s · region %s\"]\n", rid, mlabel(name), mlabel(r.Name))
					regionClasses = append(regionClasses, rid+" remoteShard")
				}
			}
			b.WriteString("  end\n")
			cls := "region"
			if r.Local {
				cls = "regionLocal"
			}
			regionClasses = append(regionClasses, id+" "+cls)
		}
		for _, s := range t.shards {
			if of[s.Name] == "" {
				shard(s, "  ")
			}
		}
	}
	for _, f := range t.flows {
		from, to := t.shardByName(f.From), t.shardByName(f.To)
		fmt.Fprintf(&b, "  %s -.->|\"%s\"| %s\n", from.router, mermaidText(flowLabel(f.Jobs, f.Rules)), to.router)
	}
	if len(regionClasses) > 0 {
		for _, c := range [][2]string{
			{"region", "fill:#050b1e,stroke:#8e9cc8,stroke-dasharray:3 3,color:#c8d3f5"},
			{"regionLocal", "fill:#050b1e,stroke:#1dd1a1,color:#f5f7ff"},
			{"remoteShard", "fill:#0b1733,stroke:#8e9cc8,color:#c8d3f5"},
		} {
			fmt.Fprintf(&b, "  classDef %s %s;\n", c[0], c[1])
		}
		for _, c := range regionClasses {
			fmt.Fprintf(&b, "  class %s\n", c)
		}
	}
	for _, s := range t.shards {
		fmt.Fprintf(&b, "  class %s %s\n", s.id, shardClass(s.ShardView))
		fmt.Fprintf(&b, "  class %s router\n", s.router)
		for _, n := range s.nodes {
			fmt.Fprintf(&b, "  class %s %s\n", n.id, nodeClass(n.Status))
		}
	}
	return b.String()
}

// flowLabel is a flow's label: its job count and, when its events name
// them, the rules that moved the jobs, the most used first
// ("12 jobs: latency budget 10, no fit 2").
func flowLabel(jobs int64, rules map[string]int64) string {
	label := fmt.Sprintf("%d jobs", jobs)
	if len(rules) == 0 {
		return label
	}
	names := make([]string, 0, len(rules))
	for r := range rules {
		names = append(names, r)
	}
	sort.Slice(names, func(i, j int) bool {
		if rules[names[i]] != rules[names[j]] {
			return rules[names[i]] > rules[names[j]]
		}
		return names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, r := range names {
		parts[i] = fmt.Sprintf("%s %d", r, rules[r])
	}
	return label + ": " + strings.Join(parts, ", ")
}

// mermaidText makes s safe inside a quoted Mermaid label.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "|", "#124;").Replace(s)
}

// regionLabel is a region's title in the atlas: its name, leader,
// checkpoint index, freshness and completed jobs.
func regionLabel(r RegionView) string {
	s := "region " + r.Name
	if r.Local {
		s += " (local)"
	}
	if r.Leader != "" {
		s += " · leader " + r.Leader
	}
	s += fmt.Sprintf(" · index %d", r.Index)
	if !r.Local {
		s += " · " + r.Freshness
	}
	return s + fmt.Sprintf(" · %d completed", r.Completed)
}
