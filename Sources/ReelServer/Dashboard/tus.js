// A tus 1.0.0 client for the browser (creation, checksum, termination): each file goes in chunks with a SHA-256
// the server checks; the upload's URL is remembered per file (name, size, modification time) in local storage,
// so picking the same file after a reload resumes where the server stands.
import { authHeaders, failure } from "./api.js";

const CHUNK = 8 * 1024 * 1024;
const STORE_KEY = "reel.uploads";

const remembered = () => JSON.parse(localStorage.getItem(STORE_KEY) || "{}");
function remember(fingerprint, url) {
  const all = remembered();
  if (url) all[fingerprint] = url; else delete all[fingerprint];
  localStorage.setItem(STORE_KEY, JSON.stringify(all));
}

const base64 = (text) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

export class Upload {
  // `options`: metadata (job options), onProgress(sent, total), onState(text).
  constructor(file, options) {
    this.file = file;
    this.options = options;
    this.url = null;
    this.offset = 0;
    this.paused = false;
    this.request = null;
    this.jobUID = null;
    this.fingerprint = `${file.name}|${file.size}|${file.lastModified}|${location.host}`;
  }

  get resumable() { return Boolean(remembered()[this.fingerprint]); }

  headers(extra = {}) { return authHeaders({ "Tus-Resumable": "1.0.0", ...extra }); }

  // Sends the file (or the rest of it); resolves with the final answer's headers.
  async start() {
    this.paused = false;
    if (!this.url) this.url = remembered()[this.fingerprint] || null;
    if (this.url) {
      const head = await fetch(this.url, { method: "HEAD", headers: this.headers(), cache: "no-store" });
      if (head.ok) {
        this.offset = Number(head.headers.get("Upload-Offset") || 0);
        this.options.onState?.(this.offset ? `resuming at ${Math.round((100 * this.offset) / this.file.size)}%` : "");
      } else if (head.status === 404 || head.status === 410) {
        remember(this.fingerprint, null);
        this.url = null;
      } else {
        // Says nothing of the upload (a proxy's 503 while the server restarts): keep it, so Retry resumes it.
        throw await failure(head);
      }
    }
    if (!this.url) await this.create();
    while (this.offset < this.file.size) {
      if (this.paused) return null;
      await this.send();
    }
    remember(this.fingerprint, null);
    return this.jobUID;
  }

  async create() {
    const metadata = { filename: this.file.name, filetype: this.file.type || "application/octet-stream",
      ...this.options.metadata };
    const encoded = Object.entries(metadata).filter(([, v]) => v !== undefined && v !== "")
      .map(([k, v]) => `${k} ${base64(String(v))}`).join(",");
    const response = await fetch("/api/uploads/", {
      method: "POST",
      headers: this.headers({ "Upload-Length": String(this.file.size), "Upload-Metadata": encoded }),
    });
    if (!response.ok) throw await failure(response);
    this.url = new URL(response.headers.get("Location"), location.href).pathname;
    this.offset = 0;
    remember(this.fingerprint, this.url);
  }

  // One chunk by XMLHttpRequest (fetch cannot report upload progress).
  async send() {
    const end = Math.min(this.file.size, this.offset + CHUNK);
    const chunk = this.file.slice(this.offset, end);
    const headers = this.headers({
      "Upload-Offset": String(this.offset), "Content-Type": "application/offset+octet-stream",
    });
    if (crypto.subtle) {
      const digest = await crypto.subtle.digest("SHA-256", await chunk.arrayBuffer());
      headers["Upload-Checksum"] = `sha256 ${btoa(String.fromCharCode(...new Uint8Array(digest)))}`;
    }
    const start = this.offset;
    const answer = await new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.request = xhr;
      xhr.open("PATCH", this.url);
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => this.options.onProgress?.(start + event.loaded, this.file.size);
      xhr.onload = () => resolve(xhr);
      xhr.onerror = () => reject(new Error("the connection failed"));
      xhr.onabort = () => resolve(null);
      xhr.send(chunk);
    });
    this.request = null;
    if (!answer) return;
    if (answer.status === 204) {
      this.offset = Number(answer.getResponseHeader("Upload-Offset"));
      this.jobUID = answer.getResponseHeader("Reel-Job-Id") || this.jobUID;
      this.options.onProgress?.(this.offset, this.file.size);
      return;
    }
    if (answer.status === 409 || answer.status === 460) {  // another offset, or a damaged chunk: ask where it is
      const head = await fetch(this.url, { method: "HEAD", headers: this.headers(), cache: "no-store" });
      if (head.ok) { this.offset = Number(head.headers.get("Upload-Offset") || 0); return; }
    }
    if (answer.status === 404 || answer.status === 410 || answer.status === 422) remember(this.fingerprint, null);
    throw await failure(new Response(answer.responseText || null, { status: answer.status,
      statusText: answer.statusText, headers: { "Content-Type": "application/json" } }));
  }

  pause() {
    this.paused = true;
    this.request?.abort();
  }

  // Stops and removes the upload from the server.
  async abort() {
    this.pause();
    if (this.url) {
      await fetch(this.url, { method: "DELETE", headers: this.headers() }).catch(() => {});
      remember(this.fingerprint, null);
    }
  }
}
