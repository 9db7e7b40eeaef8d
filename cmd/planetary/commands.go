package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/cli"

	"github.com/planetary/planetary/core/ownercmd"
)

// Run runs the CLI with args and returns the exit code.
func Run(args []string) int {
	ui := &cli.BasicUi{Reader: os.Stdin, Writer: os.Stdout, ErrorWriter: os.Stderr}
	return RunWithUi(args, ui)
}

// RunWithUi runs the CLI against ui (tests pass a cli.MockUi).
func RunWithUi(args []string, ui cli.Ui) int {
	c := &cli.CLI{
		Name:                       "planetary",
		Version:                    Version,
		Args:                       args,
		Commands:                   Commands(ui),
		Autocomplete:               true,
		AutocompleteNoDefaultFlags: true,
		HelpWriter:                 os.Stdout,
		ErrorWriter:                os.Stderr,
	}
	code, err := c.Run()
	if err != nil {
		ui.Error(fmt.Sprintf("Error: %v", err))
		return 1
	}
	return code
}

// Output kinds: what a command prints. Every registered command but a group
// has one in commandOutput (TestEveryCommandClassified), and every read and
// stream command is run with -json against a dev agent
// (TestReadCommandsJSON): a new command that reads state must take -json.
const (
	// outRead: reads state and prints it; -json prints one JSON value,
	// the API's shape (a command that combines routes prints an object
	// of their bodies).
	outRead = "read"
	// outStream: prints a stream; -json prints one JSON value a line.
	outStream = "stream"
	// outOther: changes state, runs work, serves or builds (many also
	// take -json for their result).
	outOther = "other"
)

// commandOutput classifies every registered command (the described owner
// commands, core/ownercmd, are outOther: see init).
var commandOutput = map[string]string{
	"mission show":              outRead,
	"job status":                outRead,
	"job list":                  outRead,
	"node list":                 outRead,
	"node status":               outRead,
	"operator shard list":       outRead,
	"operator shard status":     outRead,
	"operator snapshot inspect": outRead,
	"operator raft list-peers":  outRead,
	"members":                   outRead,
	"acl token list":            outRead,
	"ledger":                    outRead,
	"ledger verify":             outRead,
	"status":                    outRead,
	"version":                   outRead,

	"events": outStream,

	"agent":                         outOther,
	"plugin serve":                  outOther,
	"docs build":                    outOther,
	"docs serve":                    outOther,
	"drill acceptance":              outOther,
	"drill restart":                 outOther,
	"drill partition":               outOther,
	"run":                           outOther,
	"report":                        outOther,
	"bench":                         outOther,
	"image import":                  outOther,
	"image build-busybox":           outOther,
	"mission apply":                 outOther,
	"job submit":                    outOther,
	"job cancel":                    outOther,
	"job reroute":                   outOther,
	"node register":                 outOther,
	"node retire":                   outOther,
	"node update":                   outOther,
	"operator shard register":       outOther,
	"operator shard deregister":     outOther,
	"operator shard update":         outOther,
	"operator pause":                outOther,
	"operator resume":               outOther,
	"operator checkpoint configure": outOther,
	"operator checkpoint save":      outOther,
	"operator reporting configure":  outOther,
	"operator gc":                   outOther,
	"operator snapshot save":        outOther,
	"operator snapshot restore":     outOther,
	"operator raft compact":         outOther,
	"operator raft remove-peer":     outOther,
	"operator raft transfer-leader": outOther,
	"acl bootstrap":                 outOther,
	"acl token create":              outOther,
	"acl client revoke":             outOther,
}

func init() {
	for _, s := range ownercmd.All() {
		commandOutput[ownercmd.Words(s)] = outOther
	}
}

// Commands is the command factory map. Nested commands are keys with spaces.
func Commands(ui cli.Ui) map[string]cli.CommandFactory {
	m := Meta{Ui: ui}
	cmds := map[string]cli.CommandFactory{
		"version":      func() (cli.Command, error) { return &VersionCommand{Meta: m}, nil },
		"agent":        func() (cli.Command, error) { return &AgentCommand{Meta: m}, nil },
		"plugin serve": func() (cli.Command, error) { return &PluginServeCommand{Meta: m}, nil },
		"docs build":   func() (cli.Command, error) { return &DocsBuildCommand{Meta: m}, nil },
		"docs serve":   func() (cli.Command, error) { return &DocsServeCommand{Meta: m}, nil },

		"drill acceptance": func() (cli.Command, error) { return &DrillAcceptanceCommand{Meta: m}, nil },
	}
	for k, f := range apiCommands(m) {
		cmds[k] = f
	}
	for k, f := range runCommands(m) {
		cmds[k] = f
	}
	for k, f := range benchCommands(m) {
		cmds[k] = f
	}
	for k, f := range imageCommands(m) {
		cmds[k] = f
	}
	for k, f := range describedCommands(m) {
		cmds[k] = f
	}
	addGroups(m, cmds)
	return cmds
}
