package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/cli"

	api "github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/core/testport"
)

// TestEveryCommandClassified: every registered command but a group has an
// output kind in commandOutput, every entry there is registered, and the
// help of each read and stream command offers -json.
func TestEveryCommandClassified(t *testing.T) {
	ui := cli.NewMockUi()
	cmds := Commands(ui)
	for name, f := range cmds {
		c, err := f()
		if err != nil {
			t.Fatal(err)
		}
		if _, group := c.(*GroupCommand); group {
			continue
		}
		kind, ok := commandOutput[name]
		if !ok {
			t.Errorf("command %q has no output kind in commandOutput (commands.go): a command that reads state is outRead and takes -json", name)
			continue
		}
		if (kind == outRead || kind == outStream) && !strings.Contains(c.Help(), "-json") {
			t.Errorf("read command %q does not offer -json in its help", name)
		}
	}
	for name := range commandOutput {
		if _, ok := cmds[name]; !ok {
			t.Errorf("commandOutput lists %q, which is not registered", name)
		}
	}
}

// devAgent is a `planetary agent -dev` process: raft on BoltDB, the
// client role and its plugin processes, the HTTP API.
type devAgent struct {
	addr, token, dir string
}

func startDevAgent(t *testing.T) *devAgent {
	t.Helper()
	dir := t.TempDir()
	http := testport.Addr(t)
	cmd := exec.Command(planetaryBin(t), "agent", "-dev", "-data-dir", filepath.Join(dir, "data"),
		"-http-addr", http, "-bind", testport.Addr(t), "-log-level", "warn")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PLANETARY_ADDR=", "PLANETARY_TOKEN=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	a := &devAgent{addr: "http://" + http, dir: dir}
	eventually(t, 60*time.Second, "the dev agent's API", func() bool {
		select {
		case <-exited:
			t.Fatalf("the dev agent exited:\n%s", out.String())
		default:
		}
		b, err := os.ReadFile(filepath.Join(dir, "data", "management.token"))
		if err != nil || len(b) == 0 {
			return false
		}
		a.token = strings.TrimSpace(string(b))
		c, err := api.NewClient(api.ClientConfig{Address: a.addr, Token: a.token})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		ns, err := c.Nodes(ctx)
		return err == nil && len(ns) > 0
	})
	return a
}

// TestReadCommandsJSON runs every read and stream command with -json
// against a dev agent: each exits 0 and prints JSON (one value; a stream
// one value a line).
func TestReadCommandsJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	a := startDevAgent(t)
	c, err := api.NewClient(api.ClientConfig{Address: a.addr, Token: a.token})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	shards, err := c.Shards(ctx)
	if err != nil || len(shards) == 0 {
		t.Fatalf("shards %v: %v", shards, err)
	}
	nodes, err := c.Nodes(ctx)
	if err != nil || len(nodes) == 0 {
		t.Fatalf("nodes %v: %v", nodes, err)
	}
	res, err := c.SubmitJobs(ctx, []api.JobSubmit{{ID: "json-read", Shard: shards[0].Name, Kind: "sim",
		Payload: json.RawMessage(`{"duration_ms": 0}`)}})
	if err != nil || len(res) != 1 || res[0].Status != api.StatusAccepted {
		t.Fatalf("submit: %+v, %v", res, err)
	}
	api := func(args ...string) []string { return append([]string{"-address", a.addr, "-token", a.token}, args...) }
	// The offline commands read what their online siblings write.
	snap := filepath.Join(a.dir, "fabric.snap")
	if r := runCmd(t, "operator snapshot save", api(snap)...); r.code != 0 {
		t.Fatalf("snapshot save: %d %s", r.code, r.err)
	}
	bundle := filepath.Join(a.dir, "bundle")
	if r := runCmd(t, "report", api("-out", bundle)...); r.code != 0 {
		t.Fatalf("report: %d %s%s", r.code, r.out, r.err)
	}
	args := map[string][]string{
		"mission show":              api(),
		"job status":                api("json-read"),
		"job list":                  api(),
		"node list":                 api(),
		"node status":               api(nodes[0].ID),
		"operator shard list":       api(),
		"operator shard status":     api(shards[0].Name),
		"operator snapshot inspect": {snap},
		"operator raft list-peers":  api(),
		"members":                   api(),
		"acl token list":            api(),
		"ledger":                    api(),
		"ledger verify":             {bundle},
		"status":                    api(),
		"version":                   nil,
		"events":                    api(),
	}
	var names []string
	for name, kind := range commandOutput {
		if kind == outRead || kind == outStream {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			a, ok := args[name]
			if !ok {
				t.Fatalf("no arguments for read command %q in TestReadCommandsJSON", name)
			}
			r := runCmd(t, name, append([]string{"-json"}, a...)...)
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
			}
			out := strings.TrimSpace(r.out)
			if out == "" {
				t.Fatal("printed nothing")
			}
			var docs []string
			if commandOutput[name] == outStream {
				docs = strings.Split(out, "\n")
			} else {
				docs = []string{out}
			}
			for _, d := range docs {
				var v any
				dec := json.NewDecoder(strings.NewReader(d))
				if err := dec.Decode(&v); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, d)
				}
				if dec.More() {
					t.Fatalf("more than one JSON value:\n%s", d)
				}
				if v == nil {
					t.Fatalf("printed null")
				}
			}
		})
	}
}
