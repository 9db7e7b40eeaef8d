package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/cli"
)

// exitCode is one documented exit code of a command.
type exitCode struct {
	Code    int
	Meaning string
}

// exitUnknownCommand is what the CLI returns for a command it does not know.
const exitUnknownCommand = 127

// defaultExits are the exit codes of every command that commandExits does
// not list.
func defaultExits() []exitCode {
	return []exitCode{
		{0, "success"},
		{1, "an error: wrong usage (the help follows), bad input, an API error or a refused call"},
	}
}

// groupExits are the codes of a command group (planetary job, ...), which
// only lists its subcommands.
func groupExits() []exitCode {
	return []exitCode{{1, "always: the group lists its subcommands (`-h` exits 0)"}}
}

// commandExits returns the exit codes of the command name; isGroup says the
// name is a command group. The CLI reference (website) and docs/cli.md
// print these, and TestExitCodesDocumented keeps docs/cli.md in step.
func commandExits(name string, isGroup bool) []exitCode {
	special := map[string][]exitCode{
		"run": {
			{0, "every job completed (or was cancelled by its owner)"},
			{1, "an error: bad input, an API error, the bundle did not verify, or the deadline passed"},
			{2, "the run finished, but work is parked or failed (the Health line names the shards and why)"},
		},
		"job submit": {
			{0, "every job was submitted or was already submitted (the same job again, or a repeated idempotency key)"},
			{1, "a job was rejected (an id already used by a different job, an unknown shard ...), bad HCL or an API error"},
		},
		"ledger": {
			{0, "every invariant holds"},
			{1, "an invariant fails, or an API error"},
		},
		"ledger verify": {
			{0, "the bundle's event chain and invariants verify"},
			{1, "they do not (the first bad event is named), or the bundle cannot be read"},
		},
		"agent": {
			{0, "the agent shut down cleanly (SIGINT or SIGTERM)"},
			{1, "bad configuration, or the agent could not start or failed"},
		},
		"events": {
			{0, "the events were printed (with -follow: until interrupted)"},
			{1, "an error: bad flags, or an API error (a range no longer retained is a 410 naming the first retained seq)"},
		},
	}
	if e, ok := special[name]; ok {
		return e
	}
	if isGroup {
		return groupExits()
	}
	return defaultExits()
}

// renderExits renders codes as the lines of an "Exit codes" list.
func renderExits(codes []exitCode) string {
	var b strings.Builder
	for _, c := range codes {
		fmt.Fprintf(&b, "%d  %s\n", c.Code, c.Meaning)
	}
	return b.String()
}

// exitTable renders the exit codes of every command as the markdown table
// docs/cli.md holds: commands with the default codes share one row.
func exitTable(cmds map[string]cli.CommandFactory) string {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("| command | code | meaning |\n|---|---|---|\n")
	for _, n := range names {
		if _, isGroup := commandIsGroup(cmds, n); isGroup {
			continue
		}
		codes := commandExits(n, false)
		if exitsEqual(codes, defaultExits()) {
			continue
		}
		for _, c := range codes {
			fmt.Fprintf(&b, "| `%s` | %d | %s |\n", n, c.Code, c.Meaning)
		}
	}
	for _, c := range defaultExits() {
		fmt.Fprintf(&b, "| every other command | %d | %s |\n", c.Code, c.Meaning)
	}
	for _, c := range groupExits() {
		fmt.Fprintf(&b, "| a command group (`planetary job`, ...) | %d | %s |\n", c.Code, c.Meaning)
	}
	fmt.Fprintf(&b, "| an unknown command | %d | the CLI prints the list of commands |\n", exitUnknownCommand)
	return b.String()
}

// commandIsGroup reports whether name is a command group.
func commandIsGroup(cmds map[string]cli.CommandFactory, name string) (cli.Command, bool) {
	c, err := cmds[name]()
	if err != nil {
		return nil, false
	}
	_, ok := c.(*GroupCommand)
	return c, ok
}

func exitsEqual(a, b []exitCode) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
