// The public REST API, with the token the login screen keeps in session storage.

const TOKEN_KEY = "reel.token";

export class APIError extends Error {
  constructor(code, reason, message, causes = []) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.causes = causes;
  }
  // The message with every field problem (a 422 lists them with their paths).
  get detail() {
    const causes = this.causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
    return [this.message, ...causes.filter((c) => !this.message.includes(c))].join("\n");
  }
}

export const token = () => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (value) => sessionStorage.setItem(TOKEN_KEY, value);
export const clearToken = () => sessionStorage.removeItem(TOKEN_KEY);

// Told when the server refuses the token (the app goes back to the login screen).
let onUnauthorized = () => {};
export const whenUnauthorized = (handler) => { onUnauthorized = handler; };

export function authHeaders(extra = {}) {
  const value = token();
  return value ? { Authorization: `Bearer ${value}`, ...extra } : { ...extra };
}

// The error a failed response carries (a Kubernetes Status), as an APIError.
export async function failure(response) {
  let status = {};
  try { status = await response.json(); } catch { /* not JSON */ }
  const error = new APIError(
    response.status, status.reason || response.statusText || "Error",
    status.message || `the server answered ${response.status}`, status.details?.causes || []);
  if (response.status === 401) onUnauthorized(error);
  return error;
}

// A request to the API: JSON in, JSON out (or the Response itself with `raw`).
export async function api(path, { method = "GET", body, headers = {}, raw = false, signal } = {}) {
  const init = { method, headers: authHeaders(headers), signal };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    if (!init.headers["Content-Type"]) init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new APIError(0, "Unreachable", `cannot reach the server: ${error.message}`);
  }
  if (!response.ok) throw await failure(response);
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

export const whoami = () => api("/api/whoami");

// Every job of the namespace (pages of 500), newest first.
export async function allJobs(query = "", limit = 10000) {
  const items = [];
  let next = "";
  do {
    const page = await api(`/api/jobs?limit=500${query}${next ? `&continue=${encodeURIComponent(next)}` : ""}`);
    items.push(...page.items);
    next = page.metadata?.continue || "";
  } while (next && items.length < limit);
  return items;
}

export const jobPath = (uid) => `/api/jobs/${encodeURIComponent(uid)}`;
export const patchJob = (uid, patch) =>
  api(jobPath(uid), { method: "PATCH", body: patch, headers: { "Content-Type": "application/merge-patch+json" } });
export const deleteJob = (uid) => api(jobPath(uid), { method: "DELETE" });

// Resubmits a job: a new VideoJob with the same spec (not cancelled, not suspended) and labels.
export async function resubmit(job) {
  const spec = structuredClone(job.spec);
  delete spec.cancel;
  spec.suspend = false;
  const base = job.metadata.name.replace(/-retry-[a-z0-9]+$/, "");
  return api("/api/jobs", {
    method: "POST",
    body: { metadata: { generateName: `${base.slice(0, 40)}-retry-`, labels: job.metadata.labels }, spec },
  });
}

// Server-Sent Events read through fetch (EventSource cannot send the token), reconnecting with Last-Event-ID so
// that nothing is missed. Returns a function that stops it.
const streams = new Set();

// Closes every event stream (the page is going: Chrome would otherwise keep their connections open after it,
// and six of them, its limit per host, stall the next loads).
export function closeStreams() {
  for (const controller of streams) controller.abort();
  streams.clear();
}

export function events(query, onEvent, { onOpen = () => {}, onDown = () => {} } = {}) {
  const controller = new AbortController();
  streams.add(controller);
  controller.signal.addEventListener("abort", () => streams.delete(controller));
  let lastID = null;
  let retry = 2000;
  const run = async () => {
    while (!controller.signal.aborted) {
      try {
        const headers = authHeaders({ Accept: "text/event-stream" });
        if (lastID !== null) headers["Last-Event-ID"] = lastID;
        const response = await fetch(`/api/events?${query}`, { headers, signal: controller.signal });
        if (!response.ok) {
          const error = await failure(response);
          if (response.status === 401 || response.status === 403) return;
          throw error;
        }
        onOpen();
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, "\n");
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let type = "message";
            const data = [];
            for (const line of frame.split("\n")) {
              if (line.startsWith(":")) continue;
              const colon = line.indexOf(":");
              const field = colon < 0 ? line : line.slice(0, colon);
              const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
              if (field === "event") type = text;
              else if (field === "data") data.push(text);
              else if (field === "id") lastID = text;
              else if (field === "retry" && /^\d+$/.test(text)) retry = Number(text);
            }
            if (data.length) {
              try { onEvent(type, JSON.parse(data.join("\n"))); } catch (error) { console.warn("event", error); }
            }
          }
        }
      } catch (error) {
        if (controller.signal.aborted) return;
      }
      if (controller.signal.aborted) return;
      onDown();
      await new Promise((resolve) => setTimeout(resolve, retry));
    }
  };
  run();
  return () => controller.abort();
}

// A stored object behind the token (a thumbnail) as an object URL.
export async function blobURL(path) {
  const response = await api(path, { raw: true });
  return URL.createObjectURL(await response.blob());
}
