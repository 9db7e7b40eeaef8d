package main

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportRules enforces the package layering (docs/architecture.md): sdk
// is a leaf third parties import alone; raftfsm knows nothing of core, sdk,
// cmd or plugins; core never imports cmd or plugins; built-in agents use the
// sdk only; the CLI reaches raftfsm only through core.
func TestImportRules(t *testing.T) {
	const mod = "github.com/planetary/planetary/"
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Deps \" \"}}|{{join .Imports \" \"}}", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	under := func(p, prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
	rules := []struct {
		pkg       string
		forbidden []string
		onlySelf  bool // may import no planetary package outside pkg
		direct    bool // check direct imports only
	}{
		{pkg: "sdk", onlySelf: true},
		{pkg: "raftfsm", forbidden: []string{"core", "sdk", "cmd", "plugins"}},
		{pkg: "core", forbidden: []string{"cmd", "plugins"}},
		{pkg: "plugins", forbidden: []string{"core", "raftfsm", "sdk/host"}},
		{pkg: "cmd", forbidden: []string{"raftfsm"}, direct: true},
	}
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "|", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[0], mod) {
			continue
		}
		rel := strings.TrimPrefix(parts[0], mod)
		for _, r := range rules {
			if !under(rel, r.pkg) {
				continue
			}
			checked++
			list := parts[1]
			if r.direct {
				list = parts[2]
			}
			for _, d := range strings.Fields(list) {
				if !strings.HasPrefix(d, mod) {
					continue
				}
				dep := strings.TrimPrefix(d, mod)
				if r.onlySelf && !under(dep, r.pkg) {
					t.Errorf("%s depends on %s: %s may import no other planetary package", rel, dep, r.pkg)
				}
				for _, f := range r.forbidden {
					if under(dep, f) {
						t.Errorf("%s depends on %s, which %s must not import", rel, dep, r.pkg)
					}
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d packages checked; the go list output changed shape", checked)
	}
}

// TestAPIClientIsLeaf checks that the Go API client links no raft, no bolt
// and no server code, so the CLI's and the client role's API layer can be
// built without them: `go list -deps` of core/api/client holds none of the
// forbidden packages.
func TestAPIClientIsLeaf(t *testing.T) {
	const mod = "github.com/planetary/planetary/"
	out, err := exec.Command("go", "list", "-deps", mod+"core/api/client").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, mod+"core/api/client") {
		t.Fatalf("go list -deps does not list the package itself: %q", deps)
	}
	forbidden := []string{
		"github.com/hashicorp/raft", // and raft-boltdb
		"go.etcd.io/bbolt",
		"github.com/boltdb/bolt",
		mod + "raftfsm",
		mod + "core/server",
		mod + "core/eventlog",
		mod + "core/mission",
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") || strings.HasPrefix(d, f+"-") {
				t.Errorf("core/api/client depends on %s, which it must not link", d)
			}
		}
	}
}
