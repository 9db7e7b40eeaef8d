package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// NodeStatusCommand shows one node.
type NodeStatusCommand struct{ Meta }

func (c *NodeStatusCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary node status [options] <id>

  Shows one node: shard, plugin, status, capacity and limits, price
  schedule, attestations, deployment, job counts by state and the jobs it is
  running now. The price section says whose schedule is in force: the
  mission's, or its plugin's, which overrides the mission's price (shown).
` + apiOptionsHelp)
}

func (c *NodeStatusCommand) Synopsis() string { return "Show one node" }

// nodeStatus is the -json form of node status.
type nodeStatus struct {
	Node api.Node  `json:"node"`
	Jobs []api.Job `json:"jobs"`
}

func (c *NodeStatusCommand) Run(args []string) int {
	fs := c.FlagSet("node status", true)
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos, "<id>") {
		return cli.RunResultHelp
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	n, err := client.Node(ctx, pos[0])
	if err != nil {
		return c.apiFail("reading node", err)
	}
	out := nodeStatus{Node: n, Jobs: []api.Job{}}
	for _, st := range []string{"assigned", "running"} {
		list, err := client.Jobs(ctx, api.JobQuery{Node: n.ID, State: st, Limit: 1000})
		if err != nil {
			return c.apiFail("listing the node's jobs", err)
		}
		out.Jobs = append(out.Jobs, list.Jobs...)
	}
	if c.json {
		return c.printJSON(out)
	}
	status := n.Status
	if n.StatusReason != "" {
		status += " (" + n.StatusReason + ")"
	}
	latency := ""
	if n.LatencyMs > 0 || n.MeasuredLatencyMs > 0 {
		latency = fmt.Sprintf("%dms declared, %dms measured", n.LatencyMs, n.MeasuredLatencyMs)
	}
	c.Ui.Output(kv(
		"ID", n.ID,
		"Shard", n.Shard,
		"Client", n.Client,
		"Plugin", n.Plugin,
		"Plugin state", pluginStateLine(n),
		"Plugin reason", n.PluginReason,
		"Status", status,
		"Placement", placementLine(n),
		"Capabilities", strings.Join(n.Capabilities, ", "),
		"Labels", strings.Join(n.Labels, ", "),
		"Active", fmt.Sprintf("%d/%d", n.Active, n.Capacity),
		"Max concurrency", fmt.Sprint(n.MaxConcurrency),
		"Quota", fmt.Sprint(n.Quota),
		"Completed", fmt.Sprint(n.Completed),
		"Latency", latency,
		"Heartbeat every", secs(n.HeartbeatSec),
		"Heartbeat age", ageMs(n.HeartbeatAgeMs),
		"Endpoint", n.Endpoint,
		"Registered", stamp(n.RegisteredAt),
		"Last status", stamp(n.LastStatusAt),
		"Jobs", countsLine(n.Counts),
	))
	p := n.Price
	c.Ui.Output("\nPrice")
	c.Ui.Output(kv("Price", priceSource(n), "Currency", p.Currency, "Unit", p.Unit, "Base", credits(p.BaseMicro), "Expression", p.Expr))
	for _, r := range p.Rates {
		c.Ui.Output(fmt.Sprintf("  per %s: %s", r.Unit, credits(r.PerUnitMicro)))
	}
	a := n.Attestations
	if a.Jurisdiction != "" || len(a.Certifications)+len(a.DataResidency)+len(a.Tags) > 0 {
		c.Ui.Output("\nAttestations")
		c.Ui.Output(kv("Certifications", strings.Join(a.Certifications, ", "), "Jurisdiction", a.Jurisdiction,
			"Data residency", strings.Join(a.DataResidency, ", "), "Tags", strings.Join(a.Tags, ", ")))
	}
	d := n.Deployment
	if d.Image != "" || d.Orchestration != "" || d.Runtime != "" {
		r := d.Resources
		res := fmt.Sprintf("%g cpu, %g GB memory, %g GB storage", r.CPUCores, r.MemoryGB, r.StorageGB)
		if r.GPUs > 0 || r.GPUClass != "" {
			res += fmt.Sprintf(", %d x %s GPU", r.GPUs, orDash(r.GPUClass))
		}
		c.Ui.Output("\nDeployment")
		c.Ui.Output(kv("Orchestration", d.Orchestration, "Image", d.Image, "Runtime", d.Runtime,
			"Entrypoint", d.Entrypoint, "Version", d.Version, "Zones", strings.Join(d.Zones, ", "), "Resources", res))
	}
	if len(out.Jobs) > 0 {
		rows := make([][]string, len(out.Jobs))
		for i, j := range out.Jobs {
			rows[i] = []string{j.ID, j.State, fmt.Sprint(j.Attempt), credits(j.QuoteMicro), stamp(j.AssignedAt)}
		}
		c.Ui.Output("\nRunning jobs")
		c.Ui.Output(table([]string{"ID", "State", "Attempt", "Quote", "Assigned"}, rows))
	}
	return 0
}

func secs(s int64) string {
	if s <= 0 {
		return ""
	}
	return fmt.Sprintf("%ds", s)
}

func (c *NodeStatusCommand) AutocompleteArgs() complete.Predictor { return complete.PredictAnything }
func (c *NodeStatusCommand) AutocompleteFlags() complete.Flags    { return apiFlags(nil) }

var (
	_ cli.Command             = (*NodeStatusCommand)(nil)
	_ cli.CommandAutocomplete = (*NodeStatusCommand)(nil)
)

// pluginStateLine is a node's plugin state as the operator reads it:
// "up", "refused", "crashed 3 times", "backing off (crashed 2 times)".
func pluginStateLine(n api.Node) string {
	st := strings.ReplaceAll(n.PluginState, "_", " ")
	if st == "" {
		return "-"
	}
	times := fmt.Sprintf("crashed %d times", n.PluginCrashes)
	if n.PluginCrashes == 1 {
		times = "crashed once"
	}
	switch {
	case n.PluginState == "crashed":
		return times
	case n.PluginCrashes > 0:
		return st + " (" + times + ")"
	}
	return st
}

// priceSource says whose schedule a node's price is: "mission", or "plugin
// schedule (overrides mission price 0.02 + 0.001/token)" when its plugin's
// published schedule is in force over the mission's.
func priceSource(n api.Node) string {
	if n.PriceSource != "plugin" {
		return n.PriceSource
	}
	if d := n.DeclaredPrice; d != nil {
		desc := credits(d.BaseMicro)
		for _, r := range d.Rates {
			desc += " + " + credits(r.PerUnitMicro) + "/" + r.Unit
		}
		if d.Expr != "" {
			desc += " + expr"
		}
		return "plugin schedule (overrides mission price " + desc + ")"
	}
	return "plugin schedule"
}

// placementLine says whether new work may be placed on the node, and
// what holds it back (a condition other than ready that holds).
func placementLine(n api.Node) string {
	if n.Schedulable {
		return "schedulable"
	}
	var why []string
	for _, c := range n.Conditions {
		if c.Type == "ready" || c.Status != "true" {
			continue
		}
		w := c.Type
		if c.Reason != "" {
			w += " (" + c.Reason + ")"
		}
		if c.Until != 0 {
			w += " until " + stamp(c.Until)
		}
		why = append(why, w)
	}
	if len(why) == 0 {
		return "not schedulable"
	}
	return "not schedulable: " + strings.Join(why, "; ")
}
