package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"

	api "github.com/planetary/planetary/core/api/client"
)

// StatusCommand shows the state of the server that answers and its
// cluster.
type StatusCommand struct{ Meta }

func (c *StatusCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary status [options]

  Shows the answering server's health (ok, starting, halted, no leader or
  disk full, with why), its applied raft index, the leader and the raft
  servers of the cluster. With -json it prints {health, leader, peers}: the
  bodies of GET /v1/health, /v1/status/leader and /v1/status/peers.
` + apiOptionsHelp)
}

func (c *StatusCommand) Synopsis() string { return "Show the server's health and the cluster" }

// statusOut is the -json form of status.
type statusOut struct {
	Health api.Health     `json:"health"`
	Leader api.LeaderInfo `json:"leader"`
	Peers  []api.Peer     `json:"peers"`
}

func (c *StatusCommand) Run(args []string) int {
	fs := c.FlagSet("status", true)
	pos, ok := c.parseAll(fs, args)
	if !c.wantArgs(ok, pos) {
		return cli.RunResultHelp
	}
	client, err := c.client()
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, cancel := c.context()
	defer cancel()
	var out statusOut
	if out.Health, err = client.Health(ctx); err != nil {
		return c.apiFail("reading health", err)
	}
	if out.Leader, err = client.Leader(ctx); err != nil {
		return c.apiFail("reading the leader", err)
	}
	if out.Peers, err = client.Peers(ctx); err != nil {
		return c.apiFail("listing raft peers", err)
	}
	if c.json {
		return c.printJSON(out)
	}
	h := out.Health
	health := h.Status
	if h.Message != "" {
		health += " (" + h.Message + ")"
	}
	leader := out.Leader.ID
	if out.Leader.Address != "" {
		leader += " at " + out.Leader.Address
	}
	if h.Leader {
		leader += " (this server)"
	}
	var peers []string
	for _, p := range out.Peers {
		peers = append(peers, fmt.Sprintf("%s (%s)", p.ID, p.Suffrage))
	}
	c.Ui.Output(kv(
		"Health", health,
		"Applied index", fmt.Sprint(h.AppliedIndex),
		"Leader", leader,
		"Servers", strings.Join(peers, ", "),
	))
	return 0
}

func (c *StatusCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *StatusCommand) AutocompleteFlags() complete.Flags    { return apiFlags(nil) }

var (
	_ cli.Command             = (*StatusCommand)(nil)
	_ cli.CommandAutocomplete = (*StatusCommand)(nil)
)
