package main

import (
	"bytes"
	"context"
	"sort"
	"strings"

	"github.com/planetary/planetary/core/agent"
	"github.com/planetary/planetary/core/mission"
)

// reload re-reads the agent config on SIGHUP and puts its plugin blocks in
// force; a file that does not parse changes nothing.
func (c *AgentCommand) reload(ctx context.Context, a *agent.Agent, dev bool, config string) {
	if config == "" {
		c.Ui.Error("planetary agent: SIGHUP: no -config file to reload (the built-in dev config stays)")
		return
	}
	file, diags := loadAgentFiles(dev, config)
	if diags.HasErrors() {
		var b bytes.Buffer
		_ = mission.FormatDiagnostics(&b, file.Sources, diags)
		c.Ui.Error("planetary agent: SIGHUP: reload of " + config + " refused; the plugins in force stay:\n" +
			strings.TrimRight(b.String(), "\n"))
		return
	}
	if file.Agent == nil {
		c.Ui.Error("planetary agent: SIGHUP: reload of " + config + " refused: it has no agent block; the plugins in force stay")
		return
	}
	res, err := a.ReloadPlugins(ctx, file.Agent.Plugins)
	if err != nil {
		c.Ui.Error("planetary agent: SIGHUP: " + err.Error())
		return
	}
	msg := "planetary agent: SIGHUP: reloaded the plugin blocks of " + config
	if len(res.Relaunched) > 0 {
		msg += "; relaunched " + strings.Join(res.Relaunched, ", ")
	} else {
		msg += "; no plugin changed"
	}
	c.Ui.Output(msg)
	failed := make([]string, 0, len(res.Failed))
	for n := range res.Failed {
		failed = append(failed, n)
	}
	sort.Strings(failed)
	for _, n := range failed {
		c.Ui.Error("planetary agent: SIGHUP: node " + n + ": " + res.Failed[n].Error())
	}
	if len(res.Ignored) > 0 {
		c.Ui.Error("planetary agent: SIGHUP: plugin blocks added or removed take a restart: " + strings.Join(res.Ignored, ", "))
	}
}
