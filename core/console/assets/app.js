// The live mission console: polls the /v1 API, long-polls events, and sends
// owner actions with the token kept in sessionStorage.
(function () {
  "use strict";
  var API = (document.body.getAttribute("data-api") || "") + "/v1";
  var TOKEN_KEY = "planetary-token";
  var model = { shards: [], nodes: [], ledger: {}, events: [], series: [], svg: "" };
  var eventIndex = 0;

  function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }
  function status(state, text) {
    var s = document.getElementById("conn-status");
    s.setAttribute("data-state", state);
    s.textContent = text;
  }
  function get(path) {
    var h = {};
    if (token()) h["X-Planetary-Token"] = token();
    return fetch(API + path, { headers: h, cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error(path + ": HTTP " + r.status);
      return r;
    });
  }
  function list(body, key) { return Array.isArray(body) ? body : (body && body[key]) || []; }

  function sample() {
    var per = {};
    model.shards.forEach(function (s) {
      per[s.name] = { queue_depth: s.queue_depth || 0, completed: Planetary.count(s.counts, "completed") };
    });
    model.series.push({ time_ms: Date.now(), per_shard: per });
    if (model.series.length > 300) model.series.shift();
  }

  function poll() {
    return Promise.all([
      get("/shards").then(function (r) { return r.json(); }),
      get("/nodes").then(function (r) { return r.json(); }),
      get("/ledger").then(function (r) { return r.json(); })
    ]).then(function (res) {
      model.shards = list(res[0], "shards");
      model.nodes = list(res[1], "nodes");
      model.ledger = res[2];
      sample();
      Planetary.renderShards(model.shards);
      Planetary.renderNodes(model.nodes);
      Planetary.renderLedger(model.ledger);
      Planetary.lineChart("chart-queue", model.series, "queue_depth");
      Planetary.lineChart("chart-completed", model.series, "completed");
      Planetary.flowChart("chart-flows", model.ledger.flows);
      status("live", "live · " + new Date().toLocaleTimeString());
      document.body.setAttribute("data-rendered", "true");
    }).catch(function (e) {
      var m = String(e.message || e);
      status(/HTTP (401|403)/.test(m) ? "unauthorized" : "error", /HTTP (401|403)/.test(m) ? "token required: " + m : m);
    });
  }

  function topology() {
    return get("/topology.svg").then(function (r) { return r.text(); })
      .then(function (svg) { model.svg = svg; Planetary.renderTopology(svg); })
      .catch(function () {});
  }

  function events() {
    get("/events?index=" + eventIndex + "&wait=20s").then(function (r) { return r.json(); }).then(function (b) {
      var evs = b.events || [];
      model.events = model.events.concat(evs).slice(-500);
      if (b.index != null) eventIndex = b.index;
      else if (evs.length) eventIndex = evs[evs.length - 1].seq;
      if (evs.length) Planetary.renderEvents(model.events);
      events();
    }).catch(function () { setTimeout(events, 2000); });
  }

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
        poll();
        topology();
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
  // Start the event stream near the chain head rather than replaying the
  // whole log into the page.
  poll().then(function () {
    var head = (model.ledger && model.ledger.chain && model.ledger.chain.seq) || 0;
    eventIndex = Math.max(0, head - 300);
    events();
  });
  topology();
  setInterval(poll, 2000);
  setInterval(topology, 5000);
})();
