// The job list: live (the store follows the event stream), filtered by phase and text, sorted, with bulk
// actions on a selection — cancel, suspend, resume, retry (resubmit), delete — each confirmed first.
import { deleteJob, patchJob, resubmit } from "./api.js";
import { session } from "./app.js";
import { setSound, setTitle, soundOn, watch, watching } from "./notify.js";
import { jobs } from "./store.js";
import { age, badge, confirmAction, h, phaseLabel, phaseOf, progressBar, replace, terminal, toast } from "./ui.js";

const PHASES = ["Pending", "Ingesting", "Splitting", "Analyzing", "Assembling", "Rendering", "Succeeded", "Failed",
  "Cancelled", "Suspended", "Expired"];
const SORTS = {
  newest: (a, b) => created(b) - created(a) || cmp(b.metadata.uid, a.metadata.uid),
  oldest: (a, b) => created(a) - created(b) || cmp(a.metadata.uid, b.metadata.uid),
  title: (a, b) => cmp(title(a).toLowerCase(), title(b).toLowerCase()),
  progress: (a, b) => (b.status?.progress || 0) - (a.status?.progress || 0),
  phase: (a, b) => PHASES.indexOf(phaseLabel(a)) - PHASES.indexOf(phaseLabel(b)),
};
const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const created = (job) => new Date(job.metadata.creationTimestamp || 0).getTime();
const title = (job) => job.spec?.title || job.metadata.name;

// Which bulk actions apply to a job.
export const ACTIONS = [
  { id: "cancel", label: "Cancel", verb: "cancel", applies: (j) => !terminal(phaseOf(j)),
    run: (j) => patchJob(j.metadata.uid, { spec: { cancel: true } }) },
  { id: "suspend", label: "Suspend", verb: "suspend", applies: (j) => !terminal(phaseOf(j)) && !j.spec.suspend,
    run: (j) => patchJob(j.metadata.uid, { spec: { suspend: true } }) },
  { id: "resume", label: "Resume", verb: "resume", applies: (j) => j.spec.suspend && !j.spec.cancel,
    run: (j) => patchJob(j.metadata.uid, { spec: { suspend: false } }) },
  { id: "retry", label: "Retry", verb: "resubmit", applies: (j) => terminal(phaseOf(j)), run: (j) => resubmit(j) },
  { id: "delete", label: "Delete", verb: "delete", danger: true, applies: () => true,
    run: (j) => deleteJob(j.metadata.uid) },
];

// Runs `action` on the selected jobs it applies to, after a confirmation; reports what failed. Returns each
// job's settled result (null when nothing ran).
export async function runAction(action, selected) {
  const targets = selected.filter(action.applies);
  if (!targets.length) { toast(`None of the selected jobs can be ${action.verb}d.`); return null; }
  const names = targets.slice(0, 5).map(title).join(", ") + (targets.length > 5 ? ", …" : "");
  const ok = await confirmAction(`${action.label} ${targets.length} job${targets.length > 1 ? "s" : ""}?`,
    `${names}${action.id === "delete" ? ". Their outputs and stored chunks are removed." : ""}`, action.label);
  if (!ok) return null;
  const results = await Promise.allSettled(targets.map((job) => action.run(job)));
  const failed = results.map((r, i) => [r, targets[i]]).filter(([r]) => r.status === "rejected");
  for (const [result, job] of failed) toast(`${title(job)}: ${result.reason.detail || result.reason.message}`, "error");
  const done = targets.length - failed.length;
  if (done) toast(`${action.label}: ${done} job${done > 1 ? "s" : ""} done.`);
  if (action.id === "retry") for (const r of results) if (r.status === "fulfilled") watch(r.value.metadata.uid);
  return results;
}

export async function show(main) {
  setTitle("Jobs");
  const selected = new Set();
  const rows = new Map();
  const state = { phase: "", text: "", sort: "newest" };
  const writer = session.canWrite();

  const status = h("p.muted.live", { "aria-live": "polite" }, "Loading jobs…");
  const filterPhase = h("select", { id: "filter-phase", onchange: (e) => { state.phase = e.target.value; render(); } },
    h("option", { value: "" }, "Every phase"), PHASES.map((p) => h("option", { value: p }, p)));
  const filterText = h("input", { id: "filter-text", type: "search", placeholder: "Title or name",
    oninput: (e) => { state.text = e.target.value.trim().toLowerCase(); render(); } });
  const sort = h("select", { id: "sort", onchange: (e) => { state.sort = e.target.value; render(); } },
    Object.keys(SORTS).map((key) => h("option", { value: key }, key[0].toUpperCase() + key.slice(1))));
  const sound = h("input", { type: "checkbox", id: "sound", checked: soundOn(),
    onchange: (e) => setSound(e.target.checked) });
  const notify = "Notification" in window && Notification.permission === "default"
    ? h("button.secondary", { type: "button", id: "notify",
      onclick: async (e) => { await Notification.requestPermission(); e.target.remove(); } }, "Desktop notifications")
    : null;
  const count = h("span.count", { id: "selected-count" }, "");
  const bulk = h("div.bulk", { role: "toolbar", "aria-label": "Actions on the selected jobs", hidden: !writer },
    count,
    ACTIONS.map((action) => h(`button${action.danger ? ".danger" : ".secondary"}`, {
      type: "button", "data-action": action.id, disabled: true,
      onclick: async () => {
        const chosen = [...selected].map((uid) => jobs.get(uid)).filter(Boolean);
        if (await runAction(action, chosen)) { selected.clear(); render(); }
      },
    }, action.label)));
  const all = h("input", { type: "checkbox", id: "select-all", "aria-label": "Select every job shown",
    onchange: (e) => {
      for (const job of visible()) if (e.target.checked) selected.add(job.metadata.uid); else selected.delete(job.metadata.uid);
      render();
    } });
  const body = h("tbody", { id: "job-rows" });
  const table = h("table.jobs", { "aria-label": "Jobs" },
    h("thead", {}, h("tr", {},
      writer ? h("th.check", { scope: "col" }, all) : null,
      h("th", { scope: "col" }, "Job"),
      h("th.phase", { scope: "col" }, "Phase"),
      h("th.progress", { scope: "col" }, "Progress"),
      h("th.age", { scope: "col" }, "Age"),
      h("th.owner", { scope: "col" }, "Owner"),
      h("th.watch", { scope: "col" }, h("span.sr", {}, "Watch")))),
    body);

  replace(main,
    h("div.head", {}, h("h1", {}, "Jobs"), writer ? h("a.button", { href: "#/upload" }, "Upload videos") : null),
    h("div.toolbar", {},
      h("label", { for: "filter-text" }, "Search"), filterText,
      h("label", { for: "filter-phase" }, "Phase"), filterPhase,
      h("label", { for: "sort" }, "Sort"), sort,
      h("label.inline", { for: "sound" }, sound, " Sound when a watched job finishes"),
      notify),
    bulk, status, h("div.scroll", {}, table));

  function visible() {
    return jobs.all().filter((job) => (!state.phase || phaseLabel(job) === state.phase)
      && (!state.text || title(job).toLowerCase().includes(state.text)
        || job.metadata.name.toLowerCase().includes(state.text)))
      .sort(SORTS[state.sort]);
  }

  function row(job) {
    const uid = job.metadata.uid;
    const check = writer ? h("input", { type: "checkbox", "aria-label": `Select ${title(job)}`,
      onchange: (e) => { if (e.target.checked) selected.add(uid); else selected.delete(uid); updateBulk(); } }) : null;
    const star = h("button.star", { type: "button", onclick: () => { watch(uid, !watching(uid)); fill(); } });
    const cells = {
      check, star,
      name: h("td.name", {}),
      phase: h("td.phase", {}),
      progress: h("td.progress", {}),
      age: h("td.age", {}),
      owner: h("td.owner", {}),
    };
    const tr = h("tr", { "data-uid": uid }, writer ? h("td.check", {}, check) : null, cells.name, cells.phase,
      cells.progress, cells.age, cells.owner, h("td.watch", {}, star));
    function fill() {
      const current = jobs.get(uid) || job;
      replace(cells.name, h("a", { href: `#/jobs/${uid}` }, title(current)),
        h("span.sub", {}, current.metadata.name));
      replace(cells.phase, badge(current));
      const value = current.status?.progress || 0;
      replace(cells.progress, progressBar(value, `${title(current)}: ${value}%`), h("span.pct", {}, `${value}%`));
      cells.age.textContent = age(current.metadata.creationTimestamp);
      cells.owner.textContent = current.spec?.owner || "—";
      const on = watching(uid);
      star.textContent = on ? "★" : "☆";
      star.setAttribute("aria-pressed", on ? "true" : "false");
      star.setAttribute("aria-label", `Watch ${title(current)}`);
      if (check) check.checked = selected.has(uid);
    }
    fill();
    return { tr, fill };
  }

  function updateBulk() {
    const chosen = [...selected].map((uid) => jobs.get(uid)).filter(Boolean);
    count.textContent = chosen.length ? `${chosen.length} selected` : "Select jobs for bulk actions";
    for (const action of ACTIONS) {
      bulk.querySelector(`[data-action=${action.id}]`).disabled = !chosen.some(action.applies);
    }
  }

  function render() {
    const list = visible();
    for (const uid of [...selected]) if (!jobs.get(uid)) selected.delete(uid);
    const fragment = document.createDocumentFragment();
    for (const job of list) {
      let entry = rows.get(job.metadata.uid);
      if (!entry) { entry = row(job); rows.set(job.metadata.uid, entry); } else entry.fill();
      fragment.append(entry.tr);
    }
    for (const uid of rows.keys()) if (!jobs.get(uid)) rows.delete(uid);
    body.replaceChildren(fragment);
    if (!list.length) {
      body.append(h("tr.empty", {}, h("td", { colSpan: 7 },
        jobs.all().length ? "No job matches." : "No jobs yet. Upload a video to start one.")));
    }
    const total = jobs.all().length;
    status.textContent = `${list.length} of ${total} job${total === 1 ? "" : "s"}`
      + (jobs.live ? " · live" : " · reconnecting…");
    all.checked = list.length > 0 && list.every((job) => selected.has(job.metadata.uid));
    updateBulk();
  }

  // One change: update its row in place when the order cannot change, else render again (batched per frame).
  let scheduled = false;
  const stop = jobs.listen((uid) => {
    const entry = uid && rows.get(uid);
    if (entry && jobs.get(uid) && state.sort !== "phase" && state.sort !== "progress" && !state.phase) {
      entry.fill();
      updateBulk();
      return;
    }
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => { scheduled = false; render(); });
  });
  const ticker = setInterval(() => {
    for (const [uid, entry] of rows) {
      const job = jobs.get(uid);
      if (job) entry.tr.querySelector("td.age").textContent = age(job.metadata.creationTimestamp);
    }
  }, 15000);
  await jobs.start();
  render();
  // When the first full list is on screen (read by `hack/check-dashboard.py --bench-jobs`).
  if (!performance.getEntriesByName("reel:jobs-listed").length) performance.mark("reel:jobs-listed");
  return () => { stop(); clearInterval(ticker); };
}
