// Meridian dashboard: reads /api/v1/regions once and the last hour of /api/v1/events at each
// (re)connect, follows /api/v1/stream (Server-Sent Events) and re-renders on each message.
// #service/NAME shows one service in detail: per-prober evidence from /api/v1/endpoints/{id},
// /api/v1/explain, and drain/force overrides. Every name from the API is set with textContent
// or setAttribute, never parsed as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const MAX_EVENTS = 50;
let regions = [];   // from /api/v1/regions
let demo = null;    // region → its demo backends (GET /api/v1/demo), or null: not the demo
let services = [];  // the latest "services" message
const events = new Map(); // seq → event
// Answers per second, oldest first, from the "stats" messages: the whole series at connect,
// then one point a second.
const STATS_POINTS = 300;
const stats = { service: new Map(), region: new Map(), answers: new Map() };

// answersKey names one service's answers from one region in stats.answers.
function answersKey(service, region) { return `${service} from region ${region}`; }

function el(tag, attrs, ...children) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// poolState: unknown (no health known), down (fewer than min_healthy up), degraded, up.
function poolState(p) {
  const eps = p.endpoints.filter(e => e.enabled);
  const up = eps.filter(e => e.state === "up").length;
  const down = eps.filter(e => e.state === "down").length;
  if (eps.length === 0 || up + down === 0) return "unknown";
  if (up < Math.max(p.min_healthy, 1)) return "down";
  return down > 0 || up + down < eps.length ? "degraded" : "up";
}

// regionStates: region name → state, over the distinct pools of every service.
function regionStates() {
  const pools = new Map();
  for (const s of services) for (const p of s.pools) pools.set(p.name, p);
  const by = new Map();
  for (const p of pools.values()) {
    if (!by.has(p.region)) by.set(p.region, []);
    by.get(p.region).push(poolState(p));
  }
  const out = new Map();
  for (const [r, st] of by) {
    if (st.every(s => s === "unknown")) out.set(r, "unknown");
    else if (st.every(s => s === "down")) out.set(r, "down");
    else if (st.every(s => s === "up")) out.set(r, "up");
    else out.set(r, "degraded");
  }
  return out;
}

// ---- Spill: a region whose proxies serve by spill to another region's backends (issue 18) ----

// spills lists, for each service's pool that fronts proxies now serving by spill (the API's
// "spilling"), the region it spills to: the next pool in the service's order (wrapping
// around, as the proxies' spill order does) of another region that is neither spilling nor
// down; "" when there is none.
function spills() {
  const out = [];
  for (const s of services) {
    const spilling = new Set(s.spilling || []);
    s.pools.forEach((p, i) => {
      if (!spilling.has(p.name)) return;
      const next = [...s.pools.slice(i + 1), ...s.pools.slice(0, i)]
        .find(q => q.region && q.region !== p.region && !spilling.has(q.name) && poolState(q) !== "down");
      out.push({ service: s.name, pool: p.name, from: p.region || "", to: next ? next.region : "" });
    });
  }
  return out;
}

// regionSpills: region → the regions its proxies spill to, over every service.
function regionSpills() {
  const by = new Map();
  for (const sp of spills()) {
    if (!sp.from) continue;
    if (!by.has(sp.from)) by.set(sp.from, new Set());
    if (sp.to) by.get(sp.from).add(sp.to);
  }
  return new Map([...by].map(([r, to]) => [r, [...to].sort()]));
}

function spillText(to) { return to.length ? `spilling → ${to.join(", ")}` : "spilling, no region up to take it"; }

// spillBadge marks a region or pool served by spill to the regions to.
function spillBadge(to, attrs) {
  return el("span", { class: "badge spill", "data-spill-to": to.join(","), ...attrs,
    title: to.length ? `its proxies' own backends are down: they forward what reaches them to region ${to.join(", ")}` : "its proxies' own backends are down, and no other region is up" },
  spillText(to));
}

function allRegions() {
  const names = new Set(regions.map(r => r.name));
  const out = regions.slice();
  for (const s of services) for (const p of s.pools) {
    if (p.region && !names.has(p.region)) { names.add(p.region); out.push({ name: p.region, has_coords: false }); }
  }
  return out;
}

// ---- The map: regions on Natural Earth's land, with their answers ----

// project is the equirectangular projection web/internal/mkworld drew the land with:
// x = lon + 180, y = 90 − lat on a 360 × 180 box.
function project(r) { return [r.lon + 180, 90 - r.lat]; }

// The map's view box: 84° N to 60° S (no land south of it is drawn), grown to show any region
// outside.
function mapBox(pts) {
  const top = Math.max(0, Math.min(6, ...pts.map(p => p[1] - 10)));
  const bottom = Math.min(180, Math.max(150, ...pts.map(p => p[1] + 14)));
  return `0 ${top} 360 ${bottom - top}`;
}

function renderGrid() {
  const lines = [];
  for (let lon = -150; lon <= 150; lon += 30) lines.push(el("svg:line", { x1: lon + 180, y1: 0, x2: lon + 180, y2: 180 }));
  for (let lat = -60; lat <= 60; lat += 30) lines.push(el("svg:line", { x1: 0, y1: 90 - lat, x2: 360, y2: 90 - lat, class: lat === 0 ? "eq" : "" }));
  document.getElementById("map-grid").replaceChildren(...lines);
}

function renderMap() {
  const svg = document.getElementById("map");
  const states = regionStates();
  const spilling = regionSpills();
  const list = document.getElementById("regions");
  const items = [], dots = [], pts = [];
  for (const r of allRegions()) {
    const state = states.get(r.name) || "unknown";
    const where = r.has_coords ? `${r.lat.toFixed(1)}°, ${r.lon.toFixed(1)}°` : "no coordinates";
    const to = spilling.get(r.name);
    items.push(el("li", { "data-region": r.name, "data-state": state, "data-spilling": String(!!to) },
      el("span", {}, el("span", { class: "dot", "data-state": state, "aria-hidden": "true" }), el("b", {}, r.name), " ", el("span", { class: "where" }, where)),
      el("span", { class: "region-side" }, rateView("region", r.name), to ? spillBadge(to) : "", el("span", { class: "badge", "data-state": state }, state),
        ...demoControl(r.name))));
    if (!r.has_coords) continue;
    const [x, y] = project(r);
    pts.push([x, y]);
    const what = to ? `${state}, ${spillText(to)}` : state;
    const g = el("svg:g", { class: "region", "data-region": r.name, "data-state": state, "data-spilling": String(!!to), tabindex: 0, role: "img", "aria-label": `region ${r.name}: ${what}` },
      el("svg:title", {}, `${r.name}: ${what}`));
    if (to) g.append(el("svg:circle", { class: "spill-ring", cx: x, cy: y, r: 6.5 }));
    g.append(el("svg:circle", { cx: x, cy: y, r: 4 }), el("svg:text", { x: x + 6.5, y: y + 3, "data-x": x }, r.name));
    if (to) g.append(el("svg:text", { class: "spill-label", x: x + 6.5, y: y + 10.5, "data-x": x, "data-spill-to": to.join(",") }, spillText(to)));
    dots.push(g);
  }
  svg.setAttribute("viewBox", mapBox(pts));
  document.getElementById("map-regions").replaceChildren(...dots);
  placeLabels();
  list.replaceChildren(...items);
  if (items.length === 0) list.append(el("li", {}, "No regions configured."));
  renderLoad();
  renderSpill();
}

// renderSpill draws a dashed arrow from each spilling region to the region it spills to,
// bowed to the other side than the failover arrows, so the two can be told apart.
function renderSpill() {
  const at = new Map(regions.filter(r => r.has_coords).map(r => [r.name, project(r)]));
  const arrows = [];
  for (const [from, tos] of regionSpills()) {
    for (const to of tos) {
      if (!at.has(from) || !at.has(to)) continue;
      const [x1, y1] = at.get(from), [x2, y2] = at.get(to);
      const cx = (x1 + x2) / 2 - (y2 - y1) * 0.25, cy = (y1 + y2) / 2 + (x2 - x1) * 0.25;
      const d = Math.hypot(x2 - cx, y2 - cy) || 1;
      const ex = x2 - (x2 - cx) / d * 7, ey = y2 - (y2 - cy) / d * 7;
      arrows.push(el("svg:path", { class: "spill-flow", "data-from": from, "data-to": to,
        d: `M${x1} ${y1}Q${cx.toFixed(1)} ${cy.toFixed(1)} ${ex.toFixed(1)} ${ey.toFixed(1)}`, "marker-end": "url(#spill-head)" }));
    }
  }
  document.getElementById("map-spill").replaceChildren(...arrows);
}

// placeLabels puts each region's name right of its marker, or left where it would run off the
// map (the font's size, and so the name's width, depends on the page's width).
// A marker's labels (its name, and what it spills to) go on the same side.
function placeLabels() {
  for (const g of document.querySelectorAll("#map-regions .region")) {
    const texts = [...g.querySelectorAll("text")];
    let w = 0;
    for (const t of texts) {
      t.setAttribute("x", +t.dataset.x + 6.5);
      t.setAttribute("text-anchor", "start");
      try { w = Math.max(w, t.getComputedTextLength()); } catch (_) { /* not laid out */ }
    }
    for (const t of texts) {
      const x = +t.dataset.x;
      if (x + 6.5 + w > 358) {
        t.setAttribute("x", x - 6.5);
        t.setAttribute("text-anchor", "end");
      }
    }
  }
}

// The map shows the answers of the last LOAD_POINTS seconds: steadier than the latest point.
const LOAD_POINTS = 10;

function recent(series) {
  const s = (series || []).slice(-LOAD_POINTS);
  return s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0;
}

// renderLoad draws each region's answers per second as a disc whose area is the rate (the
// busiest region's the largest), and for each failover service answered from another region
// than its first pool's, an arrow from that region to the one answering, as thick as the rate.
function renderLoad() {
  const at = new Map(regions.filter(r => r.has_coords).map(r => [r.name, project(r)]));
  const rates = [...at.keys()].map(n => [n, recent(stats.region.get(n))]);
  const top = Math.max(0, ...rates.map(([, v]) => v));
  const discs = [];
  for (const [name, v] of rates) {
    if (!(v > 0)) continue;
    const [x, y] = at.get(name);
    const r = 6 + 12 * Math.sqrt(v / top);
    discs.push(el("svg:g", { class: "load", "data-region": name, "data-qps": v.toFixed(2) },
      el("svg:circle", { cx: x, cy: y, r: r.toFixed(2) }),
      el("svg:text", { x, y: (y + r + 7).toFixed(2), "text-anchor": "middle" }, `${fmtRate(v)} q/s`)));
  }
  document.getElementById("map-load").replaceChildren(...discs);
  const flows = [];
  for (const s of services) {
    if (s.policy !== "failover") continue;
    const first = (s.pools.find(p => p.region) || {}).region;
    if (!at.has(first)) continue;
    for (const to of new Set(s.pools.map(p => p.region))) {
      const v = recent(stats.answers.get(answersKey(s.name, to)));
      if (to === first || !at.has(to) || !(v > 0)) continue;
      const [x1, y1] = at.get(first), [x2, y2] = at.get(to);
      // A curve bowed to one side, its end short of the marker so the arrowhead shows.
      const cx = (x1 + x2) / 2 + (y2 - y1) * 0.25, cy = (y1 + y2) / 2 - (x2 - x1) * 0.25;
      const d = Math.hypot(x2 - cx, y2 - cy) || 1;
      const ex = x2 - (x2 - cx) / d * 6, ey = y2 - (y2 - cy) / d * 6;
      flows.push(el("svg:path", { class: "flow", "data-service": s.name, "data-from": first, "data-to": to,
        d: `M${x1} ${y1}Q${cx.toFixed(1)} ${cy.toFixed(1)} ${ex.toFixed(1)} ${ey.toFixed(1)}`,
        "stroke-width": (0.8 + 2.2 * Math.sqrt(v / Math.max(top, v))).toFixed(2), "marker-end": "url(#flow-head)" }));
    }
  }
  document.getElementById("map-flows").replaceChildren(...flows);
}

// ---- Health history: the last hour of each pool and endpoint, from the events ----

const HOUR = 3600e3;           // ms of history read and kept
const HISTORY_EVERY = 5000;    // ms between redraws as the hour slides on
const healthLog = new Map();   // seq → event: the last hour's, and each target's one before it
let historyLoaded = false;
const SPANS = { 60: 15, 15: 5, 5: 1 }; // minutes shown → minutes between the axis's ticks
let span = 60;                  // minutes the strips show: the whole hour, or its end zoomed in

// loadHistory reads the last hour's events, page by page; the stream adds the new ones.
async function loadHistory() {
  const since = new Date(Date.now() - HOUR).toISOString().replace(/\.\d+Z$/, "Z");
  const limit = 1000; // store.MaxEventLimit
  let after = 0;
  for (let page = 0; page < 50; page++) {
    let evs;
    try {
      const q = new URLSearchParams({ since, limit });
      if (after) q.set("after", after);
      const r = await fetch("/api/v1/events?" + q, { cache: "no-store" });
      if (!r.ok) break;
      evs = (await r.json()).events || [];
    } catch (_) { break; }
    for (const e of evs) { healthLog.set(e.seq, e); after = Math.max(after, e.seq); }
    if (evs.length < limit) break;
  }
  historyLoaded = true;
  renderHistory();
}

// segments turns one target's events (oldest first) into its states over [t0, now]. At t0 it
// was as its last earlier event left it; with none kept, in its first event's "from" state;
// with no events at all, as it is now.
function segments(evs, t0, now, current) {
  let state = current;
  const inside = [];
  for (const e of evs) {
    if (Date.parse(e.at) <= t0) state = e.to; else inside.push(e);
  }
  if (inside.length && evs.length === inside.length) state = inside[0].from;
  const out = [];
  let from = t0;
  for (const e of inside) {
    const at = Math.min(Math.max(Date.parse(e.at), from), now);
    out.push({ from, to: at, state });
    state = e.to;
    from = at;
  }
  out.push({ from, to: now, state });
  return merged(out);
}

function merged(segs) {
  const out = [];
  for (const g of segs) {
    if (g.to <= g.from) continue;
    const last = out[out.length - 1];
    if (last && last.state === g.state && last.to === g.from) last.to = g.to; else out.push({ ...g });
  }
  return out;
}

// poolSegments is a pool's state over time from its endpoints', as poolState decides it now.
function poolSegments(p, eps) {
  const cuts = [...new Set(eps.flatMap(s => s.flatMap(g => [g.from, g.to])))].sort((a, b) => a - b);
  const out = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const mid = (cuts[i] + cuts[i + 1]) / 2;
    const states = eps.map(s => (s.find(g => g.from <= mid && mid < g.to) || { state: "unknown" }).state);
    out.push({ from: cuts[i], to: cuts[i + 1], state: poolState({ min_healthy: p.min_healthy, endpoints: states.map(state => ({ enabled: true, state })) }) });
  }
  return merged(out);
}

function clock(ms) { return new Date(ms).toLocaleTimeString([], { hour12: false }); }

function duration(ms) {
  const s = Math.round(ms / 1000);
  if (ms < 100) return "< 0.1 s";
  if (s < 10) return `${+(ms / 1000).toFixed(1)} s`;
  if (s < 120) return `${s} s`;
  return s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

// strip draws segments on [t0, now]: each a span placed in percent (set through
// CSSOM: the page's CSP allows no style attributes), down periods at least a few pixels wide.
function strip(segs, t0, now, label) {
  const box = el("div", { class: "strip", role: "img" });
  for (const g of segs) {
    const seg = el("span", { class: "seg", "data-state": g.state, title: `${g.state} ${clock(g.from)}–${clock(g.to)} (${duration(g.to - g.from)})` });
    seg.style.left = `${((g.from - t0) / (now - t0) * 100).toFixed(4)}%`;
    seg.style.width = `${((g.to - g.from) / (now - t0) * 100).toFixed(4)}%`;
    box.append(seg);
  }
  const downs = segs.filter(g => g.state === "down");
  const total = downs.reduce((a, g) => a + g.to - g.from, 0);
  const summary = downs.length === 0 ? (segs.some(g => g.state === "up") ? "no outage" : "no health known")
    : `down ${downs.length}× · ${duration(total)}`;
  box.setAttribute("aria-label", `${label}, last ${span === 60 ? "hour" : span + " min"}: ${summary}` +
    downs.map(g => `; down ${clock(g.from)}–${clock(g.to)}`).join(""));
  return [box, summary, downs.length > 0];
}

function historyRow(kind, name, sub, segs, t0, now) {
  const [box, summary, wasDown] = strip(segs, t0, now, `${kind} ${name}`);
  box.setAttribute(`data-history-${kind}`, name);
  return el("div", { class: `hist-row hist-${kind}` },
    el("div", { class: "hist-name", title: sub ? `${name} ${sub}` : name }, kind === "pool" ? el("b", {}, name) : el("span", { class: "mono" }, name),
      sub ? el("span", { class: "muted small" }, ` ${sub}`) : ""),
    box,
    el("div", { class: "hist-sum small", "data-down": String(wasDown) }, summary));
}

// ticks labels the axis: −span min, then every step minutes, to now.
function ticks(span, step) {
  const out = [];
  for (let m = span; m > 0; m -= step) out.push(m === span ? `−${m} min` : `−${m}`);
  return [...out, "now"];
}

function setupHistory() {
  for (const b of document.querySelectorAll(".hist-spans button")) {
    b.addEventListener("click", () => {
      span = +b.dataset.span;
      for (const o of document.querySelectorAll(".hist-spans button")) o.setAttribute("aria-pressed", String(o === b));
      document.getElementById("history-span").textContent = span === 60 ? "last hour" : `last ${span} min`;
      renderHistory();
    });
  }
}

function renderHistory() {
  const body = document.getElementById("history-body");
  if (!historyLoaded || !loaded) return;
  const now = Date.now(), t0 = now - span * 60e3;
  const byTarget = new Map();
  for (const e of [...healthLog.values()].sort((a, b) => a.seq - b.seq)) {
    if (!byTarget.has(e.target)) byTarget.set(e.target, []);
    byTarget.get(e.target).push(e);
  }
  // Forget what is older than the hour, but each target's last event before it: its state then.
  for (const evs of byTarget.values()) {
    const old = evs.filter(e => Date.parse(e.at) <= now - HOUR);
    for (const e of old.slice(0, -1)) healthLog.delete(e.seq);
  }
  const pools = new Map();
  for (const s of services) for (const p of s.pools) if (!pools.has(p.name)) pools.set(p.name, p);
  const rows = [];
  for (const p of pools.values()) {
    const eps = p.endpoints.filter(e => e.enabled);
    const epSegs = eps.map(e => segments(byTarget.get(e.id) || [], t0, now, e.state));
    const group = el("div", { class: "hist-pool", "data-pool": p.name },
      historyRow("pool", p.name, p.region ? `region ${p.region}` : "", poolSegments(p, epSegs), t0, now));
    eps.forEach((e, i) => group.append(historyRow("endpoint", e.address, "", epSegs[i], t0, now)));
    rows.push(group);
  }
  if (rows.length === 0) rows.push(el("p", { class: "muted" }, "No pools in this config."));
  const axis = el("div", { class: "hist-row hist-axis", "aria-hidden": "true" }, el("div"),
    el("div", { class: "ticks" }, ...ticks(span, SPANS[span]).map(t => el("span", {}, t))), el("div"));
  const key = (state, text) => el("span", {}, el("span", { class: "seg", "data-state": state }), text);
  const legend = el("p", { class: "hist-legend" }, key("up", "up"), key("degraded", "degraded (pool)"), key("down", "down"),
    key("unknown", "unknown: no health known"));
  body.replaceChildren(...rows, axis, legend);
}

// ---- Demo: stop and start a region's demo backends (embedded config only) ----

async function loadDemo() {
  try {
    const r = await fetch("/api/v1/demo");
    if (r.ok) setDemo((await r.json()).regions || []);
  } catch (_) { /* not the demo */ }
}

function setDemo(list) {
  demo = new Map(list.map(d => [d.name, d]));
  document.getElementById("demo-note").hidden = false;
}

// demoControl is the stop/start button of a region with demo backends, or nothing.
function demoControl(region) {
  const d = demo && demo.get(region);
  if (!d) return [];
  const action = d.running ? "stop" : "start";
  const b = el("button", { type: "button", class: "demo-btn", "data-demo-region": region, "data-demo-action": action,
    title: `${d.running ? "Stop" : "Start"} the demo backends ${d.backends.join(", ")}` },
    d.running ? "Stop backends" : "Start backends");
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      const r = await fetch(`/api/v1/demo/${encodeURIComponent(region)}/${action}`, { method: "POST" });
      if (r.ok) setDemo((await r.json()).regions || []);
    } finally {
      renderMap();
    }
  });
  return [b];
}

// ---- Local proxy: GET /api/v1/proxy, polled while the page is visible ----

const PROXY_EVERY = 1000; // ms

// proxyState names what a backend does now: serving, draining (drained, or its health went
// down: in-flight work finishes), ejected (passive outlier detection) or down.
function proxyState(b) {
  if (b.available) return "up";
  if (b.ejected) return "ejected";
  if (!b.healthy) return "down";
  return "draining";
}

// listenerSpill is what a listener with spill shows under its name: while it spills, a badge
// with the pool it spills to (the first tier with a backend taking work) and the counts; else
// the pools it would spill to.
function listenerSpill(sp) {
  const tiers = sp.tiers || [];
  const pools = tiers.map(t => t.pool).join(", ");
  if (!sp.spilling) return el("div", { class: "muted small", "data-spill-listener": sp.listener, "data-spilling": "false" }, `spill to ${pools || "—"} when its backends are down`);
  const to = tiers.find(t => t.available > 0);
  const cap = [sp.max_conns ? `cap ${sp.max_conns} conns` : "", sp.rate ? `${sp.rate}/s` : ""].filter(Boolean).join(", ");
  const counts = [`${sp.in_flight} in flight`, cap, `${tiers.reduce((a, t) => a + t.spilled, 0)} spilled`,
    sp.last_spilled ? `last ${ago(sp.last_spilled)}` : ""].filter(Boolean).join(" · ");
  return el("div", { "data-spill-listener": sp.listener, "data-spilling": "true", "data-spill-to": to ? to.pool : "" },
    el("span", { class: "badge spill", title: `its own backends are down: it forwards to pool ${to ? to.pool : "(none available)"} (spill order ${pools})` },
      to ? `spilling → ${to.pool}` : "spilling, no pool available"),
    el("div", { class: "muted small" }, counts));
}

async function refreshProxy() {
  let list, spill;
  try {
    const r = await fetch("/api/v1/proxy");
    if (!r.ok) return false; // no proxy on this node
    const j = await r.json();
    list = j.backends || [];
    spill = new Map((j.spill || []).map(sp => [sp.listener, sp]));
  } catch (_) { return true; }
  document.getElementById("proxy").hidden = list.length === 0;
  const rows = list.map((b, i) => {
    const st = proxyState(b);
    const first = i === 0 || list[i - 1].listener !== b.listener;
    const sp = first && spill.get(b.listener);
    return el("tr", { "data-proxy-backend": b.id, "data-state": st, "data-spill": b.spill || "" },
      el("td", {}, b.listener, sp ? listenerSpill(sp) : ""),
      el("td", {}, el("span", { class: "mono" }, b.addr), b.id !== b.addr ? el("span", { class: "muted small" }, ` ${b.id}`) : "",
        b.spill ? el("div", { class: "muted small" }, `spill target · pool ${b.spill}`) : ""),
      el("td", {}, el("span", { class: "badge", "data-state": st === "up" ? "up" : st === "down" ? "down" : "degraded" }, st)),
      el("td", {}, String(b.in_flight)));
  });
  document.getElementById("proxy-body").replaceChildren(...rows);
  return true;
}

// ---- Cluster: GET /api/v1/cluster, shown when the node is one of an etcd cluster ----

const CLUSTER_EVERY = 2000; // ms

async function refreshCluster() {
  let st;
  try {
    const r = await fetch("/api/v1/cluster");
    if (!r.ok) return false;
    st = await r.json();
  } catch (_) { return true; }
  const box = document.getElementById("cluster");
  box.hidden = st.backend !== "etcd";
  if (box.hidden) return false;
  document.getElementById("cluster-summary").textContent = st.revision
    ? `config revision ${st.revision}: ${st.agree ? "every node serves it" : "not every node serves it"}`
    : "no config pushed: each node serves its own file";
  const rows = (st.nodes || []).map(n => el("tr", { "data-node": n.node, "data-agrees": String(n.agrees) },
    el("td", {}, n.node),
    el("td", {}, el("span", { class: "badge", "data-state": n.agrees ? "up" : "degraded" }, String(n.revision))),
    el("td", {}, new Date(n.heartbeat).toLocaleTimeString()),
    el("td", {}, n.rejected_revision ? `revision ${n.rejected_revision}: ${n.error}` : "")));
  document.getElementById("cluster-body").replaceChildren(...rows);
  return true;
}

async function followCluster() {
  if (!(await refreshCluster())) return;
  setInterval(() => { if (!document.hidden) refreshCluster(); }, CLUSTER_EVERY);
}

async function followProxy() {
  if (!(await refreshProxy())) return;
  setInterval(() => { if (!document.hidden) refreshProxy(); }, PROXY_EVERY);
}

// ---- Answer rates: a sparkline and the latest q/s per service and region ----

function fmtRate(v) { return v >= 10 ? String(Math.round(v)) : (+v.toFixed(1)).toString(); }

// rateView builds the q/s of a service or region: an inline SVG sparkline of the kept points
// and the current value, which the aria-label repeats for screen readers.
function rateView(kind, name) {
  const box = el("span", { class: "rate", role: "img", "data-rate-kind": kind, "data-rate-name": name });
  fillRate(box);
  return box;
}

function fillRate(box) {
  const series = stats[box.dataset.rateKind].get(box.dataset.rateName) || [];
  const cur = series.length ? series[series.length - 1] : 0;
  const W = 60, H = 16;
  const top = Math.max(1, ...series);
  const pts = series.map((v, i) => `${(W - (series.length - 1 - i) * W / (STATS_POINTS - 1)).toFixed(1)},${(H - 1 - v / top * (H - 2)).toFixed(1)}`);
  const svg = el("svg:svg", { class: "spark", viewBox: `0 0 ${W} ${H}`, width: W, height: H, "aria-hidden": "true", focusable: "false" },
    el("svg:line", { x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5, class: "base" }));
  if (pts.length > 1) svg.append(el("svg:polyline", { points: pts.join(" ") }));
  const label = `${box.dataset.rateKind} ${box.dataset.rateName}: ${fmtRate(cur)} queries per second`;
  box.setAttribute("aria-label", label);
  box.setAttribute("title", `${label} (last ${series.length} s)`);
  const num = el("span", { class: "qps" }, fmtRate(cur));
  num.setAttribute(`data-qps-${box.dataset.rateKind}`, box.dataset.rateName);
  box.replaceChildren(svg, num, el("span", { class: "unit" }, " q/s"));
}

function renderRates() {
  for (const box of document.querySelectorAll(".rate[data-rate-kind]")) fillRate(box);
}

function onStats(st) {
  const byRegion = {};
  for (const [svc, regions] of Object.entries(st.service_regions || {})) {
    for (const [region, pts] of Object.entries(regions)) byRegion[answersKey(svc, region)] = pts;
  }
  for (const [kind, got] of [["service", st.services || {}], ["region", st.regions || {}], ["answers", byRegion]]) {
    const m = stats[kind];
    if (st.full) m.clear();
    for (const name of m.keys()) if (!(name in got)) m.delete(name);
    for (const [name, pts] of Object.entries(got)) {
      const s = st.full ? [] : (m.get(name) || []);
      s.push(...pts);
      m.set(name, s.slice(-STATS_POINTS));
    }
  }
  renderRates();
  renderLoad();
}

function seconds(s) {
  if (!s) return "—";
  if (s < 1) return `${+s.toFixed(2)} s`;
  return s >= 60 ? `${(s / 60).toFixed(1)} min` : `${+s.toFixed(1)} s`;
}

// boundView is a service's failover bound: one figure, or two when its pools front proxies
// (clients through a proxy are moved by its spill, DNS-only clients also wait out the TTL).
function boundView(s) {
  if (!(s.proxy_failover_bound_seconds > 0)) {
    return [el("span", { "data-bound": "dns", title: s.failover_bound || "" }, seconds(s.failover_bound_seconds))];
  }
  return [el("span", { class: "bound", "data-bound": "proxy", title: s.proxy_failover_bound || "" }, `through proxy ${seconds(s.proxy_failover_bound_seconds)}`),
    el("span", { class: "bound-sep", "aria-hidden": "true" }, " · "),
    el("span", { class: "bound muted", "data-bound": "dns", title: s.failover_bound || "" }, `DNS-only ${seconds(s.failover_bound_seconds)}`)];
}

function renderServices() {
  const body = document.getElementById("svc-body");
  const spilling = new Map(spills().map(sp => [`${sp.service} ${sp.pool}`, sp.to]));
  const rows = services.map(s => {
    const pools = s.pools.map(p => {
      const eps = el("ul", { class: "eps", "aria-label": `endpoints of pool ${p.name}` });
      for (const e of p.endpoints) {
        const state = e.enabled ? e.state : "disabled";
        eps.append(el("li", {}, el("span", { class: "badge", "data-endpoint": e.address, "data-id": e.id, "data-state": state, title: e.id },
          `${e.address} ${state}`), e.dynamic ? el("span", { class: "muted small", "data-dynamic": e.id }, " registered") : ""));
      }
      const head = el("div", { class: "pool-head" }, el("b", {}, p.name));
      if (p.region) head.append(` · region ${p.region}`);
      head.append(` · min ${p.min_healthy} · `, el("span", { class: "badge", "data-state": poolState(p) }, poolState(p)));
      const to = spilling.get(`${s.name} ${p.name}`);
      if (to !== undefined) head.append(" ", spillBadge(to ? [to] : [], { "data-pool-spill": p.name }));
      return el("div", { class: "pool", "data-pool": p.name }, head, eps);
    });
    const policy = el("td", { "data-label": "policy" }, s.policy);
    if (s.policy !== "failover" || s.answers > 1) policy.append(el("div", { class: "muted" }, `${s.select}, ${s.answers} answer${s.answers > 1 ? "s" : ""}`));
    const bound = el("td", { "data-label": "failover bound", class: "bounds" }, ...boundView(s));
    return el("tr", { "data-service": s.name },
      el("th", { scope: "row", class: "name" }, el("a", { href: serviceHref(s.name) }, s.name)),
      policy,
      el("td", { "data-label": "ttl / degraded" }, `${s.ttl} s / ${s.degraded_ttl} s`),
      bound,
      el("td", { "data-label": "queries/s" }, rateView("service", s.name)),
      el("td", {}, ...pools));
  });
  if (rows.length === 0) rows.push(el("tr", {}, el("td", { colspan: 6 }, "No load-balanced names in this config.")));
  body.replaceChildren(...rows);
}

function fmtTime(iso) {
  const d = new Date(iso);
  const t = d.toLocaleTimeString([], { hour12: false });
  return d.toDateString() === new Date().toDateString() ? t : `${d.toLocaleDateString()} ${t}`;
}

function renderEvents() {
  const list = [...events.values()].sort((a, b) => b.seq - a.seq).slice(0, MAX_EVENTS);
  for (const [seq] of events) if (!list.some(e => e.seq === seq)) events.delete(seq);
  const ol = document.getElementById("timeline");
  ol.replaceChildren(...list.map(e => el("li", { "data-seq": e.seq },
    el("time", { datetime: e.at }, fmtTime(e.at)),
    el("span", { class: "target" }, e.target), " ",
    el("span", { class: "badge", "data-state": e.from }, e.from), " → ",
    el("span", { class: "badge", "data-state": e.to }, e.to),
    el("span", { class: "cause" }, e.node ? `${e.cause} · decided by ${e.node}` : e.cause))));
  document.getElementById("no-events").hidden = list.length > 0;
}

function setConn(state, text) {
  const c = document.getElementById("conn");
  c.dataset.state = state;
  c.textContent = text;
}

async function loadRegions() {
  try {
    const r = await fetch("/api/v1/regions");
    if (r.ok) regions = (await r.json()).regions || [];
  } catch (_) { /* the list falls back to the pools' region names */ }
}

function connect() {
  const es = new EventSource("/api/v1/stream");
  es.onopen = () => { setConn("live", "live"); loadHistory(); }; // again after a gap: what it missed
  es.onerror = () => setConn("lost", "connection lost, retrying…");
  es.addEventListener("services", m => {
    services = JSON.parse(m.data).services || [];
    loaded = true;
    renderServices();
    renderMap();
    renderHistory();
    renderDetail();
    document.body.dataset.updated = Date.now();
  });
  es.addEventListener("stats", m => onStats(JSON.parse(m.data)));
  es.addEventListener("event", m => {
    const e = JSON.parse(m.data);
    events.set(e.seq, e);
    healthLog.set(e.seq, e);
    renderEvents();
    renderHistory();
  });
}

// ---- Service detail: #service/NAME ----

const TOKEN_KEY = "meridian.api-token"; // kept in sessionStorage only: gone with the tab
const EVIDENCE_EVERY = 5000;            // ms between evidence refreshes while a service is shown
let current = null;       // the service shown, or null for the overview
let detailKey = "";       // the shown pools and endpoints; a change rebuilds them
const epViews = new Map(); // endpoint id → its elements in the detail
let evidenceGen = 0;
let loaded = false;       // a "services" message has arrived
let baseTitle = "";

function serviceHref(name) { return "#service/" + encodeURIComponent(name); }
function endpointURL(id) { return "/api/v1/endpoints/" + id.split("/").map(encodeURIComponent).join("/"); }

function ago(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (!isFinite(s)) return "—";
  if (s < 10) return `${s.toFixed(1)} s ago`;
  if (s < 120) return `${Math.round(s)} s ago`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min ago`;
  return `${(s / 3600).toFixed(1)} h ago`;
}

function showError(p, text) {
  p.textContent = text;
  p.hidden = !text;
}

function route() {
  const m = /^#service\/(.+)$/.exec(location.hash);
  let name = null;
  if (m) { try { name = decodeURIComponent(m[1]); } catch (_) { name = m[1]; } }
  const was = current;
  current = name;
  for (const id of ["overview", "history", "services", "events"]) document.getElementById(id).hidden = name !== null;
  const detail = document.getElementById("detail");
  detail.hidden = name === null;
  document.body.dataset.view = name === null ? "overview" : "service";
  if (name === null) {
    document.title = baseTitle;
    epViews.clear();
    detailKey = "";
    if (was !== null && location.hash === "#services") document.getElementById("services").focus();
    return;
  }
  document.title = `${name} · ${baseTitle}`;
  if (was !== name) {
    detailKey = "";
    document.getElementById("explain-name").value = name;
    document.getElementById("explain-out").hidden = true;
    showError(document.getElementById("explain-err"), "");
    window.scrollTo(0, 0);
    detail.focus();
  }
  renderDetail(false);
}

function fact(dl, term, ...value) {
  dl.append(el("div", {}, el("dt", {}, term), el("dd", {}, ...value)));
}

function renderDetail() {
  if (current === null) return;
  document.getElementById("detail-name").textContent = current;
  const s = services.find(x => x.name === current);
  const body = document.getElementById("detail-body");
  const missing = document.getElementById("detail-missing");
  if (!s) {
    showError(missing, loaded ? `There is no load-balanced name ${current} in the running config.` : "");
    body.hidden = loaded;
    return;
  }
  showError(missing, "");
  body.hidden = false;

  const dl = document.getElementById("detail-facts");
  dl.replaceChildren();
  fact(dl, "Zone", s.zone || "—");
  fact(dl, "Policy", s.policy, el("span", { class: "muted" }, ` · select ${s.select}, ${s.answers} answer${s.answers === 1 ? "" : "s"}`));
  fact(dl, "TTL", `${s.ttl} s`, el("span", { class: "muted" }, ` · ${s.degraded_ttl} s when degraded`));
  fact(dl, "When all are down", s.on_all_down + (s.fallback ? ` (fallback ${s.fallback})` : ""));
  if (s.proxy_failover_bound_seconds > 0) {
    fact(dl, "Failover bound", `through proxy ${seconds(s.proxy_failover_bound_seconds)}`,
      el("div", { class: "muted small", "data-field": "proxy-failover-bound" }, s.proxy_failover_bound),
      `DNS-only ${seconds(s.failover_bound_seconds)}`,
      el("div", { class: "muted small", "data-field": "failover-bound" }, s.failover_bound || "no monitor: no bound"));
  } else {
    fact(dl, "Failover bound", seconds(s.failover_bound_seconds), el("div", { class: "muted small", "data-field": "failover-bound" }, s.failover_bound || "no monitor: no bound"));
  }
  // The answer distribution by region over the last minutes: one sparkline per pool region.
  const regions = [...new Set(s.pools.map(p => p.region).filter(Boolean))];
  const dist = el("div", { class: "dist" });
  for (const r of regions) dist.append(el("div", {}, el("span", { class: "muted" }, `${r} `), rateView("answers", answersKey(s.name, r))));
  fact(dl, "Answers by region (5 min)", dist);

  const key = JSON.stringify(s.pools.map(p => [p.name, p.region, p.min_healthy, p.endpoints.map(e => [e.id, e.address, e.weight, e.enabled])]));
  if (key !== detailKey) {
    detailKey = key;
    buildPools(s);
  }
  const spilling = new Map(spills().filter(sp => sp.service === s.name).map(sp => [sp.pool, sp.to]));
  for (const p of s.pools) {
    const ps = document.querySelector(`#detail-pools [data-pool-state="${CSS.escape(p.name)}"]`);
    if (ps) { ps.dataset.state = poolState(p); ps.textContent = poolState(p); }
    const sp = document.querySelector(`#detail-pools [data-detail-spill="${CSS.escape(p.name)}"]`);
    if (sp) {
      const to = spilling.get(p.name);
      sp.replaceChildren(...(to === undefined ? [] : [" · ", spillBadge(to ? [to] : [])]));
    }
    for (const e of p.endpoints) {
      const v = epViews.get(e.id);
      if (!v) continue;
      const state = e.enabled ? e.state : "disabled";
      v.badge.dataset.state = state;
      v.badge.textContent = `${e.address} ${state}`;
    }
  }
  refreshEvidence();
}

function buildPools(s) {
  epViews.clear();
  const box = document.getElementById("detail-pools");
  box.replaceChildren(...s.pools.map((p, i) => {
    const head = el("h4", {}, `${i + 1}. pool ${p.name}`);
    const meta = el("p", { class: "muted small" }, p.region ? `region ${p.region}` : "no region",
      ` · min healthy ${p.min_healthy} · `, el("span", { class: "badge", "data-pool-state": p.name, "data-state": poolState(p) }, poolState(p)),
      el("span", { "data-detail-spill": p.name }));
    const eps = p.endpoints.map(e => buildEndpoint(e));
    if (eps.length === 0) eps.push(el("p", { class: "muted" }, "No endpoints."));
    return el("div", { class: "pool-card", "data-pool": p.name }, head, meta, ...eps);
  }));
}

function buildEndpoint(e) {
  const state = e.enabled ? e.state : "disabled";
  const v = { id: e.id, address: e.address };
  v.badge = el("span", { class: "badge", "data-endpoint": e.address, "data-id": e.id, "data-state": state }, `${e.address} ${state}`);
  v.summary = el("p", { class: "ep-summary small" }, "Loading evidence…");
  v.override = el("p", { class: "ep-override small", hidden: "" });
  v.err = el("p", { class: "error", role: "alert", hidden: "" });
  v.status = el("span", { class: "muted small", role: "status" });
  const btn = (text, title, fn) => { const b = el("button", { type: "button", title, "data-action": text.toLowerCase() }, text); b.addEventListener("click", fn); return b; };
  v.force = el("select", { "aria-label": `Force ${e.address}` },
    el("option", { value: "force-down" }, "force down"), el("option", { value: "force-up" }, "force up"));
  v.buttons = [
    btn("Drain", "take it out of answers (POST override drain)", () => change(v, "POST", "drain")),
    btn("Undrain", "clear any override (DELETE override)", () => change(v, "DELETE")),
    btn("Force", "set the chosen force override", () => change(v, "POST", v.force.value)),
  ];
  const actions = el("div", { class: "actions", role: "group", "aria-label": `Change endpoint ${e.id}` },
    v.buttons[0], v.buttons[1], el("span", { class: "force" }, v.force, v.buttons[2]), v.status);
  v.tbody = el("tbody", {}, el("tr", {}, el("td", { colspan: 7 }, "Loading…")));
  const table = el("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": `Prober evidence for ${e.id}` },
    el("table", { class: "evidence", "data-evidence": e.id },
      el("caption", {}, `Prober evidence for ${e.id}`),
      el("thead", {}, el("tr", {}, ...["Prober", "Region", "Verdict", "RTT", "Age", "Error", "Report"].map(h => el("th", { scope: "col" }, h)))),
      v.tbody));
  epViews.set(e.id, v);
  const weight = e.weight ? el("span", { class: "muted small" }, ` weight ${e.weight}`) : "";
  return el("div", { class: "endpoint", "data-id": e.id },
    el("div", { class: "ep-head" }, el("b", {}, e.address), " ", v.badge, weight, actions),
    v.summary, v.override, v.err, table);
}

function renderEvidence(v, data, err) {
  if (!data) {
    v.summary.textContent = err;
    v.override.hidden = true;
    v.tbody.replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No evidence.")));
    return;
  }
  v.summary.replaceChildren(`state ${data.state} · probers' quorum ${data.aggregate}`,
    data.since ? ` · since ${fmtTime(data.since)}` : "", data.cause ? ` · ${data.cause}` : "");
  const o = data.override;
  v.override.hidden = !o;
  if (o) v.override.textContent = `Override ${o.kind} by ${o.who}, ${ago(o.at)}${o.why ? ": " + o.why : ""}`;
  const rows = (data.reports || []).map(r => {
    const verdict = r.undecided ? "undecided" : r.up ? "up" : "down";
    return el("tr", { "data-prober": r.prober },
      el("th", { scope: "row", "data-label": "prober" }, r.prober),
      el("td", { "data-label": "region" }, r.region || "—"),
      el("td", { "data-label": "verdict" }, el("span", { class: "badge", "data-state": verdict }, verdict)),
      el("td", { "data-label": "RTT", class: "num" }, r.rtt_ms > 0 ? `${r.rtt_ms.toFixed(1)} ms` : "—"),
      el("td", { "data-label": "age", class: "num" }, ago(r.at)),
      el("td", { "data-label": "error", class: "err-text" }, r.err || "—"),
      el("td", { "data-label": "report" }, el("span", { class: "tag", "data-fresh": r.fresh }, r.fresh ? "fresh" : "stale")));
  });
  if (rows.length === 0) rows.push(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No prober has reported yet.")));
  v.tbody.replaceChildren(...rows);
}

async function refreshEvidence() {
  const gen = ++evidenceGen;
  await Promise.all([...epViews.values()].map(async v => {
    let data = null, err = "";
    try {
      const r = await fetch(endpointURL(v.id), { cache: "no-store" });
      const j = await r.json().catch(() => ({}));
      if (r.ok) data = j;
      else err = r.status === 404 ? "Not monitored: no probe evidence." : `Evidence: ${j.error || "HTTP " + r.status}`;
    } catch (e) {
      err = `Evidence: ${e.message}`;
    }
    if (gen === evidenceGen && epViews.get(v.id) === v) renderEvidence(v, data, err);
  }));
}

function tokenStatus(text) {
  const has = sessionStorage.getItem(TOKEN_KEY) !== null;
  document.getElementById("token-status").textContent = text || (has ? "A token is set for this tab." : "No token set: changes will ask for one.");
  document.getElementById("token-form").dataset.token = has ? "set" : "unset";
}

async function change(v, method, kind) {
  const tok = sessionStorage.getItem(TOKEN_KEY);
  if (!tok) {
    showError(v.err, "Enter the API token above first.");
    document.getElementById("token").focus();
    return;
  }
  for (const b of v.buttons) b.disabled = true;
  v.status.textContent = method === "DELETE" ? "clearing…" : `${kind}…`;
  try {
    const init = { method, headers: { Authorization: "Bearer " + tok }, cache: "no-store" };
    if (method === "POST") {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify({ kind, why: "from the dashboard" });
    }
    const r = await fetch(endpointURL(v.id) + "/override", init);
    const j = await r.json().catch(() => ({}));
    if (r.ok) {
      showError(v.err, "");
      v.status.textContent = method === "DELETE" ? "override cleared" : `${kind} set`;
      renderEvidence(v, j, "");
    } else {
      v.status.textContent = "";
      const why = j.error || r.statusText;
      if (r.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        tokenStatus("The token was refused: enter it again.");
        showError(v.err, `Not authorized (401): ${why}. Enter the token again above.`);
      } else if (r.status === 403) {
        showError(v.err, `Forbidden (403): ${why}`);
      } else {
        showError(v.err, `Failed (${r.status}): ${why}`);
      }
    }
  } catch (e) {
    v.status.textContent = "";
    showError(v.err, `Failed: ${e.message}`);
  } finally {
    for (const b of v.buttons) b.disabled = false;
  }
}

async function explain(ev) {
  ev.preventDefault();
  const out = document.getElementById("explain-out");
  const err = document.getElementById("explain-err");
  const name = document.getElementById("explain-name").value.trim();
  const client = document.getElementById("explain-client").value.trim();
  const q = new URLSearchParams({ name, type: document.getElementById("explain-type").value });
  q.set(client.includes("/") ? "subnet" : "client", client);
  try {
    const r = await fetch("/api/v1/explain?" + q, { cache: "no-store" });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(j.error || `HTTP ${r.status}`);
    out.textContent = j.explanation;
    out.hidden = false;
    showError(err, "");
  } catch (e) {
    out.hidden = true;
    showError(err, e.message);
  }
}

function setupDetail() {
  baseTitle = document.title;
  document.getElementById("explain").addEventListener("submit", explain);
  document.getElementById("token-form").addEventListener("submit", ev => {
    ev.preventDefault();
    const input = document.getElementById("token");
    const tok = input.value.trim();
    if (tok) sessionStorage.setItem(TOKEN_KEY, tok);
    input.value = "";
    tokenStatus(tok ? "Token set for this tab." : "");
    for (const v of epViews.values()) showError(v.err, "");
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    tokenStatus();
  });
  tokenStatus();
  setInterval(() => { if (current !== null && !document.hidden) refreshEvidence(); }, EVIDENCE_EVERY);
}

document.addEventListener("DOMContentLoaded", async () => {
  setupDetail();
  route();
  window.addEventListener("hashchange", route);
  renderEvents();
  renderGrid();
  setupHistory();
  window.addEventListener("resize", placeLabels);
  await Promise.all([loadRegions(), loadDemo()]);
  renderMap();
  connect();
  setInterval(() => { if (!document.hidden) renderHistory(); }, HISTORY_EVERY);
  followProxy();
  followCluster();
});
