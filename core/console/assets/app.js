// The live mission console. Each view keeps itself current through the
// API's blocking queries: a read answers with X-Planetary-Index, and the
// next read passes it back as ?index= so the server holds the request until
// the FSM applies a later entry (or ?wait= passes). The event panels
// long-poll /v1/events by sequence number. Owner actions are sent with the
// token kept in sessionStorage.
(function () {
  "use strict";
  var API = (document.body.getAttribute("data-api") || "") + "/v1";
  var TOKEN_KEY = "planetary-token";
  var V = window.PlanetaryViews;
  // WAIT is how long one blocking query may be held; MIN_GAP spaces the
  // queries of one view when the fabric changes all the time (every applied
  // entry wakes a query), FALLBACK is the refresh against a server that
  // answers without an index; RETRY follows an error.
  var WAIT = "60s", MIN_GAP = 1000, FALLBACK = 2000, RETRY = 2000;
  var PAGE = 50;
  var model = { shards: [], nodes: [], ledger: {}, events: [], series: [], svg: "" };
  var eventIndex = 0;

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
  function status(state, text) {
    var s = document.getElementById("conn-status");
    s.setAttribute("data-state", state);
    s.textContent = text;
  }
  function get(path, signal) {
    var h = {};
    if (token()) h["X-Planetary-Token"] = token();
    return fetch(API + path, { headers: h, cache: "no-store", signal: signal }).then(function (r) {
      if (!r.ok) {
        return r.text().then(function (t) {
          var e = new Error(path + ": HTTP " + r.status + " " + t);
          e.status = r.status;
          throw e;
        });
      }
      return r;
    });
  }
  function qs(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      if (params[k] !== "" && params[k] != null) parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(params[k]));
    });
    return parts.length ? "?" + parts.join("&") : "";
  }
  // query is one blocking query: it resolves to {index, body} where index
  // is the X-Planetary-Index of the answer (0 from a server without one).
  function query(path, params, index, signal) {
    var p = {};
    Object.keys(params || {}).forEach(function (k) { p[k] = params[k]; });
    if (index) { p.index = index; p.wait = WAIT; }
    return get(path + qs(p), signal).then(function (r) {
      var idx = parseInt(r.headers.get("X-Planetary-Index") || "0", 10) || 0;
      return r.json().then(function (b) { return { index: idx, body: b }; });
    });
  }
  function list(body, key) { return Array.isArray(body) ? body : (body && body[key]) || []; }
  function sleep(ms, signal) {
    return new Promise(function (resolve) {
      var t = setTimeout(resolve, ms);
      if (signal) signal.addEventListener("abort", function () { clearTimeout(t); resolve(); });
    });
  }
  function failed(e) {
    var m = String(e.message || e);
    var auth = e.status === 401 || e.status === 403;
    status(auth ? "unauthorized" : "error", auth ? "token required: " + m : m);
  }

  // ---- watches: loops of blocking queries that end when the view changes

  var current = null; // {signal, abort}
  function newScope() {
    if (current) current.abort.abort();
    var ac = new AbortController();
    current = { abort: ac, signal: ac.signal };
    return current;
  }
  // watch calls step(index, signal) again and again; step resolves to the
  // next index. A changed index is followed at once unless the last query
  // began less than gap ms ago; an unchanged one (the wait ran out) at
  // once; none (no blocking support) after FALLBACK.
  function watch(scope, step, gap) {
    var index = 0;
    gap = gap == null ? MIN_GAP : gap;
    (function loop() {
      if (scope.signal.aborted) return;
      var began = Date.now();
      step(index, scope.signal).then(function (next) {
        if (scope.signal.aborted) return;
        var pause = 0;
        if (!next) pause = FALLBACK;
        else if (next !== index) pause = Math.max(0, gap - (Date.now() - began));
        index = next || 0;
        status("live", "live · index " + index);
        return sleep(pause, scope.signal).then(loop);
      }, function (e) {
        if (scope.signal.aborted || e.name === "AbortError") return;
        failed(e);
        // 404: the record does not exist (or was collected); asking again
        // would not change that, so the view stops until it is reopened.
        if (e.status === 404) return;
        return sleep(RETRY, scope.signal).then(loop);
      });
    })();
  }

  // ---- overview

  function sample() {
    var per = {};
    model.shards.forEach(function (s) {
      per[s.name] = { queue_depth: s.queue_depth || 0, completed: Planetary.count(s.counts, "completed") };
    });
    model.series.push({ time_ms: Date.now(), per_shard: per });
    if (model.series.length > 300) model.series.shift();
  }
  var lastTopology = 0;
  function topology(signal) {
    lastTopology = Date.now();
    return get("/topology.svg", signal).then(function (r) { return r.text(); })
      .then(function (svg) { model.svg = svg; Planetary.renderTopology(svg); })
      .catch(function () {});
  }
  // regionLinks reads a region host's overview (GET /v1/regions); an API
  // without it (one raft group) answers 404 and the links stay hidden.
  function regionLinks(signal) {
    return get("/regions", signal).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (ov) { Planetary.renderLinks(ov); })
      .catch(function () {});
  }
  function overview(index, signal) {
    return query("/shards", {}, index, signal).then(function (res) {
      return Promise.all([
        get("/nodes", signal).then(function (r) { return r.json(); }),
        get("/ledger", signal).then(function (r) { return r.json(); })
      ]).then(function (more) {
        model.shards = list(res.body, "shards");
        model.nodes = list(more[0], "nodes");
        model.ledger = more[1];
        sample();
        Planetary.renderShards(model.shards);
        var cur = Planetary.currency = Planetary.currencyOf(model.nodes);
        Planetary.renderNodes(model.nodes, cur);
        Planetary.renderLedger(model.ledger, cur);
        if ((model.ledger.regions || []).length > 1) regionLinks(signal);
        Planetary.lineChart("chart-queue", model.series, "queue_depth");
        Planetary.lineChart("chart-completed", model.series, "completed");
        Planetary.flowChart("chart-flows", model.ledger.flows);
        document.body.setAttribute("data-rendered", "true");
        if (Date.now() - lastTopology >= 5000 || !model.svg) topology(signal);
        if (!eventsStarted) startEvents();
        return res.index;
      });
    });
  }

  // The overview's event panel: one long poll by sequence number, started
  // near the chain head rather than replaying the whole log into the page.
  var eventsStarted = false;
  function startEvents() {
    eventsStarted = true;
    var head = (model.ledger && model.ledger.chain && model.ledger.chain.seq) || 0;
    eventIndex = Math.max(0, head - 300);
    (function events() {
      get("/events?index=" + eventIndex + "&wait=" + WAIT).then(function (r) { return r.json(); }).then(function (b) {
        var evs = b.events || [];
        model.events = model.events.concat(evs).slice(-500);
        if (b.index != null) eventIndex = b.index;
        else if (evs.length) eventIndex = evs[evs.length - 1].seq;
        if (evs.length) Planetary.renderEvents(model.events);
        events();
      }).catch(function (e) {
        // 410: event retention pruned the start; go on from the first
        // retained event the answer names.
        var m = e.status === 410 && /index=(\d+)/.exec(e.message || "");
        if (m) { eventIndex = parseInt(m[1], 10); events(); return; }
        setTimeout(events, RETRY);
      });
    })();
  }

  // ---- jobs

  var jobsBack = []; // cursors of the pages before the current one
  function jobsParams(p) { return { state: p.state || "", shard: p.shard || "", q: p.q || "", limit: p.limit || "" }; }
  function jobsHash(p, after) {
    var x = jobsParams(p);
    if (after) x.after = after;
    return "#/jobs" + qs(x);
  }
  function showJobs(scope, p) {
    var f = document.getElementById("jobs-filter");
    f.elements.state.value = p.state || "";
    f.elements.q.value = p.q || "";
    V.fillShardFilter(model.shards, p.shard || "");
    var after = parseInt(p.after || "0", 10) || 0;
    if (!after) jobsBack = [];
    var last = null;
    document.getElementById("jobs-next").onclick = function () {
      if (!last || !last.next) return;
      jobsBack.push(after);
      location.hash = jobsHash(p, last.next);
    };
    document.getElementById("jobs-prev").onclick = function () {
      location.hash = jobsHash(p, jobsBack.pop() || 0);
    };
    var params = jobsParams(p);
    params.after = after || "";
    params.limit = parseInt(p.limit || "0", 10) || PAGE;
    watch(scope, function (index, signal) {
      return Promise.all([
        query("/jobs", params, index, signal),
        get("/shards", signal).then(function (r) { return r.json(); })
      ]).then(function (res) {
        last = res[0].body;
        model.shards = list(res[1], "shards");
        V.fillShardFilter(model.shards, p.shard || "");
        V.renderJobs(last, jobsBack.length + 1);
        document.body.setAttribute("data-rendered", "true");
        return res[0].index;
      });
    });
  }
  document.getElementById("jobs-filter").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = ev.target;
    var cur = parseHash().params;
    location.hash = jobsHash({ state: f.elements.state.value, shard: f.elements.shard.value, q: f.elements.q.value.trim(),
      limit: cur.limit }, 0);
  });
  document.getElementById("jobs-filter").addEventListener("change", function (ev) {
    if (ev.target.tagName === "SELECT") ev.target.form.requestSubmit();
  });
  (function () {
    var sel = document.getElementById("jobs-filter-state");
    Planetary.STATES.forEach(function (st) {
      var o = document.createElement("option");
      o.value = st;
      o.textContent = st;
      sel.appendChild(o);
    });
  })();

  // ---- one job

  function showJob(scope, id) {
    document.getElementById("job-title").textContent = id;
    var missing = document.getElementById("job-missing");
    missing.hidden = true;
    V.renderTimeline([]);
    watch(scope, function (index, signal) {
      return query("/job/" + encodeURIComponent(id), {}, index, signal).then(function (res) {
        V.renderJob(res.body);
        document.body.setAttribute("data-rendered", "true");
        return res.index;
      }, function (e) {
        if (e.status === 404) {
          missing.hidden = false;
          missing.textContent = "no job " + id + " (never submitted, or finished and collected by job retention)";
          document.body.setAttribute("data-rendered", "true");
        }
        throw e;
      });
    });
    // Its timeline: the event log filtered to the job, paged from the
    // start and then held open for the job's next event.
    var events = [], cursor = 0;
    (function more() {
      if (scope.signal.aborted) return;
      get("/events" + qs({ job: id, index: cursor, limit: 10000, wait: WAIT }), scope.signal).then(function (r) {
        return r.json();
      }).then(function (b) {
        if (scope.signal.aborted) return;
        if ((b.events || []).length) {
          events = events.concat(b.events);
          V.renderTimeline(events);
        }
        cursor = b.index || cursor;
        var tl = document.getElementById("job-timeline");
        tl.setAttribute("data-index", String(cursor));
        tl.setAttribute("data-complete", String(cursor >= (b.head || 0)));
        more();
      }, function (e) {
        if (scope.signal.aborted || e.name === "AbortError") return;
        failed(e);
        sleep(RETRY, scope.signal).then(more);
      });
    })();
  }

  // ---- nodes

  function showNodes(scope) {
    watch(scope, function (index, signal) {
      return query("/nodes", {}, index, signal).then(function (res) {
        model.nodes = list(res.body, "nodes");
        V.renderNodeList(model.nodes);
        document.body.setAttribute("data-rendered", "true");
        return res.index;
      });
    });
  }

  // ---- routing: #/ (overview), #/jobs?state=&shard=&q=&after=&limit=, #/job/ID, #/nodes

  function parseHash() {
    var h = location.hash.replace(/^#\/?/, "");
    var path = h.split("?")[0], params = {};
    (h.split("?")[1] || "").split("&").forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf("=");
      params[decodeURIComponent(i < 0 ? kv : kv.slice(0, i))] = i < 0 ? "" : decodeURIComponent(kv.slice(i + 1).replace(/\+/g, " "));
    });
    return { path: path, params: params };
  }
  function route() {
    var ph = parseHash(), path = ph.path, params = ph.params;
    var view = "overview", id = "";
    if (path === "jobs") view = "jobs";
    else if (path.indexOf("job/") === 0) { view = "job"; id = decodeURIComponent(path.slice(4)); }
    else if (path === "nodes") view = "nodes";
    Array.prototype.forEach.call(document.querySelectorAll("main.view"), function (m) {
      m.hidden = m.id !== "view-" + view;
    });
    Array.prototype.forEach.call(document.querySelectorAll("nav#views a"), function (a) {
      var v = a.getAttribute("data-view");
      if (v === view || (view === "job" && v === "jobs")) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    document.body.setAttribute("data-view", view);
    document.body.removeAttribute("data-rendered");
    var scope = newScope();
    if (view === "jobs") showJobs(scope, params);
    else if (view === "job") showJob(scope, id);
    else if (view === "nodes") showNodes(scope);
    else watch(scope, overview);
  }
  window.addEventListener("hashchange", route);

  // ---- owner actions

  function post(path, body) {
    var h = { "Content-Type": "application/json" };
    if (!token()) askToken();
    if (token()) h["X-Planetary-Token"] = token();
    var out = document.getElementById("owner-status");
    out.setAttribute("data-state", "pending");
    out.textContent = "sending " + path + "…";
    return fetch(API + path, { method: "POST", headers: h, body: JSON.stringify(body || {}) }).then(function (r) {
      return r.text().then(function (t) {
        out.setAttribute("data-state", r.ok ? "ok" : "error");
        out.textContent = (r.ok ? "done: " : "refused (" + r.status + "): ") + path + " " + t;
        if (r.ok) lastTopology = 0; // the committed change wakes the view's query
      });
    }).catch(function (e) { out.setAttribute("data-state", "error"); out.textContent = String(e); });
  }

  function askToken() {
    var t = window.prompt("Management token (kept for this tab only)", token());
    if (t != null) sessionStorage.setItem(TOKEN_KEY, t.trim());
  }

  function field(form, name) { var i = form.elements[name]; return i ? i.value.trim() : ""; }
  var actions = {
    "system-pause": function (f) { return post("/operator/pause", { reason: field(f, "reason") }); },
    "system-resume": function (f) { return post("/operator/resume", { reason: field(f, "reason") }); },
    "shard-pause": function (f) { return post("/operator/pause", { shard: field(f, "shard"), reason: field(f, "reason") }); },
    "shard-resume": function (f) { return post("/operator/resume", { shard: field(f, "shard"), reason: field(f, "reason") }); },
    "shard-deregister": function (f) {
      var to = field(f, "spill_to");
      return post("/shard/" + encodeURIComponent(field(f, "shard")) + "/deregister",
        to ? { spill_to: to, reason: field(f, "reason") } : { cancel: true, reason: field(f, "reason") });
    },
    "shard-register": function (f) {
      return post("/shards", { name: field(f, "name"), display_name: field(f, "display_name"), region: field(f, "region"),
        latency_budget_ms: parseInt(field(f, "latency_budget_ms") || "0", 10) });
    },
    "job-reroute": function (f) {
      return post("/job/" + encodeURIComponent(field(f, "job")) + "/reroute", { shard: field(f, "shard"), reason: field(f, "reason") });
    },
    "job-cancel": function (f) { return post("/job/" + encodeURIComponent(field(f, "job")) + "/cancel", { reason: field(f, "reason") }); }
  };
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-action]");
    if (!b) return;
    ev.preventDefault();
    actions[b.getAttribute("data-action")](b.form);
  });
  document.getElementById("token-button").addEventListener("click", askToken);

  get("/mission").then(function (r) { return r.json(); }).then(function (m) {
    if (m && m.name) document.getElementById("mission-name").textContent = m.name;
  }).catch(function () {});
  route();
})();
