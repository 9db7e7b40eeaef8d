package main

import (
	"strings"

	"github.com/hashicorp/cli"
)

// groupSynopses are the one-line summaries of the command groups: a group
// is not a command of its own, but `planetary -h` and `planetary job -h`
// list it with its summary, as every command is.
var groupSynopses = map[string]string{
	"acl":                 "Bootstrap ACLs, create and list tokens",
	"acl token":           "Create and list ACL tokens",
	"docs":                "Build or serve the documentation site",
	"drill":               "Run the acceptance and restart drills",
	"image":               "Build and import container images",
	"job":                 "Submit, inspect, cancel and reroute jobs",
	"mission":             "Apply and show the mission",
	"node":                "Register, inspect, update and retire nodes",
	"operator":            "Operate the fabric: shards, raft, snapshots",
	"operator checkpoint": "Configure and save checkpoints",
	"operator raft":       "Inspect and change the raft configuration",
	"operator reporting":  "Configure the reporting policy",
	"operator shard":      "Register, list, update and deregister shards",
	"operator snapshot":   "Save, inspect and restore snapshots",
	"plugin":              "Serve built-in plugins (used by the agent)",
}

// GroupCommand stands for a command group: it prints the group's help,
// which lists its subcommands.
type GroupCommand struct {
	Meta
	Name    string
	Summary string
}

func (c *GroupCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary ` + c.Name + ` <subcommand> [options] [args]

  ` + c.Summary + `.

  Run 'planetary ` + c.Name + ` <subcommand> -h' for a subcommand's options.
`)
}

func (c *GroupCommand) Synopsis() string { return c.Summary }

func (c *GroupCommand) Run(args []string) int { return cli.RunResultHelp }

// addGroups registers a GroupCommand for every group of cmds.
func addGroups(m Meta, cmds map[string]cli.CommandFactory) {
	for name, summary := range groupSynopses {
		if _, ok := cmds[name]; ok {
			continue
		}
		name, summary := name, summary
		cmds[name] = func() (cli.Command, error) { return &GroupCommand{Meta: m, Name: name, Summary: summary}, nil }
	}
}
