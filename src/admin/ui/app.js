// The dashboard: the record graph with each record's latest value and rate, link and store
// health, and a chart of the selected record's recent values.
//
// Data: /api/graph once (again after a reload), /api/stream (every value, live), and every
// POLL_MS /api/records (counters: rates), /metrics (links, broker, store) and /readyz.

import { getJson, getText, parseMetrics, postJson } from "./api.js";
import { readEvents } from "./sse.js";
import { drawGraph, setHealth, short } from "./graph.js";
import { drawChart, firstNumber, fmt } from "./chart.js";

const POLL_MS = 2000;
const CHART_POINTS = 300;

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const view = {
  graph: null,
  handles: null,
  /** key → {value, produced, at, rate, stats} */
  records: new Map(),
  selected: null,
  series: [],
  ready: "loading…",
  stream: "connecting…",
  /** previous counters of each link and of the store, to see them move */
  last: new Map(),
};

/** A rate as the page shows it: two significant digits, whole numbers from 10 on. */
function rate(r) {
  if (r === null || r === undefined) return "";
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2)}/s`;
}

function entry(key) {
  if (!view.records.has(key)) view.records.set(key, { value: undefined, rate: null });
  return view.records.get(key);
}

function showStatus() {
  $("status").textContent = `${view.ready} · ${view.stream}`;
}

/** What a record node shows of `value`: its first reading, else compact JSON. */
function brief(value) {
  if (value === undefined || value === null) return "–";
  const n = firstNumber(value);
  if (n) return n.name ? `${n.name} ${fmt(n.value)}` : fmt(n.value);
  return JSON.stringify(value);
}

async function loadGraph() {
  view.graph = await getJson("api/graph");
  $("node-id").textContent = view.graph.node ?? "";
  view.handles = drawGraph($("graph"), view.graph, select);
  for (const [key, h] of view.handles.records) {
    const e = entry(key);
    h.value.textContent = short(brief(e.value), 20);
    h.rate.textContent = rate(e.rate);
  }
  const keys = view.graph.records.map((r) => r.key);
  if (!keys.includes(view.selected)) {
    // A stored reading charts best: a persisted record with a source, else any persisted one.
    const rs = view.graph.records;
    const first = rs.find((r) => r.persist && r.writer === "source") ?? rs.find((r) => r.persist) ?? rs[0];
    view.selected = null;
    if (first) await select(first.key);
  } else {
    await select(view.selected);
  }
}

function recordOf(key) {
  return view.graph?.records.find((r) => r.key === key);
}

/** Shows `key` in the detail panel, with its history. */
async function select(key) {
  const r = recordOf(key);
  if (!r) return;
  const changed = view.selected !== key;
  view.selected = key;
  for (const [k, h] of view.handles.records) h.g.classList.toggle("selected", k === key);
  $("detail-key").textContent = key;
  $("send-form").hidden = r.writer !== "external";
  if (changed) $("send-result").textContent = "";
  showDetail();
  view.series = [];
  drawChart($("chart"), []);
  $("chart-field").textContent = "";
  if (!r.persist) {
    $("chart-note").textContent = "persist = false: live values since the page opened";
    return;
  }
  $("chart-note").textContent = "stored values of the last hour, then live ones";
  try {
    const h = await getJson(`api/records/${encodeURIComponent(key)}/history?since=1h&limit=${CHART_POINTS}`);
    if (view.selected !== key) return;
    const stored = [];
    for (const v of h.values ?? []) {
      const n = firstNumber(v.value);
      if (n && Number.isFinite(v.ts_ms)) stored.push([v.ts_ms, n.value, n.name]);
    }
    view.series = stored.concat(view.series).slice(-CHART_POINTS);
    redrawChart();
  } catch (e) {
    if (view.selected === key) $("chart-note").textContent = `no history: ${e.message}`;
  }
}

function redrawChart() {
  drawChart($("chart"), view.series);
  const name = view.series.length ? view.series[view.series.length - 1][2] : "";
  $("chart-field").textContent = name ? `(${name})` : "";
}

function showDetail() {
  const r = recordOf(view.selected);
  if (!r) return;
  const e = entry(r.key);
  const s = e.stats ?? {};
  const facts = [
    ["type", r.type],
    ["buffer", r.buffer],
    ["writer", [r.writer, r.writer_detail].filter(Boolean).join(": ")],
    ["inputs", r.inputs.join(", ") || "–"],
    ["links", [...r.links_from.map((l) => `from ${l.url}`), ...r.links_to.map((l) => `to ${l.url}`)].join(", ") || "–"],
    ["persist", r.persist ? "yes" : "no"],
    ["rate", e.rate === null ? "–" : rate(e.rate).replace("/s", " values/s")],
    ["produced", s.produced ?? "–"],
    ["delivered", s.delivered ?? "–"],
    ["lagged", s.lagged ?? "–"],
    ["dropped", s.dropped ?? "–"],
    ["readers", s.readers ?? "–"],
  ];
  const dl = $("detail-facts");
  dl.replaceChildren();
  for (const [k, v] of facts) {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = String(v);
    dl.append(dt, dd);
  }
  $("detail-value").textContent = e.value === undefined ? "–" : JSON.stringify(e.value, null, 2);
}

/** A value of `key` arrived (`live`: produced now, not the latest at connect). */
function setValue(key, value, live) {
  const e = entry(key);
  e.value = value;
  const h = view.handles?.records.get(key);
  if (h) {
    h.value.textContent = short(brief(value), 20);
    if (live) {
      h.g.classList.add("fresh");
      clearTimeout(e.flash);
      e.flash = setTimeout(() => h.g.classList.remove("fresh"), 500);
    }
  }
  if (key === view.selected) {
    $("detail-value").textContent = JSON.stringify(value, null, 2);
    const n = firstNumber(value);
    if (n) {
      view.series.push([Date.now(), n.value, n.name]);
      if (view.series.length > CHART_POINTS) view.series.shift();
      redrawChart();
    }
  }
}

function onEvent(type, data) {
  let msg;
  try { msg = JSON.parse(data); } catch { return; }
  if ((type === "latest" || type === "value") && typeof msg.key === "string") {
    setValue(msg.key, msg.value, type === "value");
  }
}

async function streamLoop() {
  let backoff = 1000;
  for (;;) {
    try {
      view.stream = "live";
      showStatus();
      await readEvents("api/stream", (type, data) => { backoff = 1000; onEvent(type, data); });
      // The graph closed (a reload or the shutdown): read it again, then reconnect.
      view.stream = "graph reloaded";
      showStatus();
      await sleep(500);
      await loadGraph();
    } catch (e) {
      view.stream = `stream lost (${e.message}); retrying`;
      showStatus();
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 10000);
      try { await loadGraph(); } catch { /* next round */ }
    }
  }
}

function sum(samples, name, labels) {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

/** Whether counter `id` grew since the previous poll. */
function grew(id, value) {
  const before = view.last.get(id);
  view.last.set(id, value);
  return before !== undefined && value > before;
}

function showRates(list, now) {
  for (const r of list) {
    const e = entry(r.key);
    const produced = r.stats?.produced;
    if (typeof produced !== "number") continue;
    if (e.at !== undefined && now > e.at && produced >= e.produced) {
      e.rate = ((produced - e.produced) * 1000) / (now - e.at);
    }
    e.produced = produced;
    e.at = now;
    e.stats = r.stats;
    const h = view.handles?.records.get(r.key);
    if (h) h.rate.textContent = rate(e.rate);
  }
  showDetail();
}

function showHealth(text, readyz) {
  const m = parseMetrics(text);
  const h = view.handles;
  if (!h) return;
  const connected = sum(m, "aimdbd_mqtt_connected", {}) === 1;
  if (h.broker) {
    setHealth(h.broker.g, connected ? "ok" : "down");
    h.broker.status.textContent = connected ? "connected" : "not connected (retrying)";
  }
  for (const l of h.links) {
    const labels = { direction: l.direction, record: l.record, topic: l.topic };
    const id = `${l.direction} ${l.record} ${l.topic}`;
    const msgs = sum(m, "aimdbd_mqtt_messages_total", labels);
    const errors = sum(m, "aimdbd_mqtt_link_errors_total", labels);
    const dropped = sum(m, "aimdbd_mqtt_outbox_dropped_total", labels);
    const queued = sum(m, "aimdbd_mqtt_outbox_depth", labels);
    const paused = sum(m, "aimdbd_mqtt_inbound_paused", labels) > 0;
    const failing = grew(`${id} errors`, errors) | grew(`${id} dropped`, dropped);
    setHealth(l.g, !connected ? "down" : failing || paused ? "warn" : "ok");
    l.status.textContent = l.direction === "out"
      ? `${msgs} sent · ${queued} queued · ${errors} errors`
      : `${msgs} received · ${errors} errors${paused ? " · paused" : ""}`;
  }
  if (h.store) {
    const state = m.find((s) => s.name === "aimdbd_store_state" && s.value === 1)?.labels.state ?? "unknown";
    const written = sum(m, "aimdbd_store_values_written_total", {});
    const reason = readyz.split("\n").find((l) => l.startsWith("store "));
    setHealth(h.store.g, state === "up" ? "ok" : state === "degraded" ? "warn" : "down");
    h.store.status.textContent = reason ?? `${state} · ${written} values written`;
  }
}

async function pollLoop() {
  for (;;) {
    const [records, metrics, ready] = await Promise.allSettled([
      getJson("api/records"), getText("metrics"), getText("readyz"),
    ]);
    const now = Date.now();
    if (records.status === "fulfilled") showRates(records.value, now);
    const readyz = ready.status === "fulfilled" ? ready.value.text : "";
    view.ready = ready.status === "fulfilled" ? (readyz.split("\n")[0] || `HTTP ${ready.value.status}`) : "unreachable";
    if (metrics.status === "fulfilled" && metrics.value.status === 200) showHealth(metrics.value.text, readyz);
    showStatus();
    await sleep(POLL_MS);
  }
}

$("send-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const key = view.selected;
  const result = $("send-result");
  let value;
  try {
    value = JSON.parse($("send-value").value);
  } catch (err) {
    result.textContent = `not JSON: ${err.message}`;
    return;
  }
  result.textContent = "sending…";
  const answer = await postJson(`api/records/${encodeURIComponent(key)}`, value);
  result.textContent = answer.message;
});

async function start() {
  for (;;) {
    try {
      await loadGraph();
      break;
    } catch (e) {
      view.ready = `no graph yet (${e.message})`;
      showStatus();
      await sleep(POLL_MS);
    }
  }
  streamLoop();
  pollLoop();
}

start();
