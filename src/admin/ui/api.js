// Requests of the page: relative URLs only (so it works on whatever origin serves it, an SSH
// tunnel included), the bearer token from sessionStorage on every request, and a token prompt
// whenever the endpoint answers 401. The access rules are the endpoint's, unchanged.

const TOKEN_KEY = "aimdbd.token";

/** The promise the requests waiting for a token share, while the prompt is shown. */
let asking = null;

function withToken(init = {}) {
  const headers = new Headers(init.headers);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  return { ...init, headers, cache: "no-store" };
}

/** Shows the token form with `message`; resolves once a token was entered. */
function askToken(message) {
  if (!asking) {
    const form = document.getElementById("token-form");
    const input = document.getElementById("token");
    document.getElementById("token-error").textContent = message;
    form.hidden = false;
    input.focus();
    asking = new Promise((resolve) => {
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        input.value = "";
        form.hidden = true;
        asking = null;
        resolve();
      }, { once: true });
    });
  }
  return asking;
}

/** `fetch(path, init)` with the token; on 401 asks for the token and sends the request again. */
export async function request(path, init = {}) {
  for (;;) {
    const res = await fetch(path, withToken(init));
    if (res.status !== 401) return res;
    await askToken(await errorOf(res));
  }
}

/** The `error` of a JSON error answer, else its status line. */
export async function errorOf(res) {
  try {
    const body = await res.json();
    if (body && typeof body.error === "string") return body.error;
  } catch { /* not JSON */ }
  return `HTTP ${res.status} ${res.statusText}`;
}

/** GET `path` as JSON; throws with the endpoint's message unless it answers 2xx. */
export async function getJson(path) {
  const res = await request(path);
  if (!res.ok) throw new Error(`${path}: ${await errorOf(res)}`);
  return res.json();
}

/** GET `path` as text, whatever the status: `{status, text}`. */
export async function getText(path) {
  const res = await request(path);
  return { status: res.status, text: await res.text() };
}

/** POST `value` as JSON to `path`: `{ok, message}`. */
export async function postJson(path, value) {
  const res = await request(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(value),
  });
  return { ok: res.ok, message: res.ok ? "sent" : await errorOf(res) };
}

/** The samples of a Prometheus text page: `[{name, labels, value}]`. */
export function parseMetrics(text) {
  const samples = [];
  const line = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
  const label = /(\w+)="((?:[^"\\]|\\.)*)"/g;
  for (const l of text.split("\n")) {
    if (l.startsWith("#")) continue;
    const m = line.exec(l);
    if (!m) continue;
    const labels = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(label)) {
      labels[k] = v.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}
