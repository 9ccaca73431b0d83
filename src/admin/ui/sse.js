// Server-sent events over fetch(): EventSource cannot send an Authorization header, so the
// stream is read like any other request (same token, same access rules) and parsed here.
// Lines end in "\n" or "\r\n" (what the endpoint sends); fields: event, data, id; comments
// (": ping") are skipped.

import { errorOf, request } from "./api.js";

/**
 * Reads the event stream at `path`, calling `onEvent(type, data, id)` for every event (`data`
 * is the text of its data lines joined by "\n"). Resolves when the server ends the stream;
 * rejects on an HTTP error or a broken connection. `signal` aborts it.
 */
export async function readEvents(path, onEvent, signal) {
  const res = await request(path, { headers: { Accept: "text/event-stream" }, signal });
  if (!res.ok || !res.body) throw new Error(`${path}: ${await errorOf(res)}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let type = "";
  let data = [];
  let id = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      let line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") {
        if (data.length) onEvent(type || "message", data.join("\n"), id);
        type = "";
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let val = colon < 0 ? "" : line.slice(colon + 1);
      if (val.startsWith(" ")) val = val.slice(1);
      if (field === "event") type = val;
      else if (field === "data") data.push(val);
      else if (field === "id") id = val;
    }
  }
}
