// Small helpers shared by the views: elements, formatting, badges, toasts and the confirmation dialog.

// An element: h("a.link", {href}, children…). Attributes starting with "on" are listeners; text is escaped.
export function h(tag, attributes = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const element = document.createElement(name || "div");
  if (classes.length) element.className = classes.join(" ");
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "style") Object.assign(element.style, value);
    else if (key in element && typeof value !== "string") element[key] = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export function bytes(n) {
  if (n === undefined || n === null) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let value = n;
  while (value >= 1000 && i < units.length - 1) { value /= 1000; i += 1; }
  return `${value.toFixed(value >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

export function seconds(s) {
  if (s === undefined || s === null || !Number.isFinite(s)) return "—";
  const whole = Math.max(0, Math.round(s));
  const m = Math.floor(whole / 60);
  const h = Math.floor(m / 60);
  if (h) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  if (m) return `${m}m ${String(whole % 60).padStart(2, "0")}s`;
  return `${whole}s`;
}

// A media time: 1:02.5
export function clock(s) {
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}

export function age(time, now = Date.now()) {
  if (!time) return "—";
  const delta = (now - new Date(time).getTime()) / 1000;
  if (delta < 60) return `${Math.max(0, Math.floor(delta))}s`;
  if (delta < 3600) return `${Math.floor(delta / 60)}m`;
  if (delta < 86400) return `${Math.floor(delta / 3600)}h`;
  return `${Math.floor(delta / 86400)}d`;
}

export const phaseOf = (job) => job.status?.phase || "Pending";
export const terminal = (phase) => phase === "Succeeded" || phase === "Failed" || phase === "Expired";
export const succeededCondition = (job) => (job.status?.conditions || []).find((c) => c.type === "Succeeded");

// What a person calls the phase: a cancelled job is Failed with the reason Cancelled.
export function phaseLabel(job) {
  const phase = phaseOf(job);
  if (phase === "Failed" && succeededCondition(job)?.reason === "Cancelled") return "Cancelled";
  return phase;
}

export function badge(job) {
  const label = phaseLabel(job);
  return h(`span.badge.phase-${label.toLowerCase()}`, {}, label);
}

export function progressBar(value, label) {
  const percent = Math.max(0, Math.min(100, value || 0));
  return h("progress", { max: 100, value: percent, "aria-label": label || `${percent}%` });
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h(`div.toast.${kind}`, { role: kind === "error" ? "alert" : null }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 9000 : 4000);
}

// Asks before a destructive action; resolves true when confirmed.
export function confirmAction(title, text, action = "Confirm") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = action;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

// The VideoJob as YAML (what `kubectl get -o yaml` would print).
export function yaml(value, indent = "") {
  const scalar = (v) => {
    if (v === null || v === undefined) return "null";
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    const text = String(v);
    return /^[\w./:@+-][\w ./:@+-]*$/.test(text) && !/^(true|false|null|yes|no|on|off|~|[-+.\d][\d.eE+-]*)$/i.test(text)
      && !text.endsWith(" ") ? text : JSON.stringify(text);
  };
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return value.map((item) => {
      if (item && typeof item === "object" && Object.keys(item).length) {
        const body = yaml(item, `${indent}  `).replace(/^\s+/, "");
        return `${indent}- ${body}`;
      }
      return `${indent}- ${yaml(item, `${indent}  `)}`;
    }).join("\n");
  }
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (!keys.length) return "{}";
    return keys.map((key) => {
      const item = value[key];
      const nested = item && typeof item === "object" && (Array.isArray(item) ? item.length : Object.keys(item).length);
      if (nested) return `${indent}${key}:\n${yaml(item, `${indent}  `)}`;
      return `${indent}${key}: ${yaml(item, `${indent}  `)}`;
    }).join("\n");
  }
  return scalar(value);
}
