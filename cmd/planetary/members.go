package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/posener/complete"
)

// MembersCommand lists the cluster's servers.
type MembersCommand struct{ Meta }

func (c *MembersCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary members [options]

  Lists the servers of the cluster: raft id, raft address, HTTP API address,
  raft state (the leader is marked), voter or not, term, applied index, and
  the time since each server last heard from the leader. The answering
  server asks every other server over its API; a server that does not
  answer is listed with the error.
` + apiOptionsHelp)
}

func (c *MembersCommand) Synopsis() string { return "List the cluster's servers" }

func (c *MembersCommand) Run(args []string) int {
	fs := c.FlagSet("members", true)
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
	ms, err := client.Members(ctx)
	if err != nil {
		return c.apiFail("listing members", err)
	}
	if c.json {
		return c.printJSON(ms)
	}
	rows := make([][]string, len(ms))
	for i, m := range ms {
		st := m.State
		switch {
		case m.Error != "":
			st = "unreachable: " + m.Error
		case m.Leader:
			st = "leader"
		case st == "":
			st = "unknown"
		default:
			st = strings.ToLower(st)
		}
		voter := "false"
		if m.Voter {
			voter = "true"
		}
		contact := "-"
		switch {
		case m.Leader:
			contact = "0ms"
		case m.LastContactMs >= 0 && m.Error == "":
			contact = fmt.Sprintf("%dms", m.LastContactMs)
		}
		rows[i] = []string{m.ID, m.RaftAddr, m.HTTPAddr, st, voter, fmt.Sprint(m.Term), fmt.Sprint(m.AppliedIndex), contact}
	}
	c.Ui.Output(table([]string{"ID", "Raft Address", "HTTP Address", "State", "Voter", "Term", "Applied", "Last Contact"}, rows))
	return 0
}

func (c *MembersCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *MembersCommand) AutocompleteFlags() complete.Flags    { return apiFlags(nil) }

var (
	_ cli.Command             = (*MembersCommand)(nil)
	_ cli.CommandAutocomplete = (*MembersCommand)(nil)
)
