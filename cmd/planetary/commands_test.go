package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/cli"

	api "github.com/planetary/planetary/core/api/client"
)

// TestCommandShape checks every API command's help, synopsis and flag
// parsing without a server.
func TestCommandShape(t *testing.T) {
	for key, f := range apiCommands(Meta{Ui: cli.NewMockUi()}) {
		t.Run(key, func(t *testing.T) {
			c, err := f()
			if err != nil {
				t.Fatal(err)
			}
			first := strings.SplitN(c.Help(), "\n", 2)[0]
			if !strings.HasPrefix(first, "Usage: planetary "+key) {
				t.Errorf("help starts %q", first)
			}
			if s := c.Synopsis(); s == "" || len(s) >= 50 {
				t.Errorf("synopsis %q: want 1..49 chars", s)
			}
			if got := c.Run([]string{"-no-such-flag"}); got != cli.RunResultHelp {
				t.Errorf("bad flag: got %d, want RunResultHelp", got)
			}
			if _, ok := c.(cli.CommandAutocomplete); !ok {
				t.Errorf("no autocomplete")
			}
		})
	}
}

func TestParseAll(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		wantPos []string
		wantX   string
		wantB   bool
	}{
		{"flags first", []string{"-x", "1", "a"}, []string{"a"}, "1", false},
		{"flags after", []string{"a", "-x", "1", "-b"}, []string{"a"}, "1", true},
		{"interleaved", []string{"a", "-b", "c", "-x=2"}, []string{"a", "c"}, "2", true},
		{"double dash", []string{"-b", "--", "-x", "1"}, []string{"-x", "1"}, "", true},
		{"none", nil, nil, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &Meta{Ui: cli.NewMockUi()}
			fs := m.FlagSet("t", false)
			x := fs.String("x", "", "")
			b := fs.Bool("b", false, "")
			pos, ok := m.parseAll(fs, tc.args)
			if !ok || fmt.Sprint(pos) != fmt.Sprint(tc.wantPos) || *x != tc.wantX || *b != tc.wantB {
				t.Fatalf("got %v %v x=%q b=%v", pos, ok, *x, *b)
			}
		})
	}
}

// step is one command run of a scenario and what it must print.
type step struct {
	name    string
	key     string
	args    []string
	token   string // "" means the management token; "-" means none
	code    int
	out     []string // substrings of stdout
	errOut  []string // substrings of stderr
	oneLine bool     // stderr is exactly one line
	noAPI   bool     // an offline command: no -address/-token
}

func TestCommandsAgainstServer(t *testing.T) {
	a := startAgent(t)
	dir := t.TempDir()
	root := a.root
	missionFile := writeFile(t, dir, "mission.hcl", fmt.Sprintf(`
mission "cli-test" {
  seed = 7
}

shard "earth" {
  display_name      = "Earth"
  max_queue         = 100
  spillover_targets = ["mars"]
}

shard "mars" {}

node "earth-1" {
  shard        = "earth"
  plugin       = "sim"
  capabilities = ["general"]
  capacity     = 2
  price {
    base = 0.5
  }
}

checkpoint {
  interval = "1h"
  path     = %q
}

reporting {
  directory = %q
}
`, filepath.Join(root, "cp.snap"), filepath.Join(root, "reports")))
	badMission := writeFile(t, dir, "bad-mission.hcl", `
mission "t" {
  seed =
}
`)
	jobs := writeFile(t, dir, "jobs.hcl", `
job "j1" {
  shard        = "earth"
  capabilities = ["general"]
  value        = 10
  kind         = "sim"
}

job "j2" {
  shard = "earth"
  value = 2.5
  kind  = "sim"
}

job "j3" {
  shard = "mars"
  value = 1
  kind  = "sim"
}
`)
	solo := writeFile(t, dir, "solo.hcl", `
job "solo" {
  shard = "earth"
  value = 4
  kind  = "sim"
}
`)
	soloOther := writeFile(t, dir, "solo-other.hcl", `
job "solo" {
  shard = "earth"
  value = 5
  kind  = "sim"
}
`)
	badJobs := writeFile(t, dir, "bad-jobs.hcl", `
job "x" {
  value = 1
  kind  = "sim"
}
`)
	nodeFile := writeFile(t, dir, "node.hcl", `
node "mars-1" {
  shard        = "mars"
  plugin       = "sim"
  capabilities = ["general"]
  capacity     = 1
  price {
    base = 1.5
  }
}
`)
	badNode := writeFile(t, dir, "bad-node.hcl", `
node "mars-2" {
  shard    = "mars"
  capacity = -1
}
`)
	shardFile := writeFile(t, dir, "shard.hcl", `
shard "pluto" {
  latency_budget_ms = 900
  spillover_targets = ["mars"]
}
`)
	missing := filepath.Join(dir, "missing.hcl")
	snap := filepath.Join(dir, "fabric.snap")
	corrupt := writeFile(t, dir, "corrupt.snap", "not an archive")

	steps := []step{
		{name: "apply bad HCL", key: "mission apply", args: []string{badMission}, code: 1,
			errOut: []string{badMission + ":2,"}},
		{name: "apply missing file", key: "mission apply", args: []string{missing}, code: 1,
			errOut: []string{"could not be read"}, oneLine: true},
		{name: "apply wrong token", key: "mission apply", args: []string{missionFile}, token: "wrong", code: 1,
			errOut: []string{"Error applying mission: ACL token not found"}, oneLine: true},
		{name: "apply no token", key: "mission apply", args: []string{missionFile}, token: "-", code: 1,
			errOut: []string{"ACL token required"}, oneLine: true},
		{name: "apply", key: "mission apply", args: []string{"-reason", "first", missionFile},
			out: []string{`Mission "cli-test" applied at index`}},
		{name: "apply again", key: "mission apply", args: []string{missionFile}, out: []string{"unchanged"}},
		{name: "apply no args", key: "mission apply", code: cli.RunResultHelp},
		{name: "show", key: "mission show", out: []string{"cli-test", "Digest", "Shards (2): earth, mars", "Nodes (1): earth-1"}},

		{name: "submit one quiet", key: "job submit", args: []string{solo, "-quiet"}, out: []string{"solo\n"}},
		{name: "submit again", key: "job submit", args: []string{solo},
			out: []string{`Job "solo" already submitted`}},
		{name: "submit id of another job", key: "job submit", args: []string{soloOther}, code: 1, oneLine: true,
			errOut: []string{`Error: job "solo" rejected: duplicate job id`}},
		{name: "submit batch", key: "job submit", args: []string{jobs},
			out: []string{`Job "j1" submitted`, `Job "j3" submitted`, "Submitted 3 of 3 jobs"}},
		{name: "submit bad HCL", key: "job submit", args: []string{badJobs}, code: 1, errOut: []string{badJobs + ":1,"}},
		{name: "submit missing file", key: "job submit", args: []string{missing}, code: 1, errOut: []string{"could not be read"}},

		{name: "status", key: "job status", args: []string{"j1"}, out: []string{"ID ", "j1", "State", "Value", "10"}},
		{name: "status json", key: "job status", args: []string{"j1", "-json"}, out: []string{`"id": "j1"`}},
		{name: "status unknown", key: "job status", args: []string{"nope"}, code: 1,
			errOut: []string{`Error reading job: job "nope" not found`}, oneLine: true},
		{name: "list", key: "job list", out: []string{"Seq", "State", "solo", "j1", "j2", "j3"}},
		{name: "list page", key: "job list", args: []string{"-limit", "1"}, out: []string{"solo", "More jobs follow: -after"}},
		{name: "list shard", key: "job list", args: []string{"-shard", "mars"}, out: []string{"j3"}},
		{name: "list bad state", key: "job list", args: []string{"-state", "bogus"}, code: 1, oneLine: true,
			errOut: []string{"Error listing jobs:"}},

		{name: "node list", key: "node list", out: []string{"earth-1", "earth", "sim", "0.5"}},
		{name: "node status", key: "node status", args: []string{"earth-1"}, out: []string{"earth-1", "Price", "Base", "0.5"}},
		{name: "node status unknown", key: "node status", args: []string{"nope"}, code: 1, oneLine: true,
			errOut: []string{`node "nope" not found`}},
		{name: "node register", key: "node register", args: []string{"-config", nodeFile},
			out: []string{`Node "mars-1" registered on shard "mars"`}},
		{name: "node register bad", key: "node register", args: []string{"-config", badNode}, code: 1,
			errOut: []string{badNode + ":3,"}},
		{name: "node register missing", key: "node register", args: []string{"-config", missing}, code: 1,
			errOut: []string{"could not be read"}, oneLine: true},
		{name: "node update", key: "node update", args: []string{"mars-1", "-capacity", "3", "-price-base", "0.25"},
			out: []string{`Node "mars-1" updated`}},
		{name: "node updated", key: "node status", args: []string{"mars-1"}, out: []string{"0.25", "/3"}},
		{name: "node update nothing", key: "node update", args: []string{"mars-1"}, code: 1, errOut: []string{"nothing to update"}},
		{name: "node retire", key: "node retire", args: []string{"mars-1", "-requeue"}, out: []string{`Node "mars-1" retired`}},

		{name: "shard register", key: "operator shard register", args: []string{"venus", "-latency-budget-ms", "300",
			"-spillover-targets", "earth,mars", "-region", "inner"}, out: []string{`Shard "venus" registered`}},
		{name: "shard register file", key: "operator shard register", args: []string{"-config", shardFile},
			out: []string{`Shard "pluto" registered`}},
		{name: "shard register duplicate", key: "operator shard register", args: []string{"venus"}, code: 1, oneLine: true,
			errOut: []string{"Error registering shard:"}},
		{name: "shard update", key: "operator shard update", args: []string{"venus", "-max-queue", "10"},
			out: []string{`Shard "venus" updated`}},
		{name: "shard update nothing", key: "operator shard update", args: []string{"venus"}, code: 1},
		{name: "shard list", key: "operator shard list", out: []string{"Health", "venus", "pluto", "earth", "ok"}},
		{name: "pause shard", key: "operator pause", args: []string{"-shard", "earth", "-reason", "storm"},
			out: []string{`Shard "earth" paused`}},
		{name: "shard list paused", key: "operator shard list", out: []string{"paused"}},
		{name: "resume shard", key: "operator resume", args: []string{"-shard", "earth"}, out: []string{`Shard "earth" resumed`}},
		{name: "pause fabric", key: "operator pause", out: []string{"Fabric paused"}},
		{name: "resume fabric", key: "operator resume", out: []string{"Fabric resumed"}},

		{name: "reroute", key: "job reroute", args: []string{"j2", "-shard", "mars"}, out: []string{`Job "j2" rerouted to "mars"`}},
		{name: "reroute no target", key: "job reroute", args: []string{"j2"}, code: 1, errOut: []string{"-shard"}},
		{name: "reroute tail", key: "job reroute", args: []string{"-from", "earth", "-tail", "1", "-in-flight", "-shard", "venus"},
			out: []string{`Rerouted the tail 1`}},
		{name: "cancel", key: "job cancel", args: []string{"j3"}, out: []string{`Job "j3" cancelled`}},
		{name: "cancel unknown", key: "job cancel", args: []string{"nope"}, code: 1, oneLine: true, errOut: []string{"not found"}},
		{name: "cancel tail", key: "job cancel", args: []string{"-shard", "venus", "-tail", "1", "-in-flight"},
			out: []string{"Cancelled the tail 1"}},
		{name: "cancel nothing", key: "job cancel", code: 1, errOut: []string{"give a job id"}},
		{name: "deregister no mode", key: "operator shard deregister", args: []string{"pluto"}, code: 1,
			errOut: []string{"exactly one of"}},
		{name: "deregister", key: "operator shard deregister", args: []string{"pluto", "-spill-to", "mars"},
			out: []string{`Shard "pluto" deregistered`}},

		{name: "checkpoint configure", key: "operator checkpoint configure",
			args: []string{"-interval", "30s", "-path", filepath.Join(root, "cp2.snap")}, out: []string{"Checkpoints configured"}},
		{name: "checkpoint configure outside roots", key: "operator checkpoint configure",
			args: []string{"-path", filepath.Join(dir, "cp.snap")}, code: 1, oneLine: true},
		{name: "checkpoint save", key: "operator checkpoint save", out: []string{"Checkpoint saved at index", "cp2.snap"}},
		{name: "reporting configure", key: "operator reporting configure",
			args: []string{"-dir", filepath.Join(root, "r2"), "-label", "nightly"}, out: []string{"Reporting configured"}},
		{name: "snapshot save", key: "operator snapshot save", args: []string{snap}, out: []string{"Snapshot saved to " + snap}},
		{name: "snapshot inspect", key: "operator snapshot inspect", args: []string{snap}, noAPI: true,
			out: []string{"Index", "State SHA-256"}},
		{name: "snapshot inspect corrupt", key: "operator snapshot inspect", args: []string{corrupt}, noAPI: true, code: 1,
			oneLine: true},
		{name: "snapshot inspect missing", key: "operator snapshot inspect", args: []string{missing}, noAPI: true, code: 1,
			oneLine: true},
		{name: "snapshot restore corrupt", key: "operator snapshot restore", args: []string{corrupt}, code: 1, oneLine: true},
		{name: "snapshot restore", key: "operator snapshot restore", args: []string{snap}, out: []string{"Restored snapshot"}},
		{name: "peers", key: "operator raft list-peers", out: []string{"s1", "leader", "Voter"}},

		{name: "bootstrap again", key: "acl bootstrap", token: "-", code: 1, oneLine: true, errOut: []string{"Error bootstrapping ACL:"}},
		{name: "token create", key: "acl token create", args: []string{"-type", "read", "-name", "ro"},
			out: []string{"Secret ID", "read"}},
		{name: "token create bad type", key: "acl token create", args: []string{"-type", "root"}, code: 1},

		{name: "ledger", key: "ledger", out: []string{"Jobs (value in credits)", "global", "shard earth", "Flows",
			"earth  ", "Invariants", "OK", "jobs-conserved", "Chain head: seq"}},
		{name: "ledger json", key: "ledger", args: []string{"-json"}, out: []string{`"invariants"`}},
		{name: "events", key: "events", out: []string{"mission.applied", "job.submitted job=solo", "job.cancelled"}},
		{name: "events type", key: "events", args: []string{"-type", "job.rerouted"}, out: []string{"job.rerouted job=j2"}},
		{name: "events follow", key: "events", args: []string{"-follow", "-type", "job.submitted", "-max", "2"},
			out: []string{"job=solo", "job=j1"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			args := s.args
			if !s.noAPI {
				tok := a.secret
				switch s.token {
				case "":
				case "-":
					tok = ""
				default:
					tok = s.token
				}
				args = a.apiArgs(tok, args...)
			}
			r := runCmd(t, s.key, args...)
			t.Logf("planetary %s %s\n%s%s", s.key, strings.Join(s.args, " "), r.out, r.err)
			if r.code != s.code {
				t.Fatalf("%s %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", s.key, s.args, r.code, s.code, r.out, r.err)
			}
			for _, w := range s.out {
				if !strings.Contains(r.out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.out)
				}
			}
			for _, w := range s.errOut {
				if !strings.Contains(r.err, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.err)
				}
			}
			if s.oneLine && strings.Count(strings.TrimRight(r.err, "\n"), "\n") != 0 {
				t.Errorf("stderr is not one line:\n%s", r.err)
			}
			if s.code == 0 && r.err != "" {
				t.Errorf("unexpected stderr:\n%s", r.err)
			}
		})
	}
	if _, err := os.Stat(snap); err != nil {
		t.Fatalf("snapshot file: %v", err)
	}
}

// TestEventsFollowWaits starts -follow before the event it waits for exists.
func TestEventsFollowWaits(t *testing.T) {
	a := startAgent(t)
	ctx := context.Background()
	c, err := api.NewClient(api.ClientConfig{Address: a.url, Token: a.secret})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := c.Events(ctx, 0, 0, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan result, 1)
	go func() {
		done <- runCmd(t, "events", a.apiArgs(a.secret, "-follow", "-type", "acl.token_created",
			"-index", fmt.Sprint(evs.Head), "-max", "1")...)
	}()
	if _, err := c.CreateToken(ctx, "late", api.TokenTypeRead); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.code != 0 || !strings.Contains(r.out, "acl.token_created") || strings.Count(r.out, "\n") != 1 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("events -follow did not return")
	}
}
