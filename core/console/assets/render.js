// Rendering shared by the live console (/ui) and the offline dashboard.
// It reads a model {mission, shards, nodes, ledger, events, series, svg} whose
// parts come either from the /v1 API or from a report bundle, and draws into
// elements with stable ids. No network access happens here.
(function (global) {
  "use strict";
  var STATES = ["queued", "assigned", "running", "completed", "failed", "cancelled", "parked"];

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    attrs = attrs || {};
    Object.keys(attrs).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "cls") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }
  function td(text, cls) { return el("td", { text: String(text), cls: cls || "" }); }
  function num(n) { return (n || 0).toLocaleString("en-US"); }
  function credits(v) { return (Math.round((v || 0) * 1e6) / 1e6).toString(); }
  // count reads a per-state count that is either a number or {jobs, value}.
  function count(c, st) {
    if (!c) return 0;
    var v = c[st];
    if (v == null) return 0;
    return typeof v === "number" ? v : (v.jobs || 0);
  }
  function value(c, st) {
    if (!c || c[st] == null || typeof c[st] === "number") return 0;
    return c[st].value != null ? c[st].value : (c[st].value_mu || 0) / 1e6;
  }
  // currencyOf is the one currency label of a model: money is one unit
  // across the fabric, labelled by the mission's currency, which every
  // node's price carries; "credits" when none says.
  function currencyOf(nodes) {
    var ids = (nodes || []).filter(function (n) { return n.price && n.price.currency; })
      .map(function (n) { return n.id; }).sort();
    if (!ids.length) return "credits";
    var first = (nodes || []).filter(function (n) { return n.id === ids[0]; })[0];
    return first.price.currency;
  }
  function priceBase(p) {
    if (!p) return 0;
    return p.base != null ? p.base : (p.base_mu || 0) / 1e6;
  }
  function table(id, head, rows) {
    var t = document.getElementById(id);
    if (!t) return;
    t.innerHTML = "";
    t.appendChild(el("thead", {}, [el("tr", {}, head.map(function (h) {
      return el("th", { text: h.replace(/^#/, ""), cls: h[0] === "#" ? "num" : "" });
    }))]));
    var body = el("tbody");
    rows.forEach(function (r) { body.appendChild(r); });
    t.appendChild(body);
  }

  // healthClass colours a verdict of the one health model (ok, degraded,
  // alert); paused and down are what older bundles hold.
  function healthClass(h) {
    if (h === "ok") return "ok";
    if (h === "degraded" || h === "paused") return "warn";
    return "bad";
  }
  // reasonTexts reads health_reasons, served by the API as {code, status,
  // text} and held by report bundles as plain strings.
  function reasonTexts(rs) {
    return (rs || []).map(function (r) { return typeof r === "string" ? r : r.text; });
  }

  function renderShards(shards) {
    table("shards", ["Shard", "Region", "Health", "#Queue", "#In flight", "#Completed", "#Failed", "#Parked", "#Budget ms"],
      (shards || []).map(function (s) {
        var c = s.counts || {};
        var health = s.health || "ok";
        var reasons = reasonTexts(s.health_reasons);
        var cell = el("td", { cls: "health " + healthClass(health), title: reasons.join("; ") }, [
          el("span", { text: health }),
          reasons.length ? el("div", { cls: "reasons", text: reasons.join("; ") }) : null
        ]);
        return el("tr", { "data-shard": s.name, "data-paused": String(!!s.paused), "data-health": health }, [
          td(s.display_name ? s.display_name + " (" + s.name + ")" : s.name),
          td(s.region || ""),
          cell,
          td(num(s.queue_depth != null ? s.queue_depth : count(c, "queued")), "num"),
          td(num(count(c, "assigned") + count(c, "running")), "num"),
          td(num(count(c, "completed")), "num"),
          td(num(count(c, "failed")), "num"),
          td(num(count(c, "parked")), "num"),
          td(s.latency_budget_ms || "", "num")
        ]);
      }));
  }

  function renderNodes(nodes, currency) {
    var cur = currency || currencyOf(nodes);
    table("nodes", ["Node", "Shard", "Status", "Plugin", "#Active", "#Capacity", "#Completed", "#Price (" + cur + ")", "#Earned (" + cur + ")", "#Heartbeat age", "Attestations"],
      (nodes || []).map(function (n) {
        var a = n.attestations || {};
        var att = (a.certifications || []).concat(a.jurisdiction ? [a.jurisdiction] : []).join(", ");
        var hb = n.heartbeat_age_ms == null || n.heartbeat_age_ms < 0 ? "—" : (n.heartbeat_age_ms / 1000).toFixed(1) + " s";
        var earned = n.earned != null ? n.earned : (n.earned_mu || 0) / 1e6;
        var status = n.status || "unknown";
        var ps = n.plugin_state || "";
        var kind = n.plugin || n.plugin_kind || "";
        var plugin = (kind ? kind + " " : "") + (ps === "crashed" ? "crashed " + (n.plugin_crashes || 0) : ps.replace("_", " "));
        return el("tr", { "data-node": n.id, "data-status": status, "data-plugin-state": ps || "none" }, [
          td(n.id), td(n.shard || ""), td(status, status === "up" ? "ok" : (status === "down" ? "bad" : "warn")),
          el("td", { text: plugin, title: n.plugin_reason || "", cls: ps === "up" ? "ok" : (ps === "refused" || ps === "crashed" ? "bad" : (ps ? "warn" : "")) }),
          td(num(n.active), "num"), td(num(n.capacity), "num"), td(num(n.completed), "num"),
          td(credits(priceBase(n.price)) + " / " + ((n.price && n.price.unit) || "job"), "num"),
          td(credits(earned), "num"), td(hb, "num"), td(att)
        ]);
      }));
  }

  function renderLedger(l, currency) {
    l = l || {};
    var cur = currency || "credits";
    var g = l.global || {};
    table("ledger", ["State", "#Jobs", "#Value (" + cur + ")"], STATES.map(function (st) {
      return el("tr", { "data-state": st }, [td(st), td(num(count(g, st)), "num"), td(credits(value(g, st)), "num")]);
    }));
    var pay = l.payments || {};
    table("payments", ["Node", "#Paid (" + cur + ")"], Object.keys(pay).sort().map(function (k) {
      return el("tr", { "data-node": k }, [td(k), td(credits(pay[k]), "num")]);
    }));
    var inv = document.getElementById("invariants");
    if (inv) {
      inv.innerHTML = "";
      (l.invariants || []).forEach(function (i) {
        inv.appendChild(el("li", { "data-invariant": i.id, "data-ok": String(!!i.ok), cls: i.ok ? "ok" : "bad",
          text: (i.ok ? "✔ " : "✘ ") + i.id + (i.message ? ": " + i.message : "") }));
      });
    }
    renderRegions(l, cur);
    var head = document.getElementById("chain-head");
    if (head && l.chain) {
      head.textContent = "chain head seq " + l.chain.seq + " · " + String(l.chain.hash || "").slice(0, 16);
      head.setAttribute("data-seq", String(l.chain.seq));
    }
  }

  // age is a duration in nanoseconds as a reader wants it: milliseconds
  // under a second, tenths of a second under a minute, then m and s.
  function age(ns) {
    var ms = ns / 1e6;
    if (ms < 1000) return Math.round(ms) + "ms";
    if (ms < 60000) return (Math.round(ms / 100) / 10) + "s";
    var s = Math.round(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + "h" : "") + (h || m ? m + "m" : "") + (s % 60) + "s";
  }
  // freshness is a region's line's freshness: "local" for the serving
  // region's own, else the age of its checkpoint at the read, with the raft
  // entries it is behind when known.
  function freshness(r) {
    if (r.local) return "local";
    if (r.age_ns == null) return "unknown";
    return age(r.age_ns) + " old" + (r.index_lag != null ? ", " + r.index_lag + " entries behind" : "");
  }
  function totalsCells(t, first) {
    t = t || {};
    var completed = ((t.counts || {}).completed || {}).jobs || 0;
    return first.concat([td(num(completed), "num completed"), td(credits(t.value), "num value"), td(credits(t.paid), "num paid")]);
  }
  // renderRegions draws the Regions panel of a ledger (GET /v1/ledger or a
  // bundle's ledger.json) when it holds more than one region: one row per
  // region's latest checkpoint and the global line; hidden otherwise.
  function renderRegions(l, currency) {
    var panel = document.getElementById("regions-panel");
    if (!panel) return;
    var regions = (l && l.regions) || [];
    panel.hidden = regions.length <= 1;
    if (regions.length <= 1) return;
    var cur = currency || "credits";
    var rows = regions.map(function (r) {
      var fresh = freshness(r);
      var attrs = { "data-region": r.region, "data-local": String(!!r.local), "data-index": String(r.index || 0), "data-freshness": fresh };
      var f = td(fresh, "freshness");
      if (r.stored_at) f.title = "stored " + new Date(r.stored_at / 1e6).toISOString() + ", age as of the read";
      return el("tr", attrs, totalsCells(r.totals, [
        td(r.region + (r.local ? " (local)" : ""), "region"), td((r.shards || []).join(", ") || "—", "shards"),
        td(r.leader || "—", "leader"), td(num(r.index), "num index"), f]));
    });
    var g = l.global_totals || {};
    rows.push(el("tr", { "data-region": "global", "data-global": "true", cls: "global" },
      totalsCells(g, [td("global", "region"), td(""), td(""), td(""), td("")])));
    table("regions", ["Region", "Shards", "Leader", "#Index", "Freshness", "#Completed", "#Value (" + cur + ")", "#Paid (" + cur + ")"], rows);
    var note = document.getElementById("regions-note");
    if (note) {
      note.textContent = regions.length + " regions, each its own raft group; the global line sums each region's latest checkpoint. " +
        "Freshness is a checkpoint's age at the last read: a region publishes when its ledger changes.";
    }
  }

  // renderLinks draws a region host's links (GET /v1/regions) under the
  // Regions panel: each ordered pair's injected latency and cut, the state
  // and backlog of its checkpoint and hand-off traffic, and each region's
  // open hand-offs; hidden when the API has no such route.
  function renderLinks(ov) {
    var box = document.getElementById("region-links-panel");
    if (!box) return;
    var links = (ov && ov.links) || [];
    box.hidden = links.length === 0;
    if (!links.length) return;
    var state = function (s, cls) { return td(s || "—", cls + " " + (s === "up" ? "ok" : (s ? "warn" : "dim"))); };
    table("region-links", ["Link", "Latency", "Cut", "Checkpoints", "#Backlog", "Hand-offs", "#Backlog"], links.map(function (l) {
      return el("tr", { "data-link": l.from + "->" + l.to, "data-partitioned": String(!!l.partitioned), "data-checkpoints": l.checkpoints || "",
        "data-handoffs": l.handoffs || "" }, [
        td(l.from + " → " + l.to, "link"), td(l.latency_ns ? (l.latency_ns / 1e6) + " ms" : "—", "latency"),
        td(l.partitioned ? "cut" : "—", "cut " + (l.partitioned ? "bad" : "dim")),
        state(l.checkpoints, "checkpoints"), td(num(l.checkpoint_backlog || 0), "num"),
        state(l.handoffs, "handoffs"), td(num(l.handoff_backlog || 0), "num")]);
    }));
    var p = document.getElementById("region-handoffs");
    if (p) {
      p.textContent = "Open hand-offs: " + ((ov.regions || []).map(function (r) {
        return r.name + " " + (r.stopped ? "stopped" : num(r.open_handoffs || 0));
      }).join(" · ") || "none");
    }
  }

  function renderEvents(events) {
    var ul = document.getElementById("events");
    if (!ul) return;
    ul.innerHTML = "";
    (events || []).slice(-300).reverse().forEach(function (e) {
      var parts = [e.type, e.job, e.shard, e.node, e.from && e.to ? e.from + "→" + e.to : "", e.reason].filter(Boolean);
      ul.appendChild(el("li", { "data-seq": String(e.seq), "data-type": e.type, text: "#" + e.seq + " " + parts.join(" · ") }));
    });
  }

  function renderTopology(svg) {
    var t = document.getElementById("topology-view");
    if (t && svg) t.innerHTML = svg;
  }

  var NS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#64a9ff", "#1dd1a1", "#f6b93b", "#ff6bcb", "#b784ff", "#ff6b6b", "#54c0ff", "#c8d3f5"];
  function svgEl(tag, attrs) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  // axisText adds a label; vertical ones are rotated about their anchor.
  function axisText(svg, x, y, text, attrs) {
    var a = { x: x, y: y };
    Object.keys(attrs || {}).forEach(function (k) { a[k] = attrs[k]; });
    var t = svgEl("text", a);
    t.textContent = text;
    svg.appendChild(t);
    return t;
  }
  var Y_LABELS = { queue_depth: "jobs queued", completed: "jobs completed" };
  // lineChart draws one polyline per shard of series[i].per_shard[shard][field]
  // over mission time, with both axes drawn and labelled (yLabel, default
  // from the field; x: run time in seconds) and their end values marked.
  function lineChart(id, series, field, yLabel) {
    var host = document.getElementById(id);
    if (!host) return;
    host.innerHTML = "";
    var W = 600, H = 200, P = 44, B = 46;
    var svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, "class": "chart", "data-chart": field, "data-points": String((series || []).length) });
    host.appendChild(svg);
    series = series || [];
    var shards = {};
    series.forEach(function (p) { Object.keys(p.per_shard || {}).forEach(function (s) { shards[s] = true; }); });
    var names = Object.keys(shards).sort();
    var t0 = series.length ? series[0].time_ms : 0, t1 = series.length ? series[series.length - 1].time_ms : 1;
    var max = 1;
    series.forEach(function (p) { names.forEach(function (s) { var v = ((p.per_shard || {})[s] || {})[field] || 0; if (v > max) max = v; }); });
    var y0 = H - B, yTop = 10;
    svg.appendChild(svgEl("line", { "class": "axis x", x1: P, y1: y0, x2: W - 8, y2: y0, stroke: "#2b3d73" }));
    svg.appendChild(svgEl("line", { "class": "axis y", x1: P, y1: yTop, x2: P, y2: y0, stroke: "#2b3d73" }));
    axisText(svg, P - 4, yTop + 8, num(max), { "text-anchor": "end", "class": "tick y" });
    axisText(svg, P - 4, y0, "0", { "text-anchor": "end", "class": "tick y" });
    axisText(svg, P, y0 + 12, (t0 / 1000).toFixed(1) + " s", { "text-anchor": "start", "class": "tick x" });
    axisText(svg, W - 8, y0 + 12, (t1 / 1000).toFixed(1) + " s", { "text-anchor": "end", "class": "tick x" });
    axisText(svg, (P + W - 8) / 2, y0 + 24, "run time (s)", { "text-anchor": "middle", "class": "axis-label x" });
    axisText(svg, 12, (yTop + y0) / 2, yLabel || Y_LABELS[field] || field, { "text-anchor": "middle", "class": "axis-label y",
      transform: "rotate(-90 12 " + ((yTop + y0) / 2) + ")" });
    names.forEach(function (s, i) {
      var pts = series.map(function (p) {
        var v = ((p.per_shard || {})[s] || {})[field] || 0;
        var x = P + (t1 > t0 ? (p.time_ms - t0) / (t1 - t0) : 0) * (W - P - 8);
        var y = y0 - v / max * (y0 - yTop);
        return x.toFixed(1) + "," + y.toFixed(1);
      }).join(" ");
      var color = PALETTE[i % PALETTE.length];
      svg.appendChild(svgEl("polyline", { points: pts, fill: "none", stroke: color, "stroke-width": 2, "data-shard": s }));
      var lab = svgEl("text", { x: P + 4 + i * 90, y: H - 4, fill: color, "class": "legend" }); lab.textContent = s; svg.appendChild(lab);
    });
  }
  function flowChart(id, flows) {
    var host = document.getElementById(id);
    if (!host) return;
    host.innerHTML = "";
    flows = (flows || []).filter(function (f) { return f.jobs > 0; });
    var W = 600, row = 22, head = 16, H = Math.max(40, flows.length * row + 10) + head + 30;
    var svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, "class": "chart flows", "data-chart": "flows" });
    host.appendChild(svg);
    var max = 1;
    flows.forEach(function (f) { if (f.jobs > max) max = f.jobs; });
    axisText(svg, 4, 11, "route (from → to)", { "class": "axis-label y" });
    var y0 = H - 30;
    svg.appendChild(svgEl("line", { "class": "axis x", x1: 140, y1: y0, x2: W - 80, y2: y0, stroke: "#2b3d73" }));
    svg.appendChild(svgEl("line", { "class": "axis y", x1: 140, y1: head, x2: 140, y2: y0, stroke: "#2b3d73" }));
    axisText(svg, 140, y0 + 12, "0", { "text-anchor": "middle", "class": "tick x" });
    axisText(svg, W - 80, y0 + 12, num(max), { "text-anchor": "middle", "class": "tick x" });
    axisText(svg, (140 + W - 80) / 2, y0 + 24, "jobs moved", { "text-anchor": "middle", "class": "axis-label x" });
    if (!flows.length) { var t = svgEl("text", { x: 146, y: head + 20 }); t.textContent = "no spillover flows"; svg.appendChild(t); }
    flows.forEach(function (f, i) {
      var y = head + 6 + i * row;
      var lab = svgEl("text", { x: 4, y: y + 13 }); lab.textContent = f.from + " → " + f.to; svg.appendChild(lab);
      svg.appendChild(svgEl("rect", { x: 140, y: y, height: 16, width: Math.max(2, f.jobs / max * (W - 220)), fill: "#f6b93b", "data-from": f.from, "data-to": f.to }));
      var v = svgEl("text", { x: 146 + f.jobs / max * (W - 220), y: y + 13 }); v.textContent = num(f.jobs) + " jobs"; svg.appendChild(v);
    });
  }

  function renderAll(m) {
    m = m || {};
    var title = document.getElementById("mission-name");
    if (title && m.mission) title.textContent = m.mission;
    renderShards(m.shards);
    var cur = m.currency || currencyOf(m.nodes);
    renderNodes(m.nodes, cur);
    renderLedger(m.ledger, cur);
    renderEvents(m.events);
    renderTopology(m.svg);
    lineChart("chart-queue", m.series, "queue_depth");
    lineChart("chart-completed", m.series, "completed");
    flowChart("chart-flows", (m.ledger || {}).flows);
    document.body.setAttribute("data-rendered", "true");
  }

  global.Planetary = {
    STATES: STATES, count: count, currencyOf: currencyOf, renderAll: renderAll, renderShards: renderShards, renderNodes: renderNodes,
    renderLedger: renderLedger, renderRegions: renderRegions, renderLinks: renderLinks, renderEvents: renderEvents, renderTopology: renderTopology,
    lineChart: lineChart, flowChart: flowChart
  };
})(window);
