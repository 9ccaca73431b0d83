// A small line chart (SVG polyline) of one record's recent values.

import { svgEl } from "./graph.js";

/** Field names that hold times or versions, not readings: skipped by firstNumber. */
const NOT_A_READING = /^(v|ts|time|timestamp)$|_ms$|_s$|^timestamp/;

/**
 * The first numeric field of a value, depth first in key order, skipping times and versions:
 * `{name, value}`, or null. A number is its own field (name "").
 */
export function firstNumber(v, name = "") {
  if (typeof v === "number" && Number.isFinite(v)) return { name, value: v };
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i += 1) {
      const n = firstNumber(v[i], `${name}[${i}]`);
      if (n) return n;
    }
  } else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === "number" && NOT_A_READING.test(k)) continue;
      const n = firstNumber(x, name ? `${name}.${k}` : k);
      if (n) return n;
    }
  }
  return null;
}

/** A number for a label: at most 4 significant digits past the point. */
export function fmt(n) {
  return Math.abs(n) >= 1000 ? n.toFixed(0) : String(Number(n.toPrecision(4)));
}

/** Draws `points` (`[[time_ms, y]]`, oldest first) into `svg`. */
export function drawChart(svg, points) {
  const W = 320, H = 120, L = 46, R = 6, T = 8, B = 16;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  if (!points.length) return;
  const t0 = points[0][0];
  const t1 = Math.max(points[points.length - 1][0], t0 + 1);
  let lo = Math.min(...points.map((p) => p[1]));
  let hi = Math.max(...points.map((p) => p[1]));
  if (hi === lo) { hi += 1; lo -= 1; }
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  svgEl("line", { x1: L, y1: T, x2: L, y2: H - B }, svg);
  svgEl("line", { x1: L, y1: H - B, x2: W - R, y2: H - B }, svg);
  svgEl("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, svg).textContent = fmt(hi);
  svgEl("text", { x: L - 4, y: H - B, "text-anchor": "end" }, svg).textContent = fmt(lo);
  const span = Math.round((t1 - t0) / 1000);
  const ago = span >= 120 ? `${Math.round(span / 60)} min` : `${span} s`;
  svgEl("text", { x: L, y: H - 3 }, svg).textContent = `−${ago}`;
  svgEl("text", { x: W - R, y: H - 3, "text-anchor": "end" }, svg).textContent = "last";
  svgEl("polyline", {
    points: points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" "),
  }, svg);
}
