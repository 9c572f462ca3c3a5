/* dashboard.js - ddosd's live view. Reads the JSON endpoints every second (docs/api.md):
 *   /api/incidents            the "now" tiles and the incident table
 *   /api/events?since=ID      the event trail (appended; the filter is applied here)
 *   /api/timeseries?ip=&role= each incident's pps/bps for its chart
 *   /api/threat-analysis?ip=  the search box
 * With api.dashboard_auth set, those answer 401 until the API key is given; it is kept in
 * sessionStorage (this tab) and sent as "Authorization: Bearer". Everything is written with
 * textContent (never innerHTML), so no text from the network can become markup. */
"use strict";

const REFRESH_MS = 1000;
const EVENTS_KEPT = 500;
const LEVELS = ["low", "medium", "high", "critical"];

const state = {
  key: sessionStorage.getItem("ddosd-key") || "",
  lastEvent: 0,
  events: [],
  rows: new Map(),      /* "ip|role" -> {tr, chart, incident} */
  selected: null,       /* "ip|role" */
  detailChart: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function fmt(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "-";
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(2) + " G";
  if (a >= 1e6) return (n / 1e6).toFixed(2) + " M";
  if (a >= 1e4) return (n / 1e3).toFixed(1) + " k";
  return Math.round(n).toString();
}

function when(iso) {
  if (!iso) return "-";
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function levelSpan(level) {
  return el("span", "level level-" + (LEVELS.includes(level) ? level : "low"), level);
}

class AuthNeeded extends Error {}

async function getJSON(url) {
  const headers = {};
  if (state.key) headers["Authorization"] = "Bearer " + state.key;
  const r = await fetch(url, { headers, cache: "no-store" });
  if (r.status === 401 || r.status === 403) throw new AuthNeeded(String(r.status));
  if (!r.ok) throw new Error(url + ": HTTP " + r.status);
  return r.json();
}

function showAuth(message) {
  $("auth").hidden = false;
  $("auth-error").textContent = message || "";
  setStatus("error", "API key needed");
}

function setStatus(cls, text) {
  const s = $("status");
  s.className = "badge " + cls;
  s.textContent = text;
}

/* ---- now ---- */

function renderNow(now) {
  $("sensor").textContent = now.sensor ? "sensor " + now.sensor : "";
  $("now-pps").textContent = fmt(now.packets_per_s);
  $("now-fps").textContent = fmt(now.flows_per_s);
  $("now-flows").textContent = fmt(now.flows_active);
  $("now-drops").textContent = fmt(now.drops.kernel) + " / " + fmt(now.drops.ring);
  const lv = $("now-levels");
  lv.textContent = "";
  for (const l of LEVELS) {
    lv.appendChild(levelSpan(l));
    lv.appendChild(document.createTextNode(" " + (now.verdicts_by_level[l] || 0) + "  "));
  }
  $("now-attacks").textContent = now.attacks_active;
  const r = now.redis;
  $("now-redis").textContent = !r.enabled ? "off" : r.connected ? "connected" : "down";
  $("now-redis").className = "value" + (r.enabled && !r.connected ? " bad" : "");
  $("now-model").textContent = now.model.version || now.model.detail || "-";
}

/* ---- charts ---- */

function chartConfig(small) {
  return {
    type: "line",
    data: { datasets: [
      { label: "pps", data: [], borderColor: "#e0752d", backgroundColor: "#e0752d",
        borderWidth: small ? 1.5 : 2, pointRadius: 0, yAxisID: "y", parsing: false },
      { label: "bps", data: [], borderColor: "#5b9bd5", backgroundColor: "#5b9bd5",
        borderWidth: small ? 1 : 1.5, pointRadius: 0, yAxisID: "y1", parsing: false },
    ] },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { display: !small, labels: { color: "#e4e8ee" } },
                 tooltip: { enabled: !small } },
      scales: {
        x: { type: "linear", display: !small, ticks: { color: "#8a96a6" },
             title: { display: !small, text: "seconds", color: "#8a96a6" } },
        y: { display: !small, beginAtZero: true, ticks: { color: "#e0752d", callback: fmt } },
        y1: { display: !small, beginAtZero: true, position: "right",
              ticks: { color: "#5b9bd5", callback: fmt }, grid: { drawOnChartArea: false } },
      },
    },
  };
}

function makeChart(canvas, small) {
  if (typeof Chart === "undefined") return null; /* built without libjs-chart.js */
  return new Chart(canvas, chartConfig(small));
}

function setSeries(chart, points) {
  if (!chart || !points.length) return;
  const t0 = points[points.length - 1].t_us;
  chart.data.datasets[0].data = points.map((p) => ({ x: (p.t_us - t0) / 1e6, y: p.pps }));
  chart.data.datasets[1].data = points.map((p) => ({ x: (p.t_us - t0) / 1e6, y: p.bps }));
  chart.update("none");
}

/* ---- incidents ---- */

function rowKey(inc) { return inc.ip + "|" + inc.role; }

function fillRow(row, inc) {
  const c = row.tr.children;
  c[0].textContent = inc.ip;
  c[1].textContent = inc.role;
  c[2].textContent = "";
  c[2].appendChild(levelSpan(inc.threat_level));
  c[3].textContent = inc.attack_type || "-";
  c[4].textContent = fmt(inc.pps) + " / " + fmt(inc.bps);
  c[6].textContent = inc.spoofed_sources ? fmt(inc.spoofed_sources) : "-";
  c[7].textContent = inc.peers.slice(0, 3).map((p) => p.ip + " (" + p.flows + ")").join(", ") || "-";
  c[8].textContent = when(inc.since) + (inc.open ? "" : " (ended)");
  row.tr.classList.toggle("ended", !inc.open);
  row.tr.dataset.level = inc.threat_level;
  row.tr.dataset.type = inc.attack_type;
  row.incident = inc;
}

function newRow(inc) {
  const tr = el("tr", "incident");
  tr.dataset.ip = inc.ip;
  tr.dataset.role = inc.role;
  for (let i = 0; i < 9; i++) tr.appendChild(el("td", i === 4 ? "num" : ""));
  const box = el("div", "spark");
  const canvas = el("canvas");
  box.appendChild(canvas);
  tr.children[5].appendChild(box);
  tr.children[2].className = "level-cell";
  tr.children[3].className = "type-cell";
  const row = { tr, chart: null, incident: inc };
  tr.addEventListener("click", () => select(rowKey(row.incident)));
  $("incidents").tBodies[0].appendChild(tr);
  row.chart = makeChart(canvas, true);
  return row;
}

function renderIncidents(list) {
  const seen = new Set();
  const body = $("incidents").tBodies[0];
  for (const inc of list) {
    const k = rowKey(inc);
    seen.add(k);
    let row = state.rows.get(k);
    if (!row) { row = newRow(inc); state.rows.set(k, row); }
    fillRow(row, inc);
    body.appendChild(row.tr); /* keeps the server's order: open first, by level and rate */
  }
  for (const [k, row] of state.rows) {
    if (seen.has(k)) continue;
    if (row.chart) row.chart.destroy();
    row.tr.remove();
    state.rows.delete(k);
  }
  const open = list.filter((i) => i.open).length;
  $("incident-count").textContent = open + " open" + (list.length > open ? ", " + (list.length - open) + " ended" : "");
  $("no-incidents").hidden = list.length > 0;
}

async function refreshSeries() {
  const jobs = [];
  for (const [k, row] of state.rows) {
    const inc = row.incident;
    if ((!inc.open && row.loaded) || !inc.points) continue; /* no series (yet, or API-only node) */
    const url = "/api/timeseries?ip=" + encodeURIComponent(inc.ip) + "&role=" + inc.role;
    jobs.push(getJSON(url).then((s) => {
      row.loaded = true;
      row.points = s.points;
      setSeries(row.chart, s.points);
      row.tr.dataset.points = String(s.points.length);
      if (state.selected === k) setSeries(state.detailChart, s.points);
    }));
  }
  await Promise.allSettled(jobs);
}

/* ---- the selected incident ---- */

function select(k) {
  state.selected = k;
  for (const [key, row] of state.rows) row.tr.classList.toggle("selected", key === k);
  $("detail").hidden = false;
  if (!state.detailChart) state.detailChart = makeChart($("detail-chart"), false);
  renderDetail();
}

function kvRow(table, k, v) {
  const tr = el("tr");
  tr.appendChild(el("td", "", k));
  const td = el("td");
  if (v instanceof Node) td.appendChild(v); else td.textContent = v;
  tr.appendChild(td);
  table.appendChild(tr);
}

function renderDetail() {
  const row = state.selected && state.rows.get(state.selected);
  if (!row) { $("detail").hidden = true; return; }
  const inc = row.incident;
  const v = inc.verdict || {};
  $("detail-ip").textContent = inc.ip + " (" + inc.role + ")";
  const kv = $("detail-kv");
  kv.textContent = "";
  kvRow(kv, "level now", levelSpan(inc.threat_level));
  kvRow(kv, "attack type", inc.attack_type || "-");
  kvRow(kv, "since", when(inc.since));
  kvRow(kv, "ended", inc.open ? "open" : when(inc.ended));
  kvRow(kv, "peak level", levelSpan(inc.peak.threat_level));
  kvRow(kv, "peak pps / bps", fmt(inc.peak.pps) + " / " + fmt(inc.peak.bps));
  kvRow(kv, "now pps / bps", fmt(inc.pps) + " / " + fmt(inc.bps));
  kvRow(kv, "spoofed sources", String(inc.spoofed_sources) +
        (inc.spoofed_examples.length ? " (e.g. " + inc.spoofed_examples.join(", ") + ")" : ""));
  kvRow(kv, "score", v.score === undefined ? "-" : String(v.score));
  kvRow(kv, "decision", v.decision ? "yes (banned by bouncers)" : "no");
  const reasons = $("detail-reasons");
  reasons.textContent = "";
  for (const r of (v.reasons && v.reasons.length ? v.reasons : inc.reasons)) reasons.appendChild(el("li", "reason", r));
  const peers = $("detail-peers").tBodies[0];
  peers.textContent = "";
  for (const p of inc.peers) {
    const tr = el("tr", "peer");
    tr.appendChild(el("td", "", p.ip));
    tr.appendChild(el("td", "num", p.flows));
    peers.appendChild(tr);
  }
  if (!inc.peers.length) peers.appendChild(el("tr")).appendChild(el("td", "muted",
    inc.spoofed_sources ? "spoofed sources only: nobody to blame" : "none listed"));
  $("detail-verdict").textContent = JSON.stringify(v, null, 2);
  if (row.points) setSeries(state.detailChart, row.points);
}

/* ---- events ---- */

function renderEvents() {
  const filter = $("event-filter").value.trim();
  const body = $("events").tBodies[0];
  body.textContent = "";
  const shown = state.events.filter((e) => !filter || e.ip.includes(filter) ||
                                        e.peers.some((p) => p.ip.includes(filter)));
  for (const e of shown.slice(-200).reverse()) {
    const tr = el("tr", "event ev-" + e.event);
    tr.dataset.ip = e.ip;
    tr.appendChild(el("td", "", when(e.time)));
    const what = e.event === "level" ? "level " + e.previous_level + " → " + e.threat_level : e.event;
    tr.appendChild(el("td", "", what));
    tr.appendChild(el("td", "", e.ip));
    tr.appendChild(el("td", "", e.role));
    const lv = el("td");
    lv.appendChild(levelSpan(e.event === "end" ? e.peak_level : e.threat_level));
    tr.appendChild(lv);
    tr.appendChild(el("td", "", e.attack_type || "-"));
    tr.appendChild(el("td", "num", fmt(e.pps)));
    const who = [];
    if (e.spoofed_sources) who.push(fmt(e.spoofed_sources) + " spoofed sources");
    if (e.peers.length) who.push(e.peers.slice(0, 3).map((p) => p.ip).join(", "));
    tr.appendChild(el("td", "", who.join("; ") || "-"));
    body.appendChild(tr);
  }
}

async function refreshEvents() {
  const before = state.lastEvent;
  for (let page = 0; page < 10; page++) {
    const r = await getJSON("/api/events?since=" + state.lastEvent + "&limit=500");
    state.events.push(...r.events);
    if (state.events.length > EVENTS_KEPT) state.events.splice(0, state.events.length - EVENTS_KEPT);
    const moved = r.next !== state.lastEvent;
    state.lastEvent = r.next;
    if (r.events.length < 500 || !moved) break;
  }
  if (state.lastEvent !== before) renderEvents(); /* the table is rebuilt only when it grew */
}

/* ---- search ---- */

async function search(ev) {
  ev.preventDefault();
  const ip = $("search-ip").value.trim();
  const box = $("search-result");
  box.hidden = false;
  box.textContent = "";
  if (!ip) return;
  try {
    const r = await fetch("/api/threat-analysis?ip=" + encodeURIComponent(ip), { cache: "no-store" });
    const v = await r.json();
    if (!r.ok) { box.appendChild(el("p", "bad", v.detail || v.error || "HTTP " + r.status)); return; }
    const h = el("p");
    h.appendChild(el("strong", "", v.ip + ": "));
    const lv = levelSpan(v.threat_level);
    lv.id = "search-level";
    h.appendChild(lv);
    h.appendChild(document.createTextNode(" " + v.role + (v.attack_type ? ", " + v.attack_type : "") +
      (v.known ? "" : " (no verdict: never seen above low)") +
      (v.reasons && v.reasons.length ? "; reasons " + v.reasons.join(", ") : "")));
    box.appendChild(h);
    box.appendChild(el("pre", "", JSON.stringify(v, null, 2)));
  } catch (e) {
    box.appendChild(el("p", "bad", "lookup failed: " + e.message));
  }
}

/* ---- the loop ---- */

/* The incidents and tiles: what an operator must see within a second or two, so they never wait
 * for the trail or the charts (refreshSide). */
async function refresh() {
  try {
    const d = await getJSON("/api/incidents");
    $("auth").hidden = true;
    renderNow(d.now);
    renderIncidents(d.incidents);
    if (state.selected) renderDetail();
    const redis = d.now.redis;
    if (redis.enabled && !redis.connected) setStatus("degraded", "Redis down");
    else setStatus("ok", "live");
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    if (e instanceof AuthNeeded) showAuth(state.key ? "that key was refused" : "");
    else setStatus("error", "no answer: " + e.message);
  }
}

/* The event trail and the charts, on their own clock. */
async function refreshSide() {
  try {
    await Promise.all([refreshEvents(), refreshSeries()]);
  } catch (e) {
    /* the main refresh reports the API's state (and asks for a key) */
  }
}

function start() {
  $("search").addEventListener("submit", search);
  $("event-filter").addEventListener("input", renderEvents);
  $("detail-close").addEventListener("click", () => {
    state.selected = null;
    $("detail").hidden = true;
    for (const row of state.rows.values()) row.tr.classList.remove("selected");
  });
  $("auth-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.key = $("auth-key").value.trim();
    sessionStorage.setItem("ddosd-key", state.key);
    refresh();
    refreshSide();
  });
  loop(refresh);
  loop(refreshSide);
}

/* fn once a second, counted from the start of its previous run: a slow answer delays the next
 * run, never piles runs up. */
async function loop(fn) {
  const t0 = performance.now();
  await fn();
  setTimeout(() => loop(fn), Math.max(50, REFRESH_MS - (performance.now() - t0)));
}

document.addEventListener("DOMContentLoaded", start);
