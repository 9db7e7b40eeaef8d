package report

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// SVG layout constants, in user units.
const (
	svgMargin   = 24
	svgColW     = 250
	svgColGap   = 90
	svgHeaderH  = 48
	svgRouterH  = 30
	svgNodeH    = 74
	svgNodeGap  = 10
	svgTitleH   = 36
	svgFlowStep = 24
	// svgRegionH is the band under the shards that holds a region's title.
	svgRegionH = 30
	// svgNodeW is a node box's width; svgNodeChars the characters of a
	// 12-unit label that fit in it with its padding (glyphs average at most
	// 6.6 units: (202-16)/6.6).
	svgNodeW     = svgColW - 48
	svgNodeChars = 28
)

var healthFill = map[string][2]string{ // fill, stroke
	"shardOK":       {"#0d1b4c", "#64a9ff"},
	"shardAlert":    {"#3a2308", "#f6b93b"},
	"shardDegraded": {"#2a2a10", "#e8e36a"},
	"shardPaused":   {"#2f143a", "#ff6bcb"},
	"shardDown":     {"#3d0d0d", "#ff6b6b"},
	"nodeUp":        {"#053b2a", "#1dd1a1"},
	"nodeDown":      {"#3d0d0d", "#ff6b6b"},
	"nodeRetired":   {"#2b2b2b", "#999999"},
	"nodeUnknown":   {"#2b2b2b", "#f6b93b"},
}

// clip shortens s to n runes with an ellipsis so labels stay in their box.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// SVG renders the topology deterministically: shards as columns, each with
// its router and nodes coloured by health, and spillover arrows between
// routers labelled with the jobs that flowed. With more than one region in
// the global ledger (Regions), each region's shards stand side by side in
// a frame titled with its leader, checkpoint index and freshness
// (g.region[data-region]), and a region holding none of the bundle's
// shards is a column of its own listing its shards (g.remote). The result
// is a standalone <svg> element with stable ids and data attributes.
func SVG(in Input) string {
	t := buildTopo(in)
	groups, remotes := svgRegions(&t, Regions(in))
	ncols := len(t.shards) + len(remotes)
	if ncols == 0 {
		ncols = 1
	}
	maxNodes := 1
	for _, s := range t.shards {
		if len(s.nodes) > maxNodes {
			maxNodes = len(s.nodes)
		}
	}
	band := svgFlowStep * (len(t.flows) + 1)
	top := svgMargin + svgTitleH + band
	boxH := svgHeaderH + svgRouterH + 24 + maxNodes*(svgNodeH+svgNodeGap)
	width := 2*svgMargin + ncols*svgColW + (ncols-1)*svgColGap
	regionH := 0
	if len(groups) > 0 {
		regionH = svgRegionH
	}
	height := top + boxH + regionH + svgMargin
	cur := Currency(in)
	colX := func(i int) int { return svgMargin + i*(svgColW+svgColGap) }
	routerY := top + svgHeaderH
	col := map[string]int{}
	for i, s := range t.shards {
		col[s.Name] = i
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" id="topology" viewBox="0 0 %d %d" width="%d" height="%d" font-family="system-ui, sans-serif" font-size="12">`+"\n", width, height, width, height)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#f6b93b"/></marker></defs>` + "\n")
	fmt.Fprintf(&b, `<rect x="0" y="0" width="%d" height="%d" fill="#050b1e"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#f5f7ff" font-size="16" font-weight="bold">%s</text>`+"\n", svgMargin, svgMargin+16, esc("Mission topology: "+in.Mission.Name))

	// Regions first, behind the shards: a frame around the columns of
	// each region's shards, its title under them.
	for _, g := range groups {
		r := g.region
		x0, x1 := colX(g.first)-svgColGap/4, colX(g.last)+svgColW+svgColGap/4
		stroke, dash := "#8e9cc8", ` stroke-dasharray="3 3"`
		if r.Local {
			stroke, dash = "#1dd1a1", ""
		}
		fmt.Fprintf(&b, `<g class="region" data-region="%s" data-local="%t" data-index="%d" data-freshness="%s">`,
			esc(r.Name), r.Local, r.Index, esc(r.Freshness))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="14" fill="none" stroke="%s" stroke-width="1.5"%s/>`,
			x0, top-8, x1-x0, boxH+regionH+8, stroke, dash)
		label := regionLabel(r)
		if g.remote {
			// The column's box names the region and its totals.
			label = fmt.Sprintf("index %d · %s", r.Index, r.Freshness)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text></g>`+"\n", x0+12, top+boxH+regionH-10, stroke,
			esc(clip(label, (x1-x0-24)/7)))
	}
	for i, s := range t.shards {
		x := colX(i)
		cls := shardClass(s.ShardView)
		c := healthFill[cls]
		fmt.Fprintf(&b, `<g class="shard %s" data-shard="%s" data-health="%s" data-paused="%t"><title>%s</title>`+"\n", cls, esc(s.Name), esc(s.Health), s.Paused, esc(displayName(s.ShardView)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="10" fill="%s" stroke="%s" stroke-width="2"/>`+"\n", x, top, svgColW, boxH, c[0], c[1])
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#f5f7ff" font-weight="bold" font-size="14">%s</text>`+"\n", x+12, top+20, esc(clip(displayName(s.ShardView), 28)))
		status := "open"
		if s.Paused {
			status = "paused"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#c8d3f5">%s</text>`+"\n", x+12, top+38, esc(fmt.Sprintf("queue %d · %s · %s", s.QueueDepth, s.Health, status)))
		rx := x + svgColW/2 - 80
		fmt.Fprintf(&b, `<g class="router" data-router="%s"><rect x="%d" y="%d" width="160" height="%d" rx="15" fill="#0b1733" stroke="#64a9ff" stroke-dasharray="4 2"/>`, esc(s.Name), rx, routerY, svgRouterH)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#f5f7ff" text-anchor="middle">%s</text></g>`+"\n", x+svgColW/2, routerY+19, esc(clip("router "+s.Name, 22)))
		spine := x + 20
		for k, n := range s.nodes {
			ny := routerY + svgRouterH + 24 + k*(svgNodeH+svgNodeGap)
			nc := nodeClass(n.Status)
			f := healthFill[nc]
			fmt.Fprintf(&b, `<path d="M%d,%d V%d H%d" fill="none" stroke="#64a9ff" stroke-width="1.5"/>`+"\n", spine, routerY+svgRouterH, ny+svgNodeH/2, spine+16)
			fmt.Fprintf(&b, `<g class="node %s" data-node="%s" data-status="%s"><title>%s</title>`, nc, esc(n.ID), esc(n.Status), esc(n.ID))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s" stroke="%s" stroke-width="2"/>`, spine+16, ny, svgNodeW, svgNodeH, f[0], f[1])
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#f5f7ff" font-weight="bold">%s</text>`, spine+24, ny+17, esc(clip(n.ID, svgNodeChars-2)))
			for l, line := range []string{
				fmt.Sprintf("%s · %d/%d active · %d done", n.Status, n.Active, n.Capacity, n.Completed),
				fmt.Sprintf("price %s %s/%s", fmtCredits(n.Price.BaseMicro), cur, unitOf(n.Price)),
				fmt.Sprintf("earned %s %s", fmtCredits(n.EarnedMu), cur),
			} {
				fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#c8d3f5">%s</text>`, spine+24, ny+33+16*l, esc(clip(line, svgNodeChars)))
			}
			b.WriteString("</g>\n")
		}
		if s.LatencyBudgetMs > 0 && len(s.nodes) > 0 {
			fmt.Fprintf(&b, `<text class="budget" x="%d" y="%d" fill="#64a9ff" font-size="11">%s</text>`+"\n", spine+4, routerY+svgRouterH+16, esc(fmt.Sprintf("<= %dms", s.LatencyBudgetMs)))
		}
		b.WriteString("</g>\n")
	}
	// Another region's shards, which the bundle does not hold: one column
	// per region, a box per shard.
	for k, r := range remotes {
		x := colX(len(t.shards) + k)
		fmt.Fprintf(&b, `<g class="remote" data-region="%s"><rect x="%d" y="%d" width="%d" height="%d" rx="10" fill="#0b1733" stroke="#8e9cc8" stroke-dasharray="3 3"/>`+"\n",
			esc(r.Name), x, top, svgColW, boxH)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#f5f7ff" font-weight="bold" font-size="14">%s</text>`+"\n", x+12, top+20, esc(clip("region "+r.Name, 28)))
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#c8d3f5">%s</text>`+"\n", x+12, top+38,
			esc(clip(fmt.Sprintf("%d completed · paid %s %s", r.Completed, fmtCredits(r.PaidMu), cur), 36)))
		for l, name := range r.Shards {
			if l >= maxNodes+2 {
				break
			}
			fmt.Fprintf(&b, `<text class="remote-shard" data-shard="%s" x="%d" y="%d" fill="#c8d3f5">%s</text>`+"\n",
				esc(name), x+12, routerY+19+l*20, esc(clip("shard "+name, 36)))
		}
		b.WriteString("</g>\n")
	}
	for k, f := range t.flows {
		i, j := col[f.From], col[f.To]
		x1, x2 := colX(i)+svgColW/2+40, colX(j)+svgColW/2-40
		if i > j {
			x1, x2 = colX(i)+svgColW/2-40, colX(j)+svgColW/2+40
		}
		ly := top - svgFlowStep*(k+1)
		dash := "6 4"
		stroke := "#f6b93b"
		if f.Jobs == 0 {
			stroke = "#6b7280"
		}
		fmt.Fprintf(&b, `<g class="flow" data-from="%s" data-to="%s" data-jobs="%d">`, esc(f.From), esc(f.To), f.Jobs)
		fmt.Fprintf(&b, `<path d="M%d,%d C%d,%d %d,%d %d,%d" fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" marker-end="url(#arrow)"/>`, x1, top, x1, ly, x2, ly, x2, top, stroke, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#f6b93b" text-anchor="middle">%s</text></g>`+"\n", (x1+x2)/2, ly+4, esc(fmt.Sprintf("%s → %s: %s", f.From, f.To, flowLabel(f.Jobs, f.Rules))))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// svgRegion is one region's frame in the SVG: the columns its shards take,
// first to last.
type svgRegion struct {
	region      RegionView
	first, last int
	remote      bool // a column of its own: the bundle holds none of its shards
}

// svgRegions orders t's shards by region (each region's shards side by
// side, in the regions' order, shards of no region last) and returns each
// region's frame and the regions shown as a column of their own: those
// that hold none of the bundle's shards. Without regions it changes
// nothing.
func svgRegions(t *topo, regions []RegionView) ([]svgRegion, []RegionView) {
	if len(regions) == 0 {
		return nil, nil
	}
	of := regionOf(regions)
	var shards []topoShard
	var groups []svgRegion
	var remotes []RegionView
	for _, r := range regions {
		first := len(shards)
		for _, s := range t.shards {
			if of[s.Name] == r.Name {
				shards = append(shards, s)
			}
		}
		if len(shards) > first {
			groups = append(groups, svgRegion{region: r, first: first, last: len(shards) - 1})
		}
	}
	for _, s := range t.shards {
		if of[s.Name] == "" {
			shards = append(shards, s)
		}
	}
	for _, r := range regions {
		held := false
		for _, g := range groups {
			held = held || g.region.Name == r.Name
		}
		if !held {
			col := len(shards) + len(remotes)
			groups = append(groups, svgRegion{region: r, first: col, last: col, remote: true})
			remotes = append(remotes, r)
		}
	}
	t.shards = shards
	return groups, remotes
}

func unitOf(p Price) string {
	if p.Unit != "" {
		return p.Unit
	}
	return "job"
}

// fmtCredits prints micro-credits as a decimal number of credits.
func fmtCredits(mu int64) string {
	neg := mu < 0
	if neg {
		mu = -mu
	}
	s := fmt.Sprintf("%d.%06d", mu/1_000_000, mu%1_000_000)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if neg {
		s = "-" + s
	}
	return s
}

func topologyHTML(in Input, svg string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n", esc("Topology · "+in.Mission.Name))
	b.WriteString("<style>body{margin:0;background:#050b1e;color:#f5f7ff;font-family:system-ui,sans-serif}main{padding:16px;overflow:auto}</style>\n")
	b.WriteString("</head><body><main>\n")
	b.WriteString(svg)
	b.WriteString("</main></body></html>\n")
	return b.String()
}
