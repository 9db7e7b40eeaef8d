package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkRunBundle checks what a reader of a real run's bundle sees, for a run
// of examples/mission.hcl (currency USDC, a planned outage, an owner
// schedule): owner interventions count owner actions only, the client's
// state updates are counted apart, the chronicle narrates the outage at its
// mission time, one currency label is used in every view, the dashboard
// opens with its summary figures and every node label fits its box.
func checkRunBundle(t *testing.T, dir string) {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var sum struct {
		Currency string `json:"currency"`
		Metrics  struct {
			OwnerInterventions int64 `json:"owner_interventions"`
		} `json:"metrics"`
		Owner struct {
			Total         int64            `json:"total"`
			ClientUpdates int64            `json:"client_updates"`
			ByAction      map[string]int64 `json:"by_action"`
			Executed      int64            `json:"schedule_executed"`
		} `json:"owner_commands"`
	}
	if err := json.Unmarshal([]byte(read("summary.json")), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Currency != "USDC" {
		t.Errorf("summary currency %q, want the mission's USDC", sum.Currency)
	}
	// The run gives no command of its own: every owner action is a
	// schedule entry that fired.
	if sum.Metrics.OwnerInterventions != sum.Owner.Executed || sum.Owner.Total != sum.Owner.Executed {
		t.Errorf("owner interventions %d, owner commands %d, want the %d schedule entries executed (by action %v)",
			sum.Metrics.OwnerInterventions, sum.Owner.Total, sum.Owner.Executed, sum.Owner.ByAction)
	}
	if sum.Owner.ClientUpdates == 0 {
		t.Errorf("no client state updates counted apart")
	}
	if n := sum.Owner.ByAction["node.update"]; n != 0 {
		t.Errorf("%d node.update owner commands; the schedule has none (client updates counted as owner actions?)", n)
	}

	chron := read("mission-chronicle.md")
	if !strings.Contains(chron, "## What happened") {
		t.Errorf("chronicle has no account of what happened:\n%s", chron)
	}
	// Every node that went down (the planned outage lands once the node
	// holds work, which a short run may end before) and the schedule's
	// pause are narrated at their mission times.
	downs := map[string]bool{}
	for _, l := range strings.Split(read("events.ndjson"), "\n") {
		var e struct{ Type, Node string }
		if l != "" && json.Unmarshal([]byte(l), &e) == nil && e.Type == "node.down" {
			downs[e.Node] = true
		}
	}
	pause := false
	for _, l := range strings.Split(chron, "\n") {
		if !strings.HasPrefix(l, "- **T+") {
			continue
		}
		for n := range downs {
			if strings.Contains(l, "node "+n+" ") && strings.Contains(l, "went down") {
				delete(downs, n)
			}
		}
		pause = pause || strings.Contains(l, "paused by the owner's schedule")
	}
	if len(downs) > 0 || !pause {
		t.Errorf("chronicle does not narrate the outages of %v or the schedule's pause (%t) at mission times:\n%s", downs, pause, chron)
	}
	topo := read("mission-topology.html")
	for name, text := range map[string]string{"mission-chronicle.md": chron, "mission-topology.html": topo} {
		if strings.Contains(text, "credits") || strings.Contains(text, "credit ") {
			t.Errorf("%s labels money in credits as well as USDC", name)
		}
		if !strings.Contains(text, "USDC") {
			t.Errorf("%s has no USDC label", name)
		}
	}

	dash := read("dashboard.html")
	figs, first := strings.Index(dash, `id="summary-figures"`), strings.Index(dash, "<section")
	if figs < 0 || first < 0 || figs > strings.Index(dash[first+1:], "<section")+first+1 {
		t.Errorf("dashboard does not open with its summary figures")
	}
	for _, k := range []string{"jobs", "completion", "failed", "spills", "cost"} {
		if !strings.Contains(dash, `data-figure="`+k+`"`) {
			t.Errorf("dashboard lacks the %s figure", k)
		}
	}
	if !strings.Contains(dash, `"currency":"USDC"`) {
		t.Errorf("dashboard data carries no USDC currency")
	}

	// Every label in a node box fits it (28 characters of 12-unit text in
	// 202 units; see svgNodeChars in core/report).
	type text struct {
		Value string `xml:",chardata"`
	}
	type node struct {
		Class string `xml:"class,attr"`
		ID    string `xml:"data-node,attr"`
		Texts []text `xml:"text"`
	}
	type shard struct {
		Nodes []node `xml:"g"`
	}
	var svg struct {
		Shards []shard `xml:"g"`
	}
	i, j := strings.Index(topo, "<svg"), strings.Index(topo, "</svg>")
	if i < 0 || j < 0 {
		t.Fatalf("no svg in the topology")
	}
	if err := xml.Unmarshal([]byte(topo[i:j+len("</svg>")]), &svg); err != nil {
		t.Fatal(err)
	}
	seen, earned := 0, 0
	for _, s := range svg.Shards {
		for _, n := range s.Nodes {
			if n.ID == "" {
				continue
			}
			seen++
			for _, tx := range n.Texts {
				if r := []rune(tx.Value); len(r) > 28 {
					t.Errorf("node %s: label %q is %d characters, more than fit its box", n.ID, tx.Value, len(r))
				}
				if strings.HasPrefix(tx.Value, "earned ") && strings.HasSuffix(tx.Value, " USDC") {
					earned++
				}
			}
		}
	}
	if seen == 0 || earned != seen {
		t.Errorf("%d node boxes, %d with a whole earned value in USDC", seen, earned)
	}
}
