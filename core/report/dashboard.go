package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/planetary/planetary/core/console"
	"github.com/planetary/planetary/raftfsm/state"
)

// DashboardEvents bounds the events inlined into dashboard.html; the full
// log stays in events.ndjson (drop the bundle folder on the page to load it).
const DashboardEvents = 500

// dashboardData is the JSON model inlined into dashboard.html, in the shape
// the shared console renderer reads.
type dashboardData struct {
	Mission     string         `json:"mission"`
	GeneratedAt string         `json:"generated_at"`
	Summary     Summary        `json:"summary"`
	Shards      []ShardSummary `json:"shards"`
	Nodes       []NodeSummary  `json:"nodes"`
	Ledger      LedgerDoc      `json:"ledger"`
	Events      []state.Event  `json:"events"`
	Series      []Sample       `json:"series"`
	Currency    string         `json:"currency"`
}

const dashboardBoot = `
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("bundle-data").textContent);
  var svgHost = document.getElementById("bundle-svg");
  function show(d, svg) {
    Planetary.renderAll({ mission: d.mission, shards: d.shards, nodes: d.nodes, ledger: d.ledger,
      events: d.events, series: d.series, svg: svg, currency: d.currency });
  }
  // figures refreshes the summary figures from a dropped bundle's summary.json.
  function figures(sum) {
    var m = sum.metrics || {}, r = sum.rates || {}, cur = sum.currency || "credits";
    var set = function (k, v) {
      var e = document.querySelector('#summary-figures [data-figure="' + k + '"] .value');
      if (e) e.textContent = v;
    };
    var n = function (v) { return (v || 0).toLocaleString("en-US"); };
    set("jobs", n(m.submitted));
    set("completion", (Math.round((r.completion_rate || 0) * 10000) / 100) + "%");
    set("failed", n(m.failed));
    set("spills", n(m.spillovers));
    set("cost", (Math.round((m.paid || 0) * 1e6) / 1e6) + " " + cur);
  }
  show(data, svgHost.innerHTML);
  svgHost.innerHTML = "";
  function readAll(files) {
    var byName = {};
    Array.prototype.forEach.call(files, function (f) { byName[f.name] = f; });
    function text(name) {
      return byName[name] ? byName[name].text() : Promise.resolve(null);
    }
    var tele = Object.keys(byName).filter(function (n) { return /-telemetry\.json$/.test(n); });
    return Promise.all([text("summary.json"), text("ledger.json"), text("events.ndjson"), text("mission-topology.html")]
      .concat(tele.map(text))).then(function (t) {
      if (!t[0] || !t[1]) throw new Error("drop a bundle folder with summary.json and ledger.json");
      var sum = JSON.parse(t[0]), led = JSON.parse(t[1]);
      var evs = (t[2] || "").split("\n").filter(Boolean).slice(-500).map(JSON.parse);
      var series = [], at = {};
      t.slice(4).forEach(function (s) {
        var tt = JSON.parse(s);
        (tt.series || []).forEach(function (p) {
          if (!at[p.time_ms]) { at[p.time_ms] = { time_ms: p.time_ms, per_shard: {} }; series.push(at[p.time_ms]); }
          at[p.time_ms].per_shard[tt.shard] = { queue_depth: p.queue_depth, completed: p.completed };
        });
      });
      series.sort(function (a, b) { return a.time_ms - b.time_ms; });
      var svg = "";
      if (t[3]) {
        var doc = new DOMParser().parseFromString(t[3], "text/html");
        var s = doc.querySelector("svg");
        if (s) svg = s.outerHTML;
      }
      var name = (sum.mission && sum.mission.name) || "";
      show({ mission: name, shards: sum.shards, nodes: sum.nodes, ledger: led, events: evs, series: series, currency: sum.currency }, svg);
      figures(sum);
      var st = document.getElementById("bundle-status");
      st.textContent = "loaded " + Object.keys(byName).length + " files";
      st.setAttribute("data-loaded", "true");
    }).catch(function (e) { document.getElementById("bundle-status").textContent = String(e.message || e); });
  }
  var dz = document.getElementById("dropzone");
  dz.addEventListener("dragover", function (e) { e.preventDefault(); dz.classList.add("over"); });
  dz.addEventListener("dragleave", function () { dz.classList.remove("over"); });
  dz.addEventListener("drop", function (e) {
    e.preventDefault(); dz.classList.remove("over");
    var items = e.dataTransfer.items, files = [], pending = [];
    function walk(entry) {
      if (entry.isFile) pending.push(new Promise(function (ok) { entry.file(function (f) { files.push(f); ok(); }, ok); }));
      else if (entry.isDirectory) pending.push(new Promise(function (ok) {
        entry.createReader().readEntries(function (es) { es.forEach(walk); ok(); }, ok);
      }));
    }
    if (items && items.length && items[0].webkitGetAsEntry) {
      Array.prototype.forEach.call(items, function (it) { var en = it.webkitGetAsEntry(); if (en) walk(en); });
      (function settle(n) { Promise.all(pending).then(function () { if (pending.length > n) settle(pending.length); else readAll(files); }); })(0);
    } else readAll(e.dataTransfer.files);
  });
  ["bundle-input", "bundle-files"].forEach(function (id) {
    document.getElementById(id).addEventListener("change", function (e) { readAll(e.target.files); });
  });
})();
`

// writeDashboard writes dashboard.html: one self-contained file holding the
// data as JSON, the shared console CSS and rendering script, and the SVG.
// A Content-Security-Policy without any network source keeps it offline.
func writeDashboard(w io.Writer, in Input, sum Summary, led LedgerDoc, svg string) error {
	render, err := console.Asset(console.AssetRender)
	if err != nil {
		return err
	}
	css, err := console.Asset(console.AssetStyle)
	if err != nil {
		return err
	}
	panels, err := console.Asset(console.AssetPanels)
	if err != nil {
		return err
	}
	evs := in.Events
	if len(evs) > DashboardEvents {
		evs = evs[len(evs)-DashboardEvents:]
	}
	led.Marks = nil
	d := dashboardData{
		Mission: in.Mission.Name, GeneratedAt: in.GeneratedAt.UTC().Format("2006-01-02 15:04:05 UTC"),
		Summary: sum, Shards: sum.Shards, Nodes: sum.Nodes, Ledger: led, Events: evs, Series: in.Series,
		Currency: sum.Currency,
	}
	if d.Events == nil {
		d.Events = []state.Event{}
	}
	if d.Series == nil {
		d.Series = []Sample{}
	}
	data, err := json.Marshal(d) // escapes <, > and & so the JSON cannot close the script
	if err != nil {
		return fmt.Errorf("report: dashboard data: %w", err)
	}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">` + "\n")
	b.WriteString("<link rel=\"icon\" href=\"data:,\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n<style>\n%s</style>\n</head>\n", esc("Dashboard · "+in.Mission.Name), css)
	b.WriteString(`<body data-mode="bundle">` + "\n")
	fmt.Fprintf(&b, `<header><h1>planetary · <span id="mission-name">%s</span></h1><span class="meta">report generated %s</span>`,
		esc(in.Mission.Name), esc(d.GeneratedAt))
	b.WriteString(`<label id="dropzone">Drop a bundle folder here, or choose a folder <input id="bundle-input" type="file" multiple webkitdirectory> or its files <input id="bundle-files" type="file" multiple accept=".json,.ndjson,.html"></label> <span id="bundle-status" class="dim"></span></header>` + "\n<main>\n")
	b.WriteString(summaryFigures(sum, led.Totals.PaidMu))
	b.Write(panels)
	b.WriteString("</main>\n<div id=\"bundle-svg\" hidden>\n")
	b.WriteString(svg)
	b.WriteString("</div>\n<script type=\"application/json\" id=\"bundle-data\">")
	b.Write(data)
	b.WriteString("</script>\n<script>\n")
	b.Write(render)
	b.WriteString("</script>\n<script>")
	b.WriteString(dashboardBoot)
	b.WriteString("</script>\n</body>\n</html>\n")
	_, err = io.WriteString(w, b.String())
	return err
}

// summaryFigures is the dashboard's opening panel: the run's headline
// figures (jobs, completion, failures, spills, cost) before any table or
// chart, each with a stable data-figure key.
func summaryFigures(sum Summary, paidMu int64) string {
	m, r := sum.Metrics, sum.Rates
	var b strings.Builder
	b.WriteString(`<section class="wide" id="summary-panel"><h2>Summary</h2><dl id="summary-figures" class="figures">`)
	for _, f := range [][3]string{
		{"jobs", "Jobs", num(m.Submitted)},
		{"completion", "Completed", pct(r.Completion)},
		{"failed", "Failed", num(m.Failed)},
		{"spills", "Spilled", num(m.Spillovers)},
		{"cost", "Cost (paid to nodes)", fmtCredits(paidMu) + " " + sum.Currency},
	} {
		fmt.Fprintf(&b, `<div data-figure="%s"><dt>%s</dt><dd class="value">%s</dd></div>`, f[0], esc(f[1]), esc(f[2]))
	}
	b.WriteString("</dl></section>\n")
	return b.String()
}
