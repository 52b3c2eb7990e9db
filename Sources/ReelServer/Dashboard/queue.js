// The queue and its workers: tasks waiting per stage over the last 15 minutes (a chart seeded from
// /api/queue/history and extended by the stream's queue.stats ticks), throughput, the oldest ready task per
// stage, the workers with their heartbeat and current tasks, and (admins) pool scaling and draining.
import { api, events } from "./api.js";
import { session } from "./app.js";
import { setTitle } from "./notify.js";
import { age, h, replace, seconds, toast } from "./ui.js";

const STAGES = ["ingest", "split", "analyze", "assemble", "render"];
const WINDOW = 15 * 60 * 1000;
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attributes = {}) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  return element;
}

export async function show(main) {
  setTitle("Queue");
  const points = [];  // {time, stages: {stage: {waiting, running}}}
  let stats = null;
  let pools = null;  // the pool names the workers report, offered by the scaling form
  const chart = h("figure.chart", { id: "queue-chart" });
  const numbers = h("div.numbers-grid", { id: "queue-numbers" });
  const workers = h("div", { id: "workers" });
  const scaling = session.isAdmin() ? scaleForm() : null;
  replace(main, h("div.head", {}, h("h1", {}, "Queue and workers")),
    h("div.detail-grid", {},
      h("section.card", { "aria-labelledby": "chart-title" },
        h("h2", { id: "chart-title" }, "Tasks waiting or running, last 15 minutes"), chart),
      h("section.card", { "aria-labelledby": "numbers-title" }, h("h2", { id: "numbers-title" }, "Now"), numbers),
      h("section.card.wide", { "aria-labelledby": "workers-title" }, h("h2", { id: "workers-title" }, "Workers"),
        workers, scaling)));

  function drawChart() {
    const width = 640;
    const height = 220;
    const pad = { left: 36, right: 8, top: 8, bottom: 22 };
    const now = Date.now();
    const recent = points.filter((p) => now - p.time <= WINDOW);
    const depth = (p, stage) => (p.stages[stage]?.waiting || 0) + (p.stages[stage]?.running || 0);
    const max = Math.max(1, ...recent.flatMap((p) => STAGES.map((s) => depth(p, s))));
    const x = (t) => pad.left + ((width - pad.left - pad.right) * (t - (now - WINDOW))) / WINDOW;
    const y = (v) => height - pad.bottom - ((height - pad.top - pad.bottom) * v) / max;
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": `Tasks per stage over the last 15 minutes; at most ${max}` });
    for (const v of [0, Math.ceil(max / 2), max]) {
      root.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: "grid" }));
      const label = svg("text", { x: pad.left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" });
      label.textContent = String(v);
      root.append(label);
    }
    for (const minutes of [15, 10, 5, 0]) {
      const label = svg("text", { x: x(now - minutes * 60000), y: height - 6, "text-anchor": "middle", class: "tick" });
      label.textContent = minutes ? `-${minutes}m` : "now";
      root.append(label);
    }
    for (const [i, stage] of STAGES.entries()) {
      if (!recent.length) break;
      const path = recent.map((p, j) => `${j ? "L" : "M"}${x(p.time).toFixed(1)},${y(depth(p, stage)).toFixed(1)}`);
      root.append(svg("path", { d: path.join(""), class: `series s${i}` }));
    }
    const legend = h("figcaption.legend", {}, STAGES.map((stage, i) => h("span", {}, h(`i.swatch.s${i}`), stage)));
    const last = recent[recent.length - 1];
    const table = h("table.sr", {}, h("caption", {}, "Now, per stage"),
      h("tbody", {}, STAGES.map((s) => h("tr", {}, h("th", { scope: "row" }, s), h("td", {}, last ? depth(last, s) : 0)))));
    replace(chart, root, legend, table);
  }

  function drawNumbers() {
    if (!stats) return;
    const count = (stage, states) => states.reduce((n, s) => n + (stats.stages[stage]?.[s] || 0), 0);
    replace(numbers,
      h("dl.kv", {},
        h("dt", {}, "Completed"), h("dd", { id: "throughput" },
          `${stats.completed.lastMinute} in the last minute · ${stats.completed.last5Minutes} in 5 · `
          + `${stats.completed.last15Minutes} in 15`),
        h("dt", {}, "Waiting by priority"), h("dd", {},
          ["urgent", "high", "normal", "low"].map((p) => `${p} ${stats.readyByPriority[p] || 0}`).join(" · "))),
      h("table", { "aria-label": "Per stage" },
        h("thead", {}, h("tr", {}, ["Stage", "Ready", "Running", "Failed", "Oldest ready"].map((t) =>
          h("th", { scope: "col" }, t)))),
        h("tbody", {}, STAGES.map((stage) => h("tr", {}, h("th", { scope: "row" }, stage),
          h("td", {}, count(stage, ["available", "retryable"])), h("td", {}, count(stage, ["running"])),
          h("td", {}, count(stage, ["discarded"])),
          h("td", {}, stats.oldestReadySeconds[stage] === undefined ? "—" : seconds(stats.oldestReadySeconds[stage])))))));
  }

  async function drawWorkers() {
    let list;
    try { list = (await api("/api/workers")).items; } catch (error) { toast(error.detail || error.message, "error"); return; }
    if (pools) replace(pools, [...new Set(list.map((w) => w.pool).filter(Boolean))].map((p) => h("option", { value: p })));
    if (!list.length) { replace(workers, h("p.muted", {}, "No workers have run lately.")); return; }
    replace(workers, h("div.scroll", {}, h("table.workers", { "aria-label": "Workers" },
      h("thead", {}, h("tr", {}, ["Worker", "Pool", "Stages", "State", "Heartbeat", "Current tasks", "Done", "Failed",
        session.isAdmin() ? "" : null].filter((t) => t !== null).map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, list.map((w) => h("tr", {},
        h("td", {}, h("code", { title: w.id }, w.id.slice(0, 12)), h("span.sub", {}, `${w.kind} ${w.hostname}:${w.pid}`)),
        h("td", {}, w.pool || "—"), h("td", {}, w.stages.join(", ")),
        h("td", {}, h(`span.badge.worker-${w.state}`, {}, w.state)),
        h("td", {}, `${age(w.lastHeartbeat)} ago`),
        h("td", {}, w.currentTasks.length ? w.currentTasks.map((t) => h("div", {},
          h("a", { href: `#/jobs/${t.job}` }, `${t.stage}${t.chunk === null || t.chunk === undefined ? "" : ` #${t.chunk}`}`)))
          : "—"),
        h("td", {}, w.tasksCompleted), h("td", {}, w.tasksFailed),
        session.isAdmin() ? h("td", {}, w.state === "running" ? h("button.secondary", { type: "button",
          onclick: async () => {
            try { await api("/api/workers", { method: "POST", body: { action: "drain", worker: w.id } }); toast("The worker will drain."); drawWorkers(); } catch (error) { toast(error.detail || error.message, "error"); }
          } }, "Drain") : "") : null))))));
  }

  function scaleForm() {
    const pool = h("input", { id: "scale-pool", required: true, placeholder: "analyze", list: "pool-names" });
    pools = h("datalist", { id: "pool-names" });
    const min = h("input", { id: "scale-min", type: "number", min: 0, max: 100, required: true, value: 1 });
    const max = h("input", { id: "scale-max", type: "number", min: 0, max: 100, required: true, value: 4 });
    return h("form.scale", {
      "aria-labelledby": "scale-title",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await api("/api/workers", { method: "POST", body: { action: "scale", pool: pool.value.trim(),
            minReplicas: Number(min.value), maxReplicas: Number(max.value) } });
          toast(`Pool ${pool.value} scaled to ${min.value}–${max.value}.`);
        } catch (error) { toast(error.detail || error.message, "error"); }
      },
    }, h("h3", { id: "scale-title" }, "Scale a pool"),
    h("label", { for: "scale-pool" }, "WorkerPool"), pool, h("label", { for: "scale-min" }, "Min"), min,
    h("label", { for: "scale-max" }, "Max"), max, h("button", { type: "submit" }, "Scale"), pools);
  }

  try {
    const history = await api("/api/queue/history?minutes=15&step=15");
    for (const p of history.points) points.push({ time: new Date(p.time).getTime(), stages: p.stages });
    stats = await api("/api/queue/stats");
  } catch (error) { toast(error.detail || error.message, "error"); }
  drawChart();
  drawNumbers();
  drawWorkers();
  const stop = events("types=queue.stats", (type, event) => {
    stats = event;
    const stages = {};
    for (const stage of STAGES) {
      const s = event.stages[stage] || {};
      stages[stage] = { waiting: (s.available || 0) + (s.retryable || 0), running: s.running || 0 };
    }
    points.push({ time: Date.now(), stages });
    while (points.length && Date.now() - points[0].time > WINDOW) points.shift();
    drawChart();
    drawNumbers();
  });
  const workersTimer = setInterval(drawWorkers, 5000);
  return () => { stop(); clearInterval(workersTimer); };
}
