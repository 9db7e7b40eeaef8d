package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/planetary/planetary/core/agent"
	"github.com/planetary/planetary/core/mission"
	"github.com/planetary/planetary/examples"
)

// AgentCommand runs the planetary agent.
type AgentCommand struct{ Meta }

func (c *AgentCommand) Help() string {
	return strings.TrimSpace(`
Usage: planetary agent [options]

  Runs a planetary agent. The server role holds a raft member, the replicated
  fabric state and the HTTP API; the client role runs agent plugins for its
  nodes. -dev runs both in one process with the example mission built in.

Options:

  -dev
    Server and client in one process, ACL bootstrapped automatically (the
    bootstrapped token is used, whatever PLANETARY_TOKEN says), data in a
    temp dir unless -data-dir is set, API on 127.0.0.1:4646. Without
    -config the embedded examples/agent.hcl and examples/mission.hcl are used.

  -config=<file>
    An HCL file holding an agent block, plugin blocks, a mission, or both.
    A file holding only a mission starts a single-host agent (server and
    client, the built-in plugins of examples/agent.hcl) with these
    defaults: data dir ./data/<mission name>, API 127.0.0.1:4646, ACL on;
    the agent bootstraps ACLs itself, keeps the management token in
    <data-dir>/management.token and prints it once. The banner says what
    it assumed; -data-dir and -http-addr override.

  -regions
    Run every region of the mission as its own raft group in this process
    (its own raft log, snapshots, events and ledger under
    <data-dir>/server/regions/<name>), with one API routing each request to
    its region (the X-Planetary-Region header picks one) and a client role
    per region. Regions group shards by their region attribute; a shard is
    its own region unless grouped.

  -server / -client
    Enable only the server or only the client role (overrides the file).

  -servers=<addr,...>
    API addresses of the servers a client talks to.

  -data-dir=<dir>
    Where raft, snapshots, the event log and plugin work dirs live.

  -http-addr=<host:port>
    The HTTP API address. Default 127.0.0.1:4646.

  -bind=<host:port>
    The raft address of the server role. Default 127.0.0.1:4647.

  -token=<secret>
    An operator's token for calls to other agents only (or
    PLANETARY_TOKEN): a remote client's join credential (create one with
    planetary acl token create -type client -name <name>) or a server's
    join to its peers. An agent never needs it for itself: a client in the
    same process as its server has its own identity, and a remote client
    uses the join credential once, on its first start, then the identity
    the servers issued it (kept in <data-dir>/client-identity.json).

  -bootstrap-expect=<n>
    Wait until n servers (this one and those reached through -join) are up,
    then bootstrap one raft cluster of them. 1 bootstraps alone.

  -join=<addr,...>
    HTTP API addresses of other servers to form or join a cluster with.

  -raft-heartbeat-timeout=<duration> -raft-election-timeout=<duration>
    Raft timeouts (default 1s each); lower values fail over faster on a
    quiet network.

  -enable-debug
    Serve Go's profiler under /debug/pprof/ on the API address (no ACL
    check: only on a trusted address).

  -heartbeat-ttl=<duration>
    How long the leader waits for a node's heartbeat before it marks the
    node down and requeues its jobs. Default 15s.

  -log-level=<level>
    trace, debug, info, warn or error. Default info.

  -log-json
    Log as JSON lines.

  On SIGHUP the agent reads -config again and puts its plugin blocks and
  sha256 pins in force without a restart: a node whose plugin spec changed,
  or whose plugin is not up (refused, crashed), is relaunched with it. A file
  that does not parse leaves everything as it was and says why. Other
  settings, and plugin blocks added or removed, take a restart.`)
}

func (c *AgentCommand) Synopsis() string { return "Run a planetary agent" }

func (c *AgentCommand) Run(args []string) int {
	fs := c.FlagSet("agent", false)
	var (
		dev, srv, cli_, logJSON                       bool
		config, servers, dataDir, httpAddr, bind, tok string
		logLevel                                      string
	)
	fs.BoolVar(&dev, "dev", false, "")
	var regions bool
	fs.BoolVar(&regions, "regions", false, "")
	fs.BoolVar(&srv, "server", false, "")
	fs.BoolVar(&cli_, "client", false, "")
	fs.StringVar(&config, "config", "", "")
	fs.StringVar(&servers, "servers", "", "")
	fs.StringVar(&dataDir, "data-dir", "", "")
	fs.StringVar(&httpAddr, "http-addr", "", "")
	fs.StringVar(&bind, "bind", "", "")
	fs.StringVar(&tok, "token", "", "")
	fs.StringVar(&logLevel, "log-level", "", "")
	fs.BoolVar(&logJSON, "log-json", false, "")
	var (
		ttl, raftHB, raftElect time.Duration
		expect                 int64
		join                   string
	)
	fs.DurationVar(&ttl, "heartbeat-ttl", 0, "")
	fs.DurationVar(&raftHB, "raft-heartbeat-timeout", 0, "")
	fs.DurationVar(&raftElect, "raft-election-timeout", 0, "")
	fs.Int64Var(&expect, "bootstrap-expect", 0, "")
	fs.StringVar(&join, "join", "", "")
	var debug bool
	fs.BoolVar(&debug, "enable-debug", false, "")
	if !c.parse(fs, args) {
		return 1
	}
	if fs.NArg() != 0 {
		return c.fail("agent takes no arguments, got %q", fs.Args())
	}
	if !dev && config == "" {
		return c.fail("Error: -config <file> is required unless -dev is set")
	}

	file, diags := loadAgentFiles(dev, config)
	if diags.HasErrors() {
		c.diagnostics(file.Sources, diags)
		return 1
	}
	ac := file.Agent
	single := false
	if ac == nil {
		if !dev && file.Mission == nil {
			return c.fail("Error: %s holds neither an agent block nor a mission", config)
		}
		ac = devAgentConfig()
		if !dev {
			// A mission alone: a single-host agent with documented defaults.
			ac.DataDir = filepath.Join("data", file.Mission.Name)
			single = true
		}
	}
	if dev {
		ac.Server.Enabled, ac.Client.Enabled = true, true
		ac.DataDir = ""
		ac.ACL.Enabled = true
	}
	if srv || cli_ {
		ac.Server.Enabled, ac.Client.Enabled = srv, cli_
	}
	if servers != "" {
		ac.Client.Servers = strings.Split(servers, ",")
	}
	if dataDir != "" {
		ac.DataDir = dataDir
	}
	if httpAddr != "" {
		ac.HTTPAddr = httpAddr
	}
	if bind != "" {
		ac.Server.Bind = bind
	}
	if expect > 0 {
		ac.Server.BootstrapExpect = expect
	}
	if join != "" {
		ac.Server.Join = strings.Split(join, ",")
	}
	if logLevel != "" {
		ac.LogLevel = logLevel
	}
	if logJSON {
		ac.LogJSON = true
	}
	var assumed string
	if single {
		assumed = fmt.Sprintf("%s has no agent block: a single-host agent (server and client, built-in plugins as in %s), data dir %s, API %s, ACL on",
			config, examples.AgentFile, ac.DataDir, ac.HTTPAddr)
	}
	// An operator's token serves only calls to other agents (a client's
	// join, a server's join): this agent's own roles use its own identity.
	tokSource := "-token flag"
	if tok == "" {
		tok, tokSource = os.Getenv("PLANETARY_TOKEN"), "PLANETARY_TOKEN"
	}
	level := hclog.LevelFromString(ac.LogLevel)
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "planetary", Level: level, JSONFormat: ac.LogJSON, Output: os.Stderr})

	self, err := os.Executable()
	if err != nil {
		return c.fail("Error: cannot find the planetary binary: %v", err)
	}
	cfg := agent.Config{Logger: logger, Agent: ac, Mission: file.Mission, Dev: dev, SelfPath: self,
		Token: tok, TokenSource: tokSource, BootstrapACL: dev || assumed != ""}
	cfg.Server.HeartbeatTTL = ttl
	cfg.EnableDebug = debug
	cfg.Regions = regions
	cfg.Server.RaftHeartbeatTimeout = raftHB
	cfg.Server.RaftElectionTimeout = raftElect
	if file.Mission != nil {
		cfg.MissionSource, cfg.MissionFile = file.missionSrc, file.missionName
	}
	a, err := agent.New(cfg)
	if err != nil {
		return c.fail("Error: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := a.Start(ctx); err != nil {
		_ = a.Shutdown()
		return c.fail("Error: %v", err)
	}
	c.Ui.Output(banner(a, ac, file, assumed))
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-hup:
			c.reload(ctx, a, dev, config)
		}
	}
	c.Ui.Output("planetary agent: shutting down")
	if err := a.Shutdown(); err != nil {
		return c.fail("Error during shutdown: %v", err)
	}
	return 0
}

func banner(a *agent.Agent, ac *mission.AgentConfig, f *agentFiles, assumed string) string {
	role := "server"
	switch {
	case ac.Server.Enabled && ac.Client.Enabled:
		role = "server+client"
	case ac.Client.Enabled:
		role = "client"
	}
	name := ""
	if f.Mission != nil {
		name = " mission " + f.Mission.Name
	}
	addr := a.HTTPAddr()
	if addr == "" && len(ac.Client.Servers) > 0 {
		addr = ac.Client.Servers[0]
	}
	line := fmt.Sprintf("planetary agent (%s)%s: api %s  ui %s/ui/  data %s", role, name, addr, addr, a.DataDir())
	if ac.Client.Enabled {
		line += "\n  " + execSummary(ac)
	}
	if assumed != "" {
		line += "\n  assumed: " + assumed
	}
	file := filepath.Join(a.DataDir(), agent.TokenFile)
	switch tok, fresh := a.ManagementToken(); {
	case tok != "" && fresh:
		// Printed once, on the start that bootstrapped it.
		line += fmt.Sprintf("\n  ACL bootstrapped by the agent; management token kept in %s:\n  export PLANETARY_ADDR=%s PLANETARY_TOKEN=%s", file, addr, tok)
	case tok != "":
		line += fmt.Sprintf("\n  management token in %s (export PLANETARY_TOKEN=$(cat %s))", file, file)
	}
	return line
}

// execSummary says whether this agent's exec plugin runs host commands,
// which ones, and whether shells and interpreters are allowed.
func execSummary(ac *mission.AgentConfig) string {
	for _, p := range ac.Plugins {
		if p.Name != "exec" || !p.Builtin {
			continue
		}
		if on, _ := p.Config["enabled"].(bool); !on {
			break
		}
		allow, _ := p.Config["allow"].([]string)
		list := "nothing"
		if len(allow) > 0 {
			list = strings.Join(allow, ", ")
		}
		if unsafe, _ := p.Config["allow_interpreters"].(bool); unsafe {
			return "exec: on, allow " + list + "; UNSAFE: allow_interpreters lets shells and interpreters run any code"
		}
		return "exec: on, allow " + list + " (no shells or interpreters)"
	}
	return `exec: off (plugin "exec" { config { enabled = true, allow = [...] } } turns it on)`
}

// agentFiles is the parsed agent input plus the mission's source text.
type agentFiles struct {
	*mission.File
	missionSrc  []byte
	missionName string
}

// loadAgentFiles parses -config, or the embedded dev defaults.
func loadAgentFiles(dev bool, path string) (*agentFiles, hcl.Diagnostics) {
	if path != "" {
		src, err := os.ReadFile(path)
		if err != nil {
			return &agentFiles{File: &mission.File{}}, hcl.Diagnostics{{
				Severity: hcl.DiagError, Summary: "Cannot read config file", Detail: err.Error(),
			}}
		}
		f, diags := mission.Parse(src, path)
		out := &agentFiles{File: f, missionSrc: src, missionName: path}
		if dev && f.Agent == nil && !diags.HasErrors() {
			ag, d := mission.ParseAgent(examples.AgentHCL, examples.AgentFile)
			diags = append(diags, d...)
			f.Agent = ag
		}
		return out, diags
	}
	f, diags := mission.Parse(examples.MissionHCL, examples.MissionFile)
	ag, d := mission.ParseAgent(examples.AgentHCL, examples.AgentFile)
	diags = append(diags, d...)
	f.Agent = ag
	return &agentFiles{File: f, missionSrc: examples.MissionHCL, missionName: examples.MissionFile}, diags
}

func devAgentConfig() *mission.AgentConfig {
	ag, _ := mission.ParseAgent(examples.AgentHCL, examples.AgentFile)
	return ag
}

var _ cli.Command = (*AgentCommand)(nil)
