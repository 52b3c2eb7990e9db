// The dashboard's shell: login, navigation by URL fragment (#/jobs, #/jobs/UID, #/upload, #/queue), and what
// every view shares — the caller's token, the watched jobs, the completion sound, notifications, the unread badge.
import { clearToken, closeStreams, setToken, token, whenUnauthorized, whoami } from "./api.js";
import { h, replace } from "./ui.js";
import { setTitle } from "./notify.js";
import { jobs } from "./store.js";

const main = document.getElementById("main");

// What every view may use.
export const session = {
  me: null,
  canWrite: () => session.me && session.me.role !== "viewer",
  isAdmin: () => session.me && session.me.role === "admin",
};

function login(message) {
  session.me = null;
  document.getElementById("nav").hidden = true;
  replace(document.getElementById("who"));
  setTitle("Sign in");
  const input = h("input", {
    type: "password", id: "token", autocomplete: "current-password", required: true, spellcheck: false,
    "aria-describedby": "token-help",
  });
  const error = h("p.error", { role: "alert", id: "login-error" }, message || "");
  const form = h("form.card.login", {
    onsubmit: async (event) => {
      event.preventDefault();
      setToken(input.value.trim());
      await start();
    },
  },
  h("h1", {}, "Sign in to Reel"),
  h("label", { for: "token" }, "API token"),
  input,
  h("p.muted", { id: "token-help" }, "A token from ", h("code", {}, "reel token create --namespace NS --role editor"),
    ". It is kept in this tab only (session storage)."),
  error,
  h("button", { type: "submit" }, "Sign in"));
  replace(main, form);
  input.focus();
}

function renderWho() {
  const me = session.me;
  replace(document.getElementById("who"),
    h("span.muted", {}, `${me.namespace} · ${me.role}`),
    h("button.link", { type: "button", onclick: () => { clearToken(); jobs.stop(); login("Signed out."); } }, "Sign out"));
  const nav = document.getElementById("nav");
  nav.hidden = false;
  for (const link of nav.querySelectorAll("[data-role=editor]")) link.hidden = !session.canWrite();
}

let stopView = null;

async function route() {
  if (!session.me) return;
  if (stopView) { stopView(); stopView = null; }
  const path = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === (path[0] || "jobs")) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  let view;
  try {
    if (path[0] === "jobs" && path[1]) view = (await import("./detail.js")).show(main, decodeURIComponent(path[1]));
    else if (path[0] === "upload") view = (await import("./upload.js")).show(main);
    else if (path[0] === "queue") view = (await import("./queue.js")).show(main);
    else if (!path[0] || path[0] === "jobs") view = (await import("./jobs.js")).show(main);
    else view = notFound(main, `There is no page “${location.hash}”.`);
    stopView = await view;
  } catch (error) {
    console.warn(error);
    replace(main, h("p.error", { role: "alert" }, error.detail || error.message));
  }
  main.focus({ preventScroll: true });
}

export function notFound(target, text) {
  setTitle("Not found");
  replace(target, h("section.card.notfound", {},
    h("h1", {}, "Not found"),
    h("p", {}, text),
    h("p", {}, h("a", { href: "#/jobs" }, "Back to the jobs"))));
  return null;
}

async function start() {
  if (!token()) return login();
  try {
    session.me = await whoami();
  } catch (error) {
    clearToken();
    return login(error.code === 401 ? "That token was not accepted." : error.message);
  }
  renderWho();
  jobs.start();
  await route();
}

whenUnauthorized(() => { clearToken(); jobs.stop(); login("Your token is no longer accepted; sign in again."); });
window.addEventListener("hashchange", route);
// Leaving or reloading the page: close the event streams now (see closeStreams).
window.addEventListener("pagehide", closeStreams);
// Back from the browser's page cache, the streams are closed: start over.
window.addEventListener("pageshow", (event) => { if (event.persisted) location.reload(); });

// A link may carry the token (#token=…, as `hack/demo.sh` prints it): keep it in the tab, drop it from the URL.
const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
if (fragment.get("token")) {
  setToken(fragment.get("token"));
  history.replaceState(null, "", `${location.pathname}#/jobs`);
}
start();
