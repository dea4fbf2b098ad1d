// The eventbus console: every call goes to the bus's HTTP API with the
// caller's credential, so the API's ACL decides what the page may show.
"use strict";

const tokenKey = "eventbus-token";
const pollMs = 2000;
const samplesKept = 60;

// el builds an element; children are nodes or text (never parsed as HTML).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : String(c ?? ""));
  return e;
}

function $(id) { return document.getElementById(id); }

function showError(msg) {
  const p = $("error");
  p.textContent = msg || "";
  p.hidden = !msg;
}

// api calls the bus and returns the decoded JSON answer; an error answer
// throws with the bus's message.
async function api(method, path, body) {
  const headers = {};
  const token = sessionStorage.getItem(tokenKey);
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!resp.ok) {
    const msg = (data && data.error && data.error.message) || text || resp.statusText;
    const err = new Error(resp.status === 401 ? "The bus wants credentials: enter an API key or token above. (" + msg + ")" : msg);
    err.status = resp.status;
    throw err;
  }
  return data;
}

// ---- login ----
$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const v = $("token").value.trim();
  if (v) sessionStorage.setItem(tokenKey, v);
  $("token").value = "";
  showError("");
  refreshRoutes();
});
$("logout").addEventListener("click", () => { sessionStorage.removeItem(tokenKey); stopTail(); });

// ---- views ----
function showView() {
  const name = (location.hash || "#routes").slice(1);
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== "view-" + name;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === name);
  if (name === "dlq") fillRouteSelect();
}
window.addEventListener("hashchange", showView);

// ---- routes, buses, stats ----
let routes = [];
const samples = new Map(); // route -> [{t, accepted, delivered, depth}]

function targetOf(r) {
  const t = r.target || {};
  if (t.http) return t.http.url;
  if (t.plugin) return "plugin " + t.plugin.name;
  if (t.topic) return "topic " + (t.topic.name || "");
  return "";
}

async function refreshRoutes() {
  try {
    const [rs, bs] = await Promise.all([api("GET", "/v1/routes"), api("GET", "/v1/buses")]);
    routes = rs.routes || [];
    const buses = $("buses");
    buses.replaceChildren(...(bs.buses || []).map((b) => el("li", {}, b.name + " · " + routes.filter((r) => (r.bus || "default") === b.name).length + " routes")));
    const stats = await Promise.all(routes.map((r) => api("GET", "/v1/routes/" + encodeURIComponent(r.name) + "/stats").catch(() => null)));
    renderRoutes(stats);
    showError("");
  } catch (e) {
    showError(e.message);
  }
}

function rate(list, field) {
  if (list.length < 2) return 0;
  const a = list[list.length - 2], b = list[list.length - 1];
  const dt = (b.t - a.t) / 1000;
  return dt > 0 ? Math.max(0, (b[field] - a[field]) / dt) : 0;
}

function renderRoutes(stats) {
  const now = Date.now();
  const rows = routes.map((r, i) => {
    const st = stats[i];
    let list = samples.get(r.name) || [];
    if (st) {
      list.push({ t: now, accepted: st.accepted, delivered: st.delivered, depth: st.depth });
      if (list.length > samplesKept) list = list.slice(-samplesKept);
      samples.set(r.name, list);
    }
    const rates = list.map((s, j) => j === 0 ? { in: 0, out: 0 } : { in: rate(list.slice(0, j + 1), "accepted"), out: rate(list.slice(0, j + 1), "delivered") });
    const canvas = el("canvas", { width: "160", height: "36", "aria-label": "depth and rates of " + r.name });
    drawChart(canvas, list.map((s) => s.depth), rates.map((x) => x.in), rates.map((x) => x.out));
    const num = (v) => el("td", { class: "num" }, v);
    return el("tr", { "data-route": r.name, "data-samples": list.length },
      el("td", {}, r.name),
      el("td", {}, r.bus || "default"),
      el("td", {}, targetOf(r)),
      num(st ? st.depth : "?"),
      num(st ? st.dead_letters : "?"),
      num(st ? st.inflight + " / " + st.dispatchers : "?"),
      num(st && st.plugin ? st.plugin.instances + " (" + st.plugin.restarts + " restarts)" : "–"),
      num(rate(list, "accepted").toFixed(1)),
      num(rate(list, "delivered").toFixed(1)),
      num(st ? st.latency_p50_ms.toFixed(1) : "?"),
      num(st ? st.latency_p99_ms.toFixed(1) : "?"),
      el("td", {}, canvas));
  });
  $("routes").tBodies[0].replaceChildren(...rows);
}

// drawChart draws depth (filled) and the in and out rates (lines), each
// scaled to its own maximum.
function drawChart(canvas, depth, rin, rout) {
  const g = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  g.clearRect(0, 0, w, h);
  const series = [[depth, "rgba(35,88,196,.25)", true], [rin, "#2358c4", false], [rout, "#1d7a3a", false]];
  for (const [values, color, fill] of series) {
    if (values.length < 2) continue;
    const top = Math.max(1, ...values);
    // Newest at the right edge; the first polls spread over a tenth of
    // the window rather than a sliver.
    const step = w / (Math.min(samplesKept, Math.max(values.length, 10)) - 1);
    const x = (i) => w - (values.length - 1 - i) * step;
    const y = (v) => h - 1 - (v / top) * (h - 2);
    g.beginPath();
    g.moveTo(x(0), y(values[0]));
    values.forEach((v, i) => g.lineTo(x(i), y(v)));
    if (fill) {
      g.lineTo(x(values.length - 1), h);
      g.lineTo(x(0), h);
      g.fillStyle = color;
      g.fill();
    } else {
      g.strokeStyle = color;
      g.lineWidth = 1.5;
      g.stroke();
    }
  }
}

// ---- dead letters ----
function fillRouteSelect() {
  const sel = $("dlq-route");
  const current = sel.value;
  sel.replaceChildren(...routes.map((r) => el("option", { value: r.name }, r.name)));
  if (current) sel.value = current;
}

async function showDeadLetters() {
  const route = $("dlq-route").value;
  if (!route) return;
  try {
    const page = await api("GET", "/v1/routes/" + encodeURIComponent(route) + "/dlq?limit=100");
    $("dlq-total").textContent = page.total + " dead letters on " + route + (page.total > page.events.length ? " (showing " + page.events.length + ")" : "");
    $("dlq").tBodies[0].replaceChildren(...page.events.map((e) => el("tr", { "data-id": e.id },
      el("td", {}, el("a", { href: "#dlq", onclick: (ev) => { ev.preventDefault(); showPayload(e); } }, e.id)),
      el("td", {}, e.source), el("td", {}, e.type),
      el("td", {}, e.deadletterreason || ""), el("td", { class: "num" }, e.deliveryattempts || ""),
      el("td", {}, el("button", { type: "button", onclick: () => redrive(route, [e.id]) }, "Redrive")))));
    showError("");
  } catch (e) {
    showError(e.message);
  }
}

function showPayload(e) {
  const p = $("dlq-payload");
  p.textContent = JSON.stringify(e, null, 2);
  p.hidden = false;
}

async function redrive(route, ids) {
  try {
    const res = await api("POST", "/v1/routes/" + encodeURIComponent(route) + "/dlq/redrive", ids ? { ids } : {});
    $("dlq-total").textContent = res.redriven + " redriven";
    $("dlq-payload").hidden = true;
    await showDeadLetters();
    $("dlq-total").textContent = res.redriven + " redriven. " + $("dlq-total").textContent;
  } catch (e) {
    showError(e.message);
  }
}

$("dlq-form").addEventListener("submit", (ev) => { ev.preventDefault(); showDeadLetters(); });
$("dlq-redrive-all").addEventListener("click", () => { const r = $("dlq-route").value; if (r) redrive(r, null); });

// ---- pattern playground ----
function parseField(id, name) {
  const v = $(id).value.trim();
  if (!v) return undefined;
  try { return JSON.parse(v); } catch (e) { throw new Error(name + " is not JSON: " + e.message); }
}

$("pattern-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const res = await api("POST", "/v1/test-pattern", { match: parseField("pattern-match", "the pattern"), event: parseField("pattern-event", "the event") });
    $("pattern-result").textContent = (res.matched ? "matches: " : "does not match: ") + res.reason + (res.held ? "\n" + res.held.join("\n") : "");
    showError("");
  } catch (e) {
    $("pattern-result").textContent = "";
    showError(e.message);
  }
});

$("pattern-routes").addEventListener("click", async () => {
  try {
    const event = parseField("pattern-event", "the event");
    if (!routes.length) await refreshRoutes();
    const answers = await Promise.all(routes.map((r) => api("POST", "/v1/test-pattern", { match: r.match, filters: r.filters, event })
      .catch((e) => ({ matched: false, reason: e.message }))));
    const t = $("pattern-routes-result");
    t.tBodies[0].replaceChildren(...routes.map((r, i) => el("tr", { "data-route": r.name },
      el("td", {}, r.name), el("td", {}, r.bus || "default"),
      el("td", { class: answers[i].matched ? "yes" : "no" }, answers[i].matched ? "yes" : "no"),
      el("td", {}, answers[i].reason))));
    t.hidden = false;
    showError("");
  } catch (e) {
    showError(e.message);
  }
});

// ---- live tail ----
// EventSource cannot send an Authorization header, so the stream is read
// with fetch and split into Server-Sent Events here.
let tailAbort = null;
const tailRowsKept = 200;

async function startTail(bus) {
  stopTail();
  const ctrl = new AbortController();
  tailAbort = ctrl;
  $("tail-start").disabled = true;
  $("tail-stop").disabled = false;
  const status = $("tail-status");
  const headers = {};
  const token = sessionStorage.getItem(tokenKey);
  if (token) headers["Authorization"] = "Bearer " + token;
  try {
    const resp = await fetch("/v1/buses/" + encodeURIComponent(bus) + "/tail", { headers, signal: ctrl.signal });
    if (!resp.ok) {
      const data = await resp.json().catch(() => null);
      throw new Error((data && data.error && data.error.message) || resp.statusText);
    }
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let end;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        onTailMessage(buf.slice(0, end), status);
        buf = buf.slice(end + 2);
      }
    }
    status.textContent = "stream ended";
  } catch (e) {
    if (e.name !== "AbortError") showError(e.message);
  } finally {
    if (tailAbort === ctrl) stopTail();
  }
}

function onTailMessage(block, status) {
  let kind = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) kind = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (!data) return;
  const msg = JSON.parse(data);
  if (kind === "ready") status.textContent = "tailing bus " + msg.bus;
  else if (kind === "dropped") status.textContent = msg.dropped + " events dropped: this page read too slowly";
  else if (kind === "event") {
    const e = msg.event;
    const body = $("tail").tBodies[0];
    body.prepend(el("tr", {}, el("td", {}, new Date(msg.accepted_at).toLocaleTimeString()),
      el("td", {}, el("a", { href: "#lookup", onclick: () => fillLookup(e) }, e.id)),
      el("td", {}, e.source), el("td", {}, e.type), el("td", {}, (msg.routes || []).join(", ") || "(none)")));
    while (body.rows.length > tailRowsKept) body.deleteRow(-1);
  }
}

function stopTail() {
  if (tailAbort) tailAbort.abort();
  tailAbort = null;
  $("tail-start").disabled = false;
  $("tail-stop").disabled = true;
}

$("tail-form").addEventListener("submit", (ev) => { ev.preventDefault(); startTail($("tail-bus").value.trim() || "default"); });
$("tail-stop").addEventListener("click", () => { stopTail(); $("tail-status").textContent = "stopped"; });

// ---- event lookup ----
function fillLookup(e) {
  $("lookup-bus").value = $("tail-bus").value;
  $("lookup-source").value = e.source;
  $("lookup-id").value = e.id;
  lookup();
}

async function lookup() {
  const q = new URLSearchParams({ bus: $("lookup-bus").value.trim() || "default", source: $("lookup-source").value, id: $("lookup-id").value });
  const out = $("lookup-result");
  try {
    const e = await api("GET", "/v1/events?" + q);
    const parts = [el("p", { id: "lookup-summary" }, (e.accepted_at ? "Accepted " + new Date(e.accepted_at).toLocaleString() : "Not accepted by this bus process") +
      "; matched " + (e.routes.length ? e.routes.map((r) => r.route).join(", ") : "no route") + ".")];
    for (const r of e.routes) {
      parts.push(el("h3", {}, "route " + r.route + ": ", el("span", { class: "state-" + r.state, "data-state": r.state }, r.state),
        r.redriven_at ? " (redriven " + new Date(r.redriven_at).toLocaleTimeString() + ")" : ""));
      parts.push(el("table", { class: "attempts" },
        el("thead", {}, el("tr", {}, el("th", {}, "#"), el("th", {}, "at"), el("th", {}, "verdict"), el("th", {}, "status"), el("th", {}, "latency ms"), el("th", {}, "reason"))),
        el("tbody", {}, ...r.latest_attempts.map((a, i) => el("tr", {},
          el("td", {}, r.attempts - r.latest_attempts.length + i + 1), el("td", {}, new Date(a.at).toLocaleTimeString()),
          el("td", {}, a.verdict), el("td", {}, a.status || ""), el("td", { class: "num" }, a.latency_ms.toFixed(1)), el("td", {}, a.reason || ""))))));
    }
    out.replaceChildren(...parts);
    showError("");
  } catch (e) {
    out.replaceChildren(el("p", { class: "error", id: "lookup-summary" }, e.message));
  }
}

$("lookup-form").addEventListener("submit", (ev) => { ev.preventDefault(); lookup(); });

showView();
refreshRoutes();
setInterval(() => { if (!document.hidden) refreshRoutes(); }, pollMs);
