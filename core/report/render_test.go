package report

import (
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/planetary/planetary/core/api/client"
	"github.com/planetary/planetary/raftfsm/fsmtest"
	"github.com/planetary/planetary/raftfsm/state"
)

var update = flag.Bool("update", false, "rewrite golden files")

// mermaidCheck validates exactly the Mermaid constructs Mermaid() emits.
func mermaidCheck(src string) error {
	var (
		ident    = `[A-Za-z0-9_]+`
		label    = `"[^"\n]*"`
		reHeader = regexp.MustCompile(`^flowchart (LR|TB|TD|RL|BT)$`)
		reClassD = regexp.MustCompile(`^classDef (` + ident + `) [^;]+;$`)
		reSub    = regexp.MustCompile(`^subgraph (` + ident + `)\[` + label + `\]$`)
		reDir    = regexp.MustCompile(`^direction (TB|LR)$`)
		reNode   = regexp.MustCompile(`^(` + ident + `)(\[` + label + `\]|\{\{` + label + `\}\})$`)
		reEdge   = regexp.MustCompile(`^(` + ident + `) (-->|-\.->)(\|` + label + `\|)? (` + ident + `)$`)
		reClass  = regexp.MustCompile(`^class (` + ident + `(?:,` + ident + `)*) (` + ident + `)$`)
	)
	declared, classes := map[string]bool{}, map[string]bool{}
	var edges [][2]string
	var uses [][2]string
	depth, header := 0, false
	for i, raw := range strings.Split(strings.TrimRight(src, "\n"), "\n") {
		line := strings.TrimSpace(raw)
		ln := i + 1
		switch {
		case line == "" || strings.HasPrefix(line, "%%"):
			continue
		case !header:
			if !reHeader.MatchString(line) {
				return fmt.Errorf("line %d: want flowchart header, got %q", ln, line)
			}
			header = true
		case line == "end":
			if depth == 0 {
				return fmt.Errorf("line %d: end without subgraph", ln)
			}
			depth--
		case reClassD.MatchString(line):
			classes[reClassD.FindStringSubmatch(line)[1]] = true
		case reSub.MatchString(line):
			// A region's subgraph holds its shards' subgraphs; nothing nests
			// deeper.
			if depth > 1 {
				return fmt.Errorf("line %d: subgraph nested twice", ln)
			}
			id := reSub.FindStringSubmatch(line)[1]
			if declared[id] {
				return fmt.Errorf("line %d: duplicate id %s", ln, id)
			}
			declared[id] = true
			depth++
		case reDir.MatchString(line):
			if depth == 0 {
				return fmt.Errorf("line %d: direction outside subgraph", ln)
			}
		case reNode.MatchString(line):
			id := reNode.FindStringSubmatch(line)[1]
			if declared[id] {
				return fmt.Errorf("line %d: duplicate id %s", ln, id)
			}
			declared[id] = true
		case reEdge.MatchString(line):
			m := reEdge.FindStringSubmatch(line)
			edges = append(edges, [2]string{m[1], m[4]})
		case reClass.MatchString(line):
			m := reClass.FindStringSubmatch(line)
			for _, id := range strings.Split(m[1], ",") {
				uses = append(uses, [2]string{id, m[2]})
			}
		default:
			return fmt.Errorf("line %d: unknown construct %q", ln, line)
		}
	}
	if !header {
		return fmt.Errorf("no flowchart header")
	}
	if depth != 0 {
		return fmt.Errorf("%d unclosed subgraphs", depth)
	}
	for _, e := range edges {
		if !declared[e[0]] || !declared[e[1]] {
			return fmt.Errorf("edge %s -> %s names an undeclared node", e[0], e[1])
		}
	}
	for _, u := range uses {
		if !declared[u[0]] || !classes[u[1]] {
			return fmt.Errorf("class %s %s: undeclared node or class", u[0], u[1])
		}
	}
	return nil
}

func TestMermaid(t *testing.T) {
	base := fixture()
	odd := fixture()
	odd.Shards = append(odd.Shards, ShardView{Name: "a.b-c", Health: HealthAlert}, ShardView{Name: "a_b_c", DisplayName: `quote " | pipe`})
	odd.Nodes = append(odd.Nodes, NodeView{Node: client.Node{ID: "a.b-c.n-1", Shard: "a.b-c", Status: "retired"}}, NodeView{Node: client.Node{ID: "orphan.x", Shard: "ghost", Status: "unknown"}})
	odd.Ledger.Flows = append(odd.Ledger.Flows, Flow{From: "a.b-c", To: "a_b_c", Jobs: 3})
	cases := []struct {
		name string
		in   Input
		want []string
	}{
		{"fixture", base, []string{`-->|"<= 120ms"|`, `-.->|"2 jobs: queue above threshold 2"|`, "subgraph shard_mars_north_1[", "class node_earth_edge nodeDown"}},
		{"dots dashes collisions", odd, []string{"shard_a_b_c_2", "class node_a_b_c_n_1 nodeRetired", "#quot;", "#124;"}},
		{"empty", Input{}, []string{"flowchart LR"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := Mermaid(tc.in)
			if err := mermaidCheck(out); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("missing %q in\n%s", w, out)
				}
			}
		})
	}
	// The checker itself must reject what it does not know.
	for _, bad := range []string{"graph LR\n", "flowchart LR\nsubgraph x[\"a\"]\n", "flowchart LR\na --> b\n", "flowchart LR\na[\"x\"]\na --- a\n"} {
		if mermaidCheck(bad) == nil {
			t.Errorf("checker accepted %q", bad)
		}
	}
}

func TestSVG(t *testing.T) {
	for _, in := range []Input{fixture(), {}} {
		out := SVG(in)
		d := xml.NewDecoder(strings.NewReader(out))
		n := 0
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("invalid XML: %v", err)
			}
			n++
		}
		if n == 0 {
			t.Fatal("empty svg")
		}
		if SVG(in) != out {
			t.Fatal("SVG is not deterministic")
		}
	}
	out := SVG(fixture())
	for _, w := range []string{`data-shard="mars.north-1"`, `data-node="earth.edge" data-status="down"`, `data-from="earth" data-to="mars.north-1" data-jobs="2"`, "&lt;= 120ms", `data-paused="true"`} {
		if !strings.Contains(out, w) {
			t.Errorf("svg lacks %q", w)
		}
	}
}

func TestChronicleGolden(t *testing.T) {
	got := Chronicle(fixture())
	p := filepath.Join("testdata", "chronicle.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Fatalf("chronicle differs from %s; run go test -update and review the diff\n%s", p, got)
	}
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	files, err := Write(dir, fixture())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{FileSummary, FileLedger, FileEvents, FileCheckpoint, FileOwnerExecuted, FileOwnerScript,
		"earth-telemetry.json", "mars.north-1-telemetry.json", FileTopologyMMD, FileTopologyHTML, FileChronicle, FileDashboard}
	if len(files) != len(want) {
		t.Fatalf("files = %v", files)
	}
	for i, w := range want {
		if filepath.Base(files[i]) != w {
			t.Errorf("file %d = %s, want %s", i, files[i], w)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(want) {
		t.Errorf("%d entries in dir (temp files left?)", len(ents))
	}
	var sum Summary
	if err := readJSON(filepath.Join(dir, FileSummary), &sum); err != nil {
		t.Fatal(err)
	}
	m := sum.Metrics
	if m.Submitted != 12 || m.Completed != 8 || m.Failed != 1 || m.Cancelled != 1 || m.Parked != 1 || m.Spillovers != 2 || m.Reassigned != 1 || m.Pauses != 1 || m.OwnerInterventions != 2 {
		t.Fatalf("metrics = %+v", m)
	}
	dash, _ := os.ReadFile(filepath.Join(dir, FileDashboard))
	for _, bad := range []string{"http://", "https://", "src=\"//"} {
		if i := strings.Index(string(dash), bad); i >= 0 && !strings.Contains(string(dash[max(0, i-10):i+40]), "w3.org/2000/svg") {
			t.Errorf("dashboard references %q: %s", bad, dash[max(0, i-40):i+40])
		}
	}
}

// TestRenderRealFSM runs the Mermaid checker and an XML parse over
// topologies built from stores of the real FSM.
func TestRenderRealFSM(t *testing.T) {
	for _, seed := range []uint64{3, 11} {
		_, f := fsmtest.Log(seed, 600, nil)
		var in Input
		f.Read(func(s *state.Store) { in = FromStore(s) })
		if len(in.Shards) == 0 || len(in.Nodes) == 0 {
			t.Fatalf("seed %d: empty topology", seed)
		}
		if err := mermaidCheck(Mermaid(in)); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		d := xml.NewDecoder(strings.NewReader(SVG(in)))
		for {
			if _, err := d.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("seed %d: svg: %v", seed, err)
			}
		}
	}
}

func TestVerifyText(t *testing.T) {
	dir := t.TempDir()
	in := fixture()
	in.Events = in.Events[:len(in.Events)-2]
	if _, err := Write(dir, in); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(dir)
	if !errors.Is(err, ErrHead) {
		t.Fatalf("err = %v", err)
	}
	txt := res.Text()
	for _, w := range []string{"chain:    BROKEN", "first bad event: seq 51", "events 51..52 are missing"} {
		if !strings.Contains(txt, w) {
			t.Errorf("text lacks %q:\n%s", w, txt)
		}
	}
}
