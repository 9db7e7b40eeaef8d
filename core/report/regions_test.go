package report

import (
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneRegionShowsNoRegions: a bundle whose global ledger has one region
// (or none) shows nothing of regions: no summary field, no atlas group, no
// chronicle section.
func TestOneRegionShowsNoRegions(t *testing.T) {
	one := fixture()
	in := ExampleRegions()
	one.Ledger.Regions, one.Ledger.GlobalTotals = in.Ledger.Regions[:1], in.Ledger.GlobalTotals
	for name, in := range map[string]Input{"none": fixture(), "one": one} {
		if r := Regions(in); r != nil {
			t.Fatalf("%s: regions %+v", name, r)
		}
		sum := BuildSummary(in, BuildLedger(in))
		if sum.Regions != nil || sum.GlobalTotals != nil {
			t.Fatalf("%s: summary regions %+v, %+v", name, sum.Regions, sum.GlobalTotals)
		}
		for what, out := range map[string]string{"mermaid": Mermaid(in), "svg": SVG(in), "chronicle": Chronicle(in)} {
			for _, w := range []string{"region_", `class="region"`, "## Regions"} {
				if strings.Contains(out, w) {
					t.Errorf("%s: %s holds %q", name, what, w)
				}
			}
		}
	}
	if Mermaid(one) != Mermaid(fixture()) || SVG(one) != SVG(fixture()) || Chronicle(one) != Chronicle(fixture()) {
		t.Fatal("a global ledger of one region changed the atlas or the chronicle")
	}
}

// TestRegionsInBundle writes the four-region example and reads every view
// of it: summary.json lists each region's shards, leader, index, freshness
// and totals with the global totals, the bundle verifies (the global sum
// and the local region's checkpoint included), the Mermaid atlas groups the
// shards in one subgraph per region with another region's shards as boxes,
// the SVG frames each region, and the chronicle has a Regions table.
func TestRegionsInBundle(t *testing.T) {
	in := ExampleRegions()
	dir := filepath.Join(t.TempDir(), "bundle")
	if _, err := Write(dir, in); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(dir)
	if err != nil || !res.GlobalOK || res.Regions != 4 {
		t.Fatalf("verify: %v %+v", err, res)
	}
	var sum Summary
	if err := readJSON(filepath.Join(dir, FileSummary), &sum); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, shards, leader, fresh string
		index                       uint64
		completed                   int64
	}{
		{"earth", "earth,mars.north-1", "planetary-1.earth", "local", 40, 8},
		{"helios", "helios", "", "1.5s old", 77, 9},
		{"luna", "luna,luna.far-side", "", "unknown", 12, 3},
		{"mars", "mars.south-2", "", "42s old", 31, 5},
	}
	if len(sum.Regions) != len(want) {
		t.Fatalf("summary regions %+v", sum.Regions)
	}
	for i, w := range want {
		r := sum.Regions[i]
		if r.Name != w.name || strings.Join(r.Shards, ",") != w.shards || r.Leader != w.leader || r.Freshness != w.fresh ||
			r.Index != w.index || r.Completed != w.completed || r.Local != (i == 0) {
			t.Errorf("region %d: %+v, want %+v", i, r, w)
		}
	}
	if g := sum.GlobalTotals; g == nil || g.Counts["completed"].Jobs != 25 || g.Jobs != 12+17 {
		t.Fatalf("global totals %+v", sum.GlobalTotals)
	}
	if sum.Metrics.Completed != 8 {
		t.Fatalf("the local ledger's metrics changed: %+v", sum.Metrics)
	}

	mmd, err := os.ReadFile(filepath.Join(dir, FileTopologyMMD))
	if err != nil {
		t.Fatal(err)
	}
	if err := mermaidCheck(string(mmd)); err != nil {
		t.Fatalf("%v\n%s", err, mmd)
	}
	m := string(mmd)
	earth, rest, _ := strings.Cut(m, "subgraph region_helios")
	for _, w := range []string{`subgraph region_earth["region earth (local) · leader planetary-1.earth · index 40 · 8 completed"]`,
		"subgraph shard_earth[", "subgraph shard_mars_north_1["} {
		if !strings.Contains(earth, w) {
			t.Errorf("earth's subgraph lacks %q:\n%s", w, m)
		}
	}
	for _, w := range []string{`remote_helios["shard helios · region helios"]`, `region luna · index 12 · unknown · 3 completed`,
		`remote_luna_far_side["shard luna.far-side · region luna"]`, `region mars · index 31 · 42s old · 5 completed`,
		"class region_earth regionLocal", "class region_mars region", "class remote_mars_south_2 remoteShard"} {
		if !strings.Contains(rest, w) {
			t.Errorf("atlas lacks %q:\n%s", w, m)
		}
	}

	svg := SVG(in)
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("svg: %v", err)
		}
	}
	for _, w := range []string{`<g class="region" data-region="earth" data-local="true" data-index="40" data-freshness="local">`,
		`<g class="region" data-region="mars" data-local="false" data-index="31" data-freshness="42s old">`,
		`<g class="remote" data-region="luna">`, `data-shard="luna.far-side"`, `data-shard="mars.north-1"`} {
		if !strings.Contains(svg, w) {
			t.Errorf("svg lacks %q", w)
		}
	}

	ch := Chronicle(in)
	_, sec, ok := strings.Cut(ch, "## Regions\n")
	sec, _, _ = strings.Cut(sec, "## What happened")
	if !ok {
		t.Fatalf("no Regions section:\n%s", ch)
	}
	for _, w := range []string{"The mission runs as 4 regions", "This bundle is region **earth**'s",
		"| earth (local) | earth, mars.north-1 | planetary-1.earth | 40 | local | 12 | 8 |",
		"| helios | helios | - | 77 | 1.5s old | 9 | 9 | 18 | 9 |",
		"| luna | luna, luna.far-side | - | 12 | unknown | 3 | 3 | 6 | 3 |",
		"| mars | mars.south-2 | - | 31 | 42s old | 5 | 5 | 10 | 5 |",
		"| **Global** | | | | | 29 | 25 |"} {
		if !strings.Contains(sec, w) {
			t.Errorf("Regions section lacks %q:\n%s", w, sec)
		}
	}
}

// TestRegionAgeAtGeneration: a line the source gave no age (a bundle built
// from a store, which has no read time) is aged at the bundle's generation
// time from its stamp.
func TestRegionAgeAtGeneration(t *testing.T) {
	in := ExampleRegions()
	in.Ledger.Regions[3].AgeNs = nil
	r := Regions(in)
	if r[3].AgeNs == nil || r[3].Freshness != "42s old" {
		t.Fatalf("mars %+v", r[3])
	}
	lag := uint64(6)
	in.Ledger.Regions[1].IndexLag = &lag
	if r := Regions(in); r[1].Freshness != "1.5s old, 6 entries behind" {
		t.Fatalf("helios %+v", r[1])
	}
}
