// The console's jobs, job and nodes views. They draw what the /v1 API
// answers into elements with stable ids and data- attributes; app.js fetches
// (through blocking queries) and calls them. No network access happens here.
(function (global) {
  "use strict";
  var P = global.Planetary;

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    attrs = attrs || {};
    Object.keys(attrs).forEach(function (k) {
      if (attrs[k] == null) return;
      if (k === "text") e.textContent = attrs[k];
      else if (k === "cls") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (c == null) return;
      e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }
  function td(text, cls) { return el("td", { text: text == null ? "" : String(text), cls: cls || "" }); }
  function table(t, head, rows) {
    if (!t) return;
    t.innerHTML = "";
    t.appendChild(el("thead", {}, [el("tr", {}, head.map(function (h) {
      return el("th", { text: h.replace(/^#/, ""), cls: h[0] === "#" ? "num" : "" });
    }))]));
    t.appendChild(el("tbody", {}, rows));
  }
  function credits(v) { return v == null ? "" : (Math.round(v * 1e6) / 1e6).toString(); }
  function micro(v) { return v == null ? "" : credits(v / 1e6); }
  // when renders a leader-stamped Unix-ns time.
  function when(ns) {
    if (!ns) return "";
    var d = new Date(ns / 1e6);
    return isNaN(d.getTime()) ? String(ns) : d.toISOString().replace("T", " ").replace("Z", "");
  }
  function stateClass(st) {
    if (st === "completed") return "ok";
    if (st === "failed" || st === "parked") return "bad";
    if (st === "cancelled") return "dim";
    return "warn";
  }
  function jobLink(id) { return el("a", { href: "#/job/" + encodeURIComponent(id), "data-job-link": id, text: id }); }

  // ---- jobs list

  // renderJobs draws one page of GET /v1/jobs. page: {jobs, next}; at: the
  // 1-based number of the page.
  function renderJobs(page, at) {
    var jobs = (page && page.jobs) || [];
    table(document.getElementById("jobs-table"),
      ["Job", "State", "Shard", "Node", "#Attempt", "#Hops", "#Quote", "#Value", "Submitted", "Reason"],
      jobs.map(function (j) {
        var shard = j.home && j.home !== j.shard ? j.home + " → " + j.shard : j.shard;
        return el("tr", { "data-job": j.id, "data-state": j.state, "data-shard": j.shard }, [
          el("td", {}, [jobLink(j.id)]), td(j.state, stateClass(j.state)), td(shard), td(j.node || ""),
          td(j.attempt, "num"), td(j.hops, "num"), td(j.quote ? credits(j.quote) : "", "num"), td(credits(j.value), "num"),
          td(when(j.submitted_at)), td(j.parked_reason || j.error || "", "reason")
        ]);
      }));
    var info = document.getElementById("jobs-page");
    info.setAttribute("data-page", String(at));
    info.setAttribute("data-count", String(jobs.length));
    info.setAttribute("data-more", String(!!(page && page.next)));
    info.textContent = jobs.length ? "page " + at + " · " + jobs.length + " jobs" + (page.next ? " · more follow" : "")
      : (at > 1 ? "page " + at + " · no jobs" : "no jobs match");
    document.getElementById("jobs-prev").disabled = at <= 1;
    document.getElementById("jobs-next").disabled = !(page && page.next);
  }

  // fillShardFilter keeps the shard select of the jobs filter in step with
  // the registered shards, preserving the selection.
  function fillShardFilter(shards, selected) {
    var sel = document.getElementById("jobs-filter-shard");
    if (!sel) return;
    var names = (shards || []).map(function (s) { return s.name; }).sort();
    if (selected && names.indexOf(selected) < 0) names.push(selected);
    var have = Array.prototype.map.call(sel.options, function (o) { return o.value; }).slice(1);
    if (have.join(",") !== names.join(",")) {
      sel.innerHTML = "";
      sel.appendChild(el("option", { value: "", text: "all shards" }));
      names.forEach(function (n) { sel.appendChild(el("option", { value: n, text: n })); });
    }
    sel.value = selected || "";
  }

  // ---- one job

  // The fields of a job view this page knows how to show; any other field
  // the API carries (usage, settlement, ...) is listed under "More".
  var KNOWN = ["seq", "id", "key", "home", "shard", "capabilities", "priority", "value", "max_price", "kind", "payload",
    "state", "node", "attempt", "hops", "quote", "parked_reason", "output", "exit_code", "error", "submitted_at",
    "assigned_at", "finished_at", "submitter", "settled", "settlement"];

  function show(v) {
    if (v == null) return "";
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }
  function kv(rows) {
    return rows.filter(function (r) { return r[1] !== "" && r[1] != null; }).map(function (r) {
      return el("tr", { "data-field": r[0] }, [el("th", { text: r[2] || r[0] }), el("td", {}, [value(r[1])])]);
    });
  }
  // value renders a field of the job view: an object (usage, settlement,
  // ...) as a nested table of its fields, anything else as text.
  function value(v) {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      return el("table", { cls: "kv nested" }, [el("tbody", {}, Object.keys(v).sort().map(function (k) {
        return el("tr", { "data-field": k }, [el("th", { text: k.replace(/_/g, " ") }), el("td", {}, [value(v[k])])]);
      }))]);
    }
    return document.createTextNode(show(v));
  }

  function renderJob(j) {
    document.getElementById("job-title").textContent = j.id;
    var head = document.getElementById("job-state");
    head.textContent = j.state;
    head.className = "badge " + stateClass(j.state);
    head.setAttribute("data-state", j.state);
    var parked = document.getElementById("job-parked");
    parked.hidden = !j.parked_reason;
    parked.setAttribute("data-reason", j.parked_reason || "");
    parked.textContent = j.parked_reason ? "Parked: " + j.parked_reason : "";
    var t = document.getElementById("job-detail");
    t.innerHTML = "";
    t.appendChild(el("tbody", {}, kv([
      ["state", j.state, "State"], ["shard", j.shard, "Shard"], ["home", j.home, "Home shard"], ["node", j.node, "Node"],
      ["kind", j.kind, "Kind"], ["capabilities", (j.capabilities || []).join(", "), "Capabilities"],
      ["attempt", j.attempt, "Attempt"], ["hops", j.hops, "Hops"], ["priority", j.priority, "Priority"],
      ["value", credits(j.value), "Value"], ["max_price", j.max_price ? credits(j.max_price) : "", "Max price"],
      ["quote", j.quote ? credits(j.quote) : "", "Quote"], ["submitted_at", when(j.submitted_at), "Submitted"],
      ["assigned_at", when(j.assigned_at), "Assigned"], ["finished_at", when(j.finished_at), "Finished"],
      ["submitter", j.submitter, "Submitter"], ["key", j.key, "Key"], ["exit_code", j.exit_code || "", "Exit code"],
      ["error", j.error, "Error"], ["output", j.output, "Output"]
    ])));
    // Metered settlement (settled, settlement), when the API carries it.
    var settled = document.getElementById("job-settled");
    settled.hidden = j.settled == null && !j.settlement;
    settled.setAttribute("data-settled", j.settled == null ? "" : String(j.settled));
    settled.textContent = settled.hidden ? "" : "settled " + (j.settled == null ? "" : credits(j.settled) + " credits") +
      (j.settlement ? (j.settled == null ? "" : ": ") + j.settlement : "");
    var extra = Object.keys(j).filter(function (k) { return KNOWN.indexOf(k) < 0; }).sort();
    var more = document.getElementById("job-more");
    more.innerHTML = "";
    more.appendChild(el("tbody", {}, kv(extra.map(function (k) { return [k, j[k], k.replace(/_/g, " ")]; }))));
    document.getElementById("job-more-panel").hidden = extra.length === 0;
  }

  function eventText(e) {
    var parts = [];
    if (e.attempt) parts.push("attempt " + e.attempt);
    if (e.from && e.to) parts.push(e.from + " → " + e.to);
    else if (e.shard) parts.push(e.shard);
    if (e.node) parts.push("node " + e.node);
    if (e.amount_mu) parts.push((e.type === "job.completed" ? "paid " : "quote ") + micro(e.amount_mu));
    if (e.actor) parts.push("by " + e.actor);
    if (e.reason) parts.push(e.reason);
    if (e.detail) parts.push(e.detail);
    return parts.join(" · ");
  }

  // attempts folds a job's events into one row per attempt: where it ran,
  // its quote, when it started and how it ended.
  function attempts(events) {
    var by = {}, order = [];
    events.forEach(function (e) {
      var n = e.attempt || 0;
      if (!n) return;
      var a = by[n];
      if (!a) { a = by[n] = { attempt: n }; order.push(n); }
      switch (e.type) {
        case "job.assigned": a.node = e.node; a.shard = e.shard; a.quote = e.amount_mu; a.assigned = e.time; break;
        case "job.spilled": a.spill = e.from + " → " + e.to; break;
        case "job.started": a.started = e.time; a.node = a.node || e.node; break;
        case "job.completed": a.outcome = "completed"; a.paid = e.amount_mu; a.ended = e.time; break;
        case "job.failed": a.outcome = "failed"; a.why = e.detail || e.reason; a.ended = e.time; break;
        case "job.requeued": a.outcome = "requeued"; a.why = [e.reason, e.detail].filter(Boolean).join(": "); a.ended = e.time; break;
        case "job.cancelled": a.outcome = a.outcome || "cancelled"; a.why = e.reason; a.ended = e.time; break;
      }
    });
    return order.map(function (n) { return by[n]; });
  }

  function renderTimeline(events) {
    var ul = document.getElementById("job-timeline");
    ul.innerHTML = "";
    if (events.length && events[0].type !== "job.submitted") {
      ul.appendChild(el("li", { "data-type": "pruned", cls: "dim",
        text: "the job's earlier events were pruned by event retention" }));
    }
    events.forEach(function (e) {
      ul.appendChild(el("li", { "data-seq": String(e.seq), "data-type": e.type, "data-attempt": String(e.attempt || 0) }, [
        el("span", { cls: "when", text: when(e.time) }), " ", el("strong", { text: e.type }), " ", el("span", { text: eventText(e) })
      ]));
    });
    var rows = attempts(events);
    table(document.getElementById("job-attempts"), ["#Attempt", "Node", "Shard", "#Quote", "Started", "Outcome", "#Paid", "Why"],
      rows.map(function (a) {
        return el("tr", { "data-attempt": String(a.attempt), "data-outcome": a.outcome || "open" }, [
          td(a.attempt, "num"), td(a.node || ""), td(a.spill || a.shard || ""), td(micro(a.quote), "num"),
          td(when(a.started)), td(a.outcome || "in flight", stateClass(a.outcome || "running")), td(micro(a.paid), "num"),
          td(a.why || "", "reason")
        ]);
      }));
    var paid = 0, settled = false;
    rows.forEach(function (a) { if (a.paid != null && a.outcome === "completed") { paid += a.paid; settled = true; } });
    var s = document.getElementById("job-settlement");
    s.setAttribute("data-settled", String(settled));
    s.textContent = settled ? "settled: paid " + micro(paid) + " " + ((global.Planetary && global.Planetary.currency) || "credits") + " to " + rows.filter(function (a) {
      return a.outcome === "completed"; }).map(function (a) { return a.node; }).join(", ")
      : "not settled: a job is paid its quote when an attempt completes";
  }

  // ---- nodes

  // shaPin reads the two hashes out of a sha256-mismatch refusal.
  function shaPin(reason) {
    var p = /pinned ([0-9a-f]{64})/.exec(reason || ""), a = /actual ([0-9a-f]{64})/.exec(reason || "");
    return p && a ? { pinned: p[1], actual: a[1] } : null;
  }
  function pluginText(n) {
    var st = n.plugin_state || "";
    if (!st) return "—";
    if (st === "crashed") return "crashed " + (n.plugin_crashes || 0);
    if (st === "backing_off") return "backing off" + (n.plugin_crashes ? " (crashed " + n.plugin_crashes + ")" : "");
    if (n.plugin_crashes) return st + " (crashed " + n.plugin_crashes + ")";
    return st;
  }
  function pluginClass(st) {
    if (st === "up") return "ok";
    if (st === "refused" || st === "crashed") return "bad";
    return st ? "warn" : "dim";
  }

  // placement says whether new work may go to the node, and which
  // conditions hold it back (a drain).
  function placement(n) {
    if (n.schedulable) return { text: "schedulable", cls: "ok", held: "" };
    var held = (n.conditions || []).filter(function (c) { return c.type !== "ready" && c.status === "true"; });
    var text = held.length ? held.map(function (c) { return c.type + (c.reason ? " (" + c.reason + ")" : ""); }).join("; ") : "not schedulable";
    return { text: text, cls: held.length ? "warn" : "dim", held: held.map(function (c) { return c.type; }).join(" ") };
  }

  function renderNodeList(nodes) {
    table(document.getElementById("node-list"),
      ["Node", "Shard", "Plugin", "Status", "Placement", "Plugin state", "#PID", "#Active", "#Capacity", "#Completed", "#Heartbeat age", "Why"],
      (nodes || []).map(function (n) {
        var st = n.plugin_state || "";
        var pin = shaPin(n.plugin_reason);
        var why = el("td", { cls: "reason" }, [
          n.status_reason && n.status !== "up" ? el("div", { cls: "status-reason", text: n.status_reason }) : null,
          n.plugin_reason ? el("div", { cls: "plugin-reason", text: pin ? n.plugin_reason.split(": pinned ")[0] : n.plugin_reason }) : null,
          pin ? el("div", { cls: "hashes" }, [
            el("div", {}, ["pinned ", el("code", { cls: "hash", "data-hash": "pinned", text: pin.pinned })]),
            el("div", {}, ["actual ", el("code", { cls: "hash", "data-hash": "actual", text: pin.actual })])
          ]) : null
        ]);
        var hb = n.heartbeat_age_ms == null || n.heartbeat_age_ms < 0 ? "—" : (n.heartbeat_age_ms / 1000).toFixed(1) + " s";
        var status = n.status || "unknown";
        var pl = placement(n);
        return el("tr", { "data-node": n.id, "data-status": status, "data-plugin-state": st || "none",
          "data-plugin-crashes": String(n.plugin_crashes || 0), "data-placement": n.schedulable ? "schedulable" : "held",
          "data-conditions": pl.held }, [
          td(n.id), td(n.shard || ""), td(n.plugin || ""),
          td(status, status === "up" ? "ok" : (status === "down" ? "bad" : "warn")),
          el("td", { cls: "placement " + pl.cls, text: pl.text }),
          el("td", { cls: "plugin-state " + pluginClass(st), text: pluginText(n) }),
          td(n.plugin_pid || "", "num"), td(n.active || 0, "num"), td(n.capacity || 0, "num"), td(n.completed || 0, "num"),
          td(hb, "num"), why
        ]);
      }));
    var sum = {};
    (nodes || []).forEach(function (n) { var k = n.plugin_state || "unreported"; sum[k] = (sum[k] || 0) + 1; });
    document.getElementById("nodes-summary").textContent = Object.keys(sum).sort().map(function (k) {
      return sum[k] + " " + k.replace("_", " ");
    }).join(" · ");
  }

  global.PlanetaryViews = {
    renderJobs: renderJobs, fillShardFilter: fillShardFilter, renderJob: renderJob, renderTimeline: renderTimeline,
    renderNodeList: renderNodeList, pluginText: pluginText, shaPin: shaPin, STATES: P.STATES
  };
})(window);
