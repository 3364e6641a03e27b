// Meridian dashboard: reads /api/v1/regions once, then follows /api/v1/stream (Server-Sent
// Events) and re-renders on each message. Every name from the API is set with textContent or
// setAttribute, never parsed as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const MAX_EVENTS = 50;
let regions = [];   // from /api/v1/regions
let services = [];  // the latest "services" message
const events = new Map(); // seq → event

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

function allRegions() {
  const names = new Set(regions.map(r => r.name));
  const out = regions.slice();
  for (const s of services) for (const p of s.pools) {
    if (p.region && !names.has(p.region)) { names.add(p.region); out.push({ name: p.region, has_coords: false }); }
  }
  return out;
}

function renderMap() {
  const svg = document.getElementById("map");
  const states = regionStates();
  const grid = el("svg:g", { class: "grid", "aria-hidden": "true" });
  for (let lon = -150; lon <= 150; lon += 30) grid.append(el("svg:line", { x1: lon + 180, y1: 0, x2: lon + 180, y2: 180 }));
  for (let lat = -60; lat <= 60; lat += 30) grid.append(el("svg:line", { x1: 0, y1: 90 - lat, x2: 360, y2: 90 - lat, class: lat === 0 ? "eq" : "" }));
  const dots = el("svg:g");
  const list = document.getElementById("regions");
  const items = [];
  for (const r of allRegions()) {
    const state = states.get(r.name) || "unknown";
    const where = r.has_coords ? `${r.lat.toFixed(1)}°, ${r.lon.toFixed(1)}°` : "no coordinates";
    items.push(el("li", { "data-region": r.name, "data-state": state },
      el("span", {}, el("span", { class: "dot", "data-state": state, "aria-hidden": "true" }), el("b", {}, r.name), " ", el("span", { class: "where" }, where)),
      el("span", { class: "badge", "data-state": state }, state)));
    if (!r.has_coords) continue;
    // Equirectangular: x = lon + 180, y = 90 − lat on a 360 × 180 view box.
    const x = r.lon + 180, y = 90 - r.lat;
    const g = el("svg:g", { class: "region", "data-region": r.name, "data-state": state, tabindex: 0, role: "img", "aria-label": `region ${r.name}: ${state}` },
      el("svg:title", {}, `${r.name}: ${state}`),
      el("svg:circle", { cx: x, cy: y, r: 5 }),
      el("svg:text", { x: x + (x > 330 ? -7 : 7), y: y + 2.5, "text-anchor": x > 330 ? "end" : "start" }, r.name));
    dots.append(g);
  }
  svg.replaceChildren(el("svg:rect", { width: 360, height: 180, fill: "none" }), grid, dots);
  list.replaceChildren(...items);
  if (items.length === 0) list.append(el("li", {}, "No regions configured."));
}

function seconds(s) {
  if (!s) return "—";
  return s >= 60 ? `${(s / 60).toFixed(1)} min` : `${+s.toFixed(1)} s`;
}

function renderServices() {
  const body = document.getElementById("svc-body");
  const rows = services.map(s => {
    const pools = s.pools.map(p => {
      const eps = el("ul", { class: "eps", "aria-label": `endpoints of pool ${p.name}` });
      for (const e of p.endpoints) {
        const state = e.enabled ? e.state : "disabled";
        eps.append(el("li", {}, el("span", { class: "badge", "data-endpoint": e.address, "data-id": e.id, "data-state": state, title: e.id },
          `${e.address} ${state}`)));
      }
      const head = el("div", { class: "pool-head" }, el("b", {}, p.name));
      if (p.region) head.append(` · region ${p.region}`);
      head.append(` · min ${p.min_healthy} · `, el("span", { class: "badge", "data-state": poolState(p) }, poolState(p)));
      return el("div", { class: "pool", "data-pool": p.name }, head, eps);
    });
    const policy = el("td", { "data-label": "policy" }, s.policy);
    if (s.policy !== "failover" || s.answers > 1) policy.append(el("div", { class: "muted" }, `${s.select}, ${s.answers} answer${s.answers > 1 ? "s" : ""}`));
    const bound = el("td", { "data-label": "failover bound", title: s.failover_bound || "" }, seconds(s.failover_bound_seconds));
    return el("tr", { "data-service": s.name },
      el("th", { scope: "row", class: "name" }, s.name),
      policy,
      el("td", { "data-label": "ttl / degraded" }, `${s.ttl} s / ${s.degraded_ttl} s`),
      bound,
      el("td", {}, ...pools));
  });
  if (rows.length === 0) rows.push(el("tr", {}, el("td", { colspan: 5 }, "No load-balanced names in this config.")));
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
    el("span", { class: "cause" }, e.cause))));
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
  es.onopen = () => setConn("live", "live");
  es.onerror = () => setConn("lost", "connection lost, retrying…");
  es.addEventListener("services", m => {
    services = JSON.parse(m.data).services || [];
    renderServices();
    renderMap();
    document.body.dataset.updated = Date.now();
  });
  es.addEventListener("event", m => {
    const e = JSON.parse(m.data);
    events.set(e.seq, e);
    renderEvents();
  });
}

document.addEventListener("DOMContentLoaded", async () => {
  renderEvents();
  await loadRegions();
  renderMap();
  connect();
});
