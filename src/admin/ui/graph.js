// The record graph as SVG, laid out in columns by data-flow depth:
//
//   origins (sources, inbound links) | records of depth 0 | transforms | records of depth 1 | ...
//   ... | outbound links, and below them all the MQTT broker and the history store.
//
// Links reach the broker on buses around the graph: inbound ones along the left edge, outbound
// ones along the right edge and a lane under the bottom row; persisted records point down to the
// store (dashed).
// A record's depth is 0 without inputs, else one more than its deepest input. Every text is
// set with textContent (never markup), truncated to fit, with the whole text as a tooltip.

const NS = "http://www.w3.org/2000/svg";

/** A new SVG element `name` with `attrs`, appended to `parent` if given. */
export function svgEl(name, attrs = {}, parent = null) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.append(e);
  return e;
}

/** `s` cut to `n` characters, with an ellipsis when cut. */
export function short(s, n) {
  const t = String(s);
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

const WIDTH = { origin: 160, record: 190, transform: 110, link: 190, infra: 170 };
const HEIGHT = { origin: 40, record: 58, transform: 34, link: 42, infra: 42 };
const GAP_X = 40;
/** Room for a bus: the left one (inbound links), the right one and the lane (outbound). */
const BUS = 26;
const GAP_Y = 16;
const PAD = 16;

/** A text line at (x, y) in `g`, at most `n` characters. */
function text(g, x, y, content, cls, n = 30, anchor = "start") {
  const t = svgEl("text", { x, y, class: cls, "text-anchor": anchor }, g);
  t.textContent = short(content, n);
  return t;
}

/** The topic of an `mqtt://TOPIC` link URL. */
export function topicOf(url) {
  return String(url).replace(/^mqtts?:\/\//, "");
}

/**
 * Draws `graph` (the JSON of `/api/graph`) into `svg`; `onSelect(key)` is called when a record
 * is clicked. Returns handles to update live: `records` (key → {g, value, rate}), `links`
 * ([{record, direction, topic, g, status}]), `broker` and `store` ({g, status} or null).
 */
export function drawGraph(svg, graph, onSelect) {
  svg.replaceChildren();
  const defs = svgEl("defs", {}, svg);
  const marker = svgEl("marker", {
    id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse",
  }, defs);
  svgEl("path", { d: "M0 0L10 5L0 10z" }, marker);
  const edgeLayer = svgEl("g", { class: "edges" }, svg);
  const nodeLayer = svgEl("g", { class: "nodes" }, svg);

  const depth = new Map();
  for (const r of graph.records) {
    const d = r.inputs.length ? 1 + Math.max(...r.inputs.map((k) => depth.get(k) ?? 0)) : 0;
    depth.set(r.key, d);
  }
  const maxDepth = Math.max(0, ...depth.values());
  // Column 0: origins; 1 + 2d: records of depth d; 2d: their transforms; last: outbound links.
  const columns = Array.from({ length: 3 + 2 * maxDepth }, () => []);
  const last = columns.length - 1;
  const kindOf = (c) => (c === 0 ? "origin" : c === last ? "link" : c % 2 ? "record" : "transform");

  const boxes = new Map(); // id → {x, y, w, h}
  const edges = []; // [fromId, toId, cls]
  const items = []; // {id, column, draw(g, box)}
  const handles = { records: new Map(), links: [], broker: null, store: null };
  let hasLinks = false;
  let persists = false;

  for (const r of graph.records) {
    const d = depth.get(r.key);
    const rid = `record:${r.key}`;
    items.push({ id: rid, column: 1 + 2 * d, record: r });
    if (r.writer === "source") {
      const id = `source:${r.key}`;
      items.push({ id, column: 0, source: r });
      edges.push([id, rid, ""]);
    }
    if (r.writer === "transform") {
      const id = `transform:${r.key}`;
      items.push({ id, column: 2 * d, transform: r });
      for (const input of r.inputs) edges.push([`record:${input}`, id, ""]);
      edges.push([id, rid, ""]);
    }
    r.links_from.forEach((l, i) => {
      const id = `in:${r.key}:${i}`;
      items.push({ id, column: 0, link: l, direction: "in", key: r.key });
      edges.push(["broker", id, "bus-in"]);
      edges.push([id, rid, ""]);
      hasLinks = true;
    });
    r.links_to.forEach((l, i) => {
      const id = `out:${r.key}:${i}`;
      items.push({ id, column: last, link: l, direction: "out", key: r.key });
      edges.push([rid, id, ""]);
      edges.push([id, "broker", "bus-out"]);
      hasLinks = true;
    });
    if (r.persist) {
      persists = true;
      edges.push([rid, "store", "down store"]);
    }
  }
  for (const it of items) columns[it.column].push(it);
  const busIn = items.some((it) => it.direction === "in");
  const busOut = items.some((it) => it.direction === "out");

  // Place: columns left to right (empty ones take no room), items top to bottom.
  const left = PAD + (busIn ? BUS : 0);
  let x = left;
  let bottom = PAD;
  columns.forEach((col, c) => {
    if (!col.length) return;
    const kind = kindOf(c);
    let y = PAD;
    for (const it of col) {
      boxes.set(it.id, { x, y, w: WIDTH[kind], h: HEIGHT[kind] });
      y += HEIGHT[kind] + GAP_Y;
    }
    bottom = Math.max(bottom, y);
    x += WIDTH[kind] + GAP_X;
  });
  const right = x - GAP_X;
  const width = Math.max(right + (busOut ? BUS : 0) + PAD, left + 2 * WIDTH.infra + 3 * GAP_X);
  const infraY = bottom + 2 * GAP_Y;
  // The broker under the origins, the store to its right under the records.
  if (hasLinks) boxes.set("broker", { x: left, y: infraY, w: WIDTH.infra, h: HEIGHT.infra });
  if (persists) {
    const sx = Math.max(left + (hasLinks ? WIDTH.infra + 2 * GAP_X : 0), (left + right - WIDTH.infra) / 2);
    boxes.set("store", { x: sx, y: infraY, w: WIDTH.infra, h: HEIGHT.infra });
  }
  const lane = infraY + HEIGHT.infra + BUS / 2;
  const height = hasLinks || persists ? lane + (busOut ? BUS / 2 : 0) + PAD / 2 : bottom;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  // As wide as the pane, never wider than drawn (CSSOM: the CSP forbids style attributes).
  svg.style.maxWidth = `${width}px`;

  for (const [from, to, cls] of edges) {
    const a = boxes.get(from);
    const b = boxes.get(to);
    if (!a || !b) continue;
    let d;
    if (cls === "bus-in") {
      // Broker's left side, the left bus, the link's left side.
      const xb = left - BUS / 2;
      d = bus([[a.x, a.y + a.h / 2], [xb, a.y + a.h / 2], [xb, b.y + b.h / 2], [b.x, b.y + b.h / 2]]);
    } else if (cls === "bus-out") {
      // The link's right side, the right bus, the lane under the bottom row, the broker's bottom.
      const xb = right + BUS / 2;
      const bx = b.x + b.w / 2;
      d = bus([[a.x + a.w, a.y + a.h / 2], [xb, a.y + a.h / 2], [xb, lane], [bx, lane], [bx, b.y + b.h]]);
    } else if (cls.includes("down")) {
      const x1 = a.x + a.w / 2, y1 = a.y + a.h, x2 = b.x + b.w / 2, y2 = b.y;
      const dy = Math.max(20, (y2 - y1) / 2);
      d = `M${x1} ${y1}C${x1} ${y1 + dy},${x2} ${y2 - dy},${x2} ${y2}`;
    } else {
      const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2;
      const dx = Math.max(20, (x2 - x1) / 2);
      d = `M${x1} ${y1}C${x1 + dx} ${y1},${x2 - dx} ${y2},${x2} ${y2}`;
    }
    svgEl("path", { d, class: `edge ${cls}`, "marker-end": "url(#arrow)" }, edgeLayer);
  }

  const node = (id, cls, attrs, title) => {
    const b = boxes.get(id);
    const g = svgEl("g", { class: `node ${cls}`, transform: `translate(${b.x},${b.y})`, ...attrs }, nodeLayer);
    svgEl("title", {}, g).textContent = title;
    svgEl("rect", { width: b.w, height: b.h }, g);
    return { g, b };
  };

  for (const it of items) {
    if (it.record) {
      const r = it.record;
      const { g, b } = node(it.id, "record", { "data-record": r.key, tabindex: 0, role: "button" },
        `${r.key}: ${r.type} [${r.buffer}], written by ${r.writer}`);
      text(g, 10, 18, r.key, "key", 28);
      text(g, 10, 33, `${r.type} · ${buffer(r.buffer)}`, "small", 30);
      const value = text(g, 10, 50, "–", "value", 20);
      const rate = text(g, b.w - 10, 50, "", "rate small", 10, "end");
      g.addEventListener("click", () => onSelect(r.key));
      g.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onSelect(r.key); }
      });
      handles.records.set(r.key, { g, value, rate });
    } else if (it.source) {
      const r = it.source;
      const { g } = node(it.id, "source", { "data-source": r.key }, r.writer_detail ?? r.writer_kind ?? "source");
      text(g, 10, 17, `source: ${r.writer_kind ?? ""}`, "key", 24);
      text(g, 10, 32, r.writer_detail ?? "", "small", 26);
    } else if (it.transform) {
      const r = it.transform;
      const { g } = node(it.id, "transform", { "data-transform": r.key }, r.writer_detail ?? r.writer_kind ?? "transform");
      text(g, 10, 21, r.writer_kind ?? "transform", "key", 16);
    } else if (it.link) {
      const topic = topicOf(it.link.url);
      const { g } = node(it.id, "link", { "data-link": it.direction, "data-topic": topic },
        `${it.direction === "in" ? "link_from" : "link_to"} ${it.link.url} (${it.link.codec ?? ""}, qos ${it.link.qos ?? 0})`);
      text(g, 10, 17, `${it.direction === "in" ? "from" : "to"} ${topic}`, "", 27);
      const status = text(g, 10, 33, "", "small", 32);
      handles.links.push({ record: it.key, direction: it.direction, topic, g, status });
    }
  }
  if (hasLinks) {
    const { g } = node("broker", "infra", { "data-node": "broker" }, "the MQTT broker of [mqtt] url");
    text(g, 10, 17, "MQTT broker", "key");
    handles.broker = { g, status: text(g, 10, 33, "", "small", 30) };
  }
  if (persists) {
    const { g } = node("store", "infra", { "data-node": "store" }, "the history store ([store], SQLite)");
    text(g, 10, 17, "history store", "key");
    handles.store = { g, status: text(g, 10, 33, "", "small", 30) };
  }
  return handles;
}

/** An orthogonal path through `points` with rounded corners. */
function bus(points) {
  const r = 8;
  let d = `M${points[0][0]} ${points[0][1]}`;
  for (let i = 1; i < points.length - 1; i += 1) {
    const [px, py] = points[i - 1];
    const [x, y] = points[i];
    const [nx, ny] = points[i + 1];
    const into = Math.min(r, Math.hypot(x - px, y - py) / 2);
    const out = Math.min(r, Math.hypot(nx - x, ny - y) / 2);
    const ax = x - Math.sign(x - px) * into, ay = y - Math.sign(y - py) * into;
    const bx = x + Math.sign(nx - x) * out, by = y + Math.sign(ny - y) * out;
    d += `L${ax} ${ay}Q${x} ${y} ${bx} ${by}`;
  }
  const [lx, ly] = points[points.length - 1];
  return `${d}L${lx} ${ly}`;
}

/** A buffer as the node shows it: `spmc_ring(capacity=64)` → `spmc_ring(64)`. */
function buffer(b) {
  return String(b).replace(/\(capacity=(\d+)\)/, "($1)");
}

/** Marks `g` healthy, degraded or down (its border colour). */
export function setHealth(g, health) {
  g.classList.remove("ok", "warn", "down");
  if (health) g.classList.add(health);
}
