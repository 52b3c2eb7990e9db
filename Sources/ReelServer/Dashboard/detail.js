// One job: its actions, per-stage progress, conditions as a timeline, the scenes the analysis found over the
// source's length (with thumbnails), the assembled timeline and the render side by side, the chunks with signed
// links, the logs tailing live, what the analysis cost, and the VideoJob as YAML.
import { api, blobURL, events, jobPath } from "./api.js";
import { notFound, session } from "./app.js";
import { markRead, setTitle, watch, watching } from "./notify.js";
import { runAction } from "./jobs.js";
import { jobs } from "./store.js";
import {
  age, badge, bytes, clock, h, phaseLabel, phaseOf, progressBar, replace, seconds, terminal, toast, yaml,
} from "./ui.js";

const STAGES = [
  ["Ingested", "Ingest"], ["Split", "Split"], ["Analyzed", "Analyze"], ["TimelineAssembled", "Assemble"],
  ["Rendered", "Render"],
];
const LEVELS = ["debug", "info", "notice", "warning", "error", "critical"];

export async function show(main, uid) {
  await jobs.start();
  let job = jobs.get(uid);
  if (!job) {
    try {
      job = await jobs.refresh(uid);
    } catch (error) {
      if (error.code === 404) return notFound(main, `There is no job ${uid} in ${session.me.namespace}.`);
      throw error;
    }
  }
  markRead(uid);
  const section = (id, title, ...content) => h("section.card", { id, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title), ...content);
  const parts = {
    head: h("div.head.detail-head"),
    stages: h("div.stages"),
    conditions: h("ol.conditions"),
    strip: h("div.strip-area"),
    timeline: h("div.timeline-area"),
    render: h("div.render-area"),
    chunks: h("div.chunks-area"),
    logs: h("ol.logs", { id: "log-lines", "aria-label": "Log lines", tabindex: 0 }),
    usage: h("div.usage-area"),
    yaml: h("pre.yaml", { id: "job-yaml", tabindex: 0 }),
  };
  const level = h("select", { id: "log-level", onchange: () => drawLogs() },
    LEVELS.map((l) => h("option", { value: l, selected: l === "info" }, l)));
  const search = h("input", { id: "log-search", type: "search", placeholder: "Search the logs",
    oninput: () => drawLogs() });
  const follow = h("input", { type: "checkbox", id: "log-follow", checked: true });
  replace(main,
    parts.head,
    h("div.detail-grid", {},
      section("progress", "Progress", parts.stages, h("h3", {}, "Conditions"), parts.conditions),
      section("chunks", "Chunks", parts.chunks),
      section("media", "Scenes, timeline and render",
        parts.strip, h("div.side-by-side", {}, parts.timeline, parts.render)),
      section("logs", "Logs",
        h("div.toolbar", {}, h("label", { for: "log-level" }, "Level"), level,
          h("label", { for: "log-search" }, "Search"), search,
          h("label.inline", { for: "log-follow" }, follow, " Follow")),
        parts.logs),
      section("usage", "Analysis cost", parts.usage),
      section("yaml", "VideoJob", parts.yaml)));

  // The header, stages and conditions follow the store (the event stream).
  function drawStatus() {
    job = jobs.get(uid) || job;
    const name = job.spec?.title || job.metadata.name;
    setTitle(name);
    const actions = session.canWrite() ? h("div.actions", { role: "toolbar", "aria-label": "Job actions" },
      [["cancel", "Cancel", !terminal(phaseOf(job))], ["suspend", "Suspend", !terminal(phaseOf(job)) && !job.spec.suspend],
        ["resume", "Resume", job.spec.suspend && !job.spec.cancel], ["retry", "Retry", terminal(phaseOf(job))],
        ["delete", "Delete", true]]
        .filter(([, , shown]) => shown)
        .map(([id, label]) => h(`button.${id === "delete" ? "danger" : "secondary"}`, {
          type: "button", "data-action": id,
          onclick: async () => {
            const { ACTIONS } = await import("./jobs.js");
            const results = await runAction(ACTIONS.find((a) => a.id === id), [job]);
            const created = results?.[0]?.status === "fulfilled" ? results[0].value : null;
            if (created && id === "delete") location.hash = "#/jobs";
            else if (created && id === "retry") location.hash = `#/jobs/${created.metadata.uid}`;
            else if (created) jobs.refresh(uid).catch(() => {});
          },
        }, label))) : null;
    const star = h("button.star", { type: "button", "aria-pressed": watching(uid) ? "true" : "false",
      "aria-label": "Watch this job (sound and notification when it finishes)",
      onclick: () => { watch(uid, !watching(uid)); drawStatus(); } }, watching(uid) ? "★" : "☆");
    replace(parts.head,
      h("div", {}, h("h1", {}, name, " ", badge(job)),
        h("p.muted", {}, `${job.metadata.namespace}/${job.metadata.name} · created ${age(job.metadata.creationTimestamp)} ago`,
          job.spec.owner ? ` · ${job.spec.owner}` : "")),
      h("div.head-side", {}, progressBar(job.status?.progress, `${name}: ${job.status?.progress || 0}%`),
        h("span.pct", {}, `${job.status?.progress || 0}%`), star, actions));
    const conditions = job.status?.conditions || [];
    const chunks = job.status?.chunks;
    replace(parts.stages, STAGES.map(([type, label]) => {
      const c = conditions.find((x) => x.type === type);
      let value = c?.status === "True" ? 100 : 0;
      let note = c ? `${c.reason}: ${c.message}` : "waiting";
      if (type === "Analyzed" && chunks?.total && c?.status !== "True") {
        value = Math.floor((100 * chunks.analyzed) / chunks.total);
        note = `${chunks.analyzed} of ${chunks.total} chunks analyzed${chunks.failed ? `, ${chunks.failed} failed` : ""}`;
      }
      const state = c?.status === "True" ? "done" : c?.status === "False" ? "failed" : "pending";
      return h(`div.stage.${state}`, {}, h("span.stage-name", {}, label), progressBar(value, `${label}: ${value}%`),
        h("span.stage-note", {}, note));
    }));
    const sorted = [...conditions].sort((a, b) =>
      new Date(a.lastTransitionTime) - new Date(b.lastTransitionTime));
    replace(parts.conditions, sorted.map((c) => h(`li.cond.${c.status.toLowerCase()}`, {},
      h("time", { datetime: c.lastTransitionTime }, new Date(c.lastTransitionTime).toLocaleTimeString()),
      h("strong", {}, c.type), ` ${c.status} · ${c.reason}`, h("span.muted", {}, ` — ${c.message}`))));
    parts.yaml.textContent = yaml(job);
  }

  // Chunks, analysis, timeline and render: loaded now, and again when the job's outputs change.
  let outputsKey = null;
  async function drawOutputs(force = false) {
    const key = JSON.stringify([job.status?.outputs, job.status?.chunks, phaseOf(job)]);
    if (key === outputsKey && !force) return;
    outputsKey = key;
    try {
      const [page, analysis] = await Promise.all([api(`${jobPath(uid)}/chunks`), api(`${jobPath(uid)}/analysis`)]);
      drawChunks(page);
      drawRender(page.outputs);
      await drawTimeline(page.outputs);
      drawStrip(analysis, page.outputs);
      drawUsage(analysis);
    } catch (error) {
      if (error.code !== 404) toast(error.detail || error.message, "error");
    }
  }

  function drawChunks(page) {
    if (!page.items.length) {
      replace(parts.chunks, h("p.muted", {}, "No chunks yet."));
      return;
    }
    const refresh = h("button.secondary", { type: "button", id: "refresh-links", onclick: async () => {
      drawChunks(await api(`${jobPath(uid)}/chunks/refresh`, { method: "POST" }));
      toast("Links refreshed.");
    } }, "Refresh links");
    replace(parts.chunks, h("p.muted", {}, `Links expire ${new Date(page.items[0].expiresAt).toLocaleTimeString()}. `,
      refresh),
    h("div.scroll", {}, h("table.chunks", {},
      h("thead", {}, h("tr", {}, ["#", "Start", "Length", "Size", "SHA-256", "Scenes", ""].map((t) =>
        h("th", { scope: "col" }, t)))),
      h("tbody", {}, page.items.map((c) => h("tr", {},
        h("td", {}, c.index), h("td", {}, clock(c.start)), h("td", {}, `${c.duration.toFixed(2)} s`),
        h("td", {}, bytes(c.bytes)), h("td", {}, h("code", { title: c.sha256 }, c.sha256.slice(0, 12))),
        h("td", {}, c.analysis ? String(c.analysis.scenes) : "—"),
        h("td", {}, h("a", { href: c.url, download: `chunk-${c.index}.mp4` }, "Download"))))))));
  }

  let video = null;
  function drawStrip(analysis, outputs) {
    const duration = analysis.duration || analysis.chunks.reduce((end, c) => Math.max(end, c.start + c.duration), 0);
    if (!analysis.scenes.length || !duration) {
      replace(parts.strip, h("p.muted", {}, "The scenes appear here once the chunks are analyzed."));
      return;
    }
    const strip = h("div.strip", { id: "scene-strip", role: "list", "aria-label": `Scenes over ${seconds(duration)}` });
    const preview = h("figure.preview", { id: "scene-preview", "aria-live": "polite" });
    for (const [i, scene] of analysis.scenes.entries()) {
      const label = `Scene ${i + 1}: ${clock(scene.start)}–${clock(scene.end)}, importance ${
        scene.importance.toFixed(2)}${scene.labels.length ? `, ${scene.labels.join(", ")}` : ""}${
        rendered(scene) === null ? "" : ", in the timeline"}`;
      const item = h("button.scene", {
        type: "button", role: "listitem", title: label, "aria-label": label, "data-start": scene.start,
        style: { left: `${(100 * scene.start) / duration}%`, width: `${(100 * (scene.end - scene.start)) / duration}%`,
          opacity: String(0.35 + 0.65 * Math.max(0, Math.min(1, scene.importance))) },
        "data-in-timeline": rendered(scene) ? "true" : "false",
        onclick: () => {
          const at = rendered(scene);
          if (video && at !== null) { video.currentTime = at; video.play().catch(() => {}); }
        },
        onfocus: () => previewScene(scene, label), onmouseenter: () => previewScene(scene, label),
      });
      item.style.setProperty("--hue", String((i * 47) % 360));
      strip.append(item);
    }
    const cuts = [...new Set(analysis.cuts.map((t) => t.toFixed(3)))].map(Number).sort((a, b) => a - b);
    for (const cut of cuts) {
      strip.append(h("span.cut", { "data-time": cut, title: `cut at ${clock(cut)}`,
        style: { left: `${(100 * cut) / duration}%` } }));
    }
    const kept = analysis.scenes.filter((scene) => rendered(scene) !== null).length;
    replace(parts.strip,
      h("p.muted", {}, `${analysis.scenes.length} scenes, ${cuts.length} cuts over ${seconds(duration)}`
        + (renderClips.length ? ` · ${kept} in the timeline (marked) · select one to play it in the render` : "")),
      strip,
      h("div.axis", {}, h("span", {}, "0:00"), h("span", {}, clock(duration))),
      preview);
    previewScene(analysis.scenes[0], strip.firstChild.getAttribute("aria-label"));

    async function previewScene(scene, label) {
      const at = Math.min(duration, (scene.start + scene.end) / 2);
      try {
        const url = await thumbnail(at);
        replace(preview, h("img", { src: url, alt: `Frame at ${clock(at)}`, width: 160 }),
          h("figcaption", {}, label, scene.description ? ` — ${scene.description}` : ""));
      } catch (error) {
        replace(preview, h("figcaption", {}, label));
      }
    }
  }

  // Where a scene plays in the render (seconds), or null when the timeline left it out.
  let renderClips = [];
  function rendered(scene) {
    const clip = renderClips.find((c) => c.start < scene.end - 0.01 && c.end > scene.start + 0.01);
    return clip ? clip.offset + Math.max(0, scene.start - clip.start) : null;
  }

  const thumbnails = new Map();
  function thumbnail(at) {
    const key = at.toFixed(2);
    if (!thumbnails.has(key)) thumbnails.set(key, blobURL(`${jobPath(uid)}/thumbnails/${key}?width=160`));
    return thumbnails.get(key);
  }

  async function drawTimeline(outputs) {
    renderClips = [];
    const downloads = [["timeline", "JSON"], ["otio", "OTIO"], ["edl", "EDL"]].filter(([k]) => outputs[k]);
    if (!downloads.length) {
      replace(parts.timeline, h("h3", {}, "Timeline"), h("p.muted", {}, "Not assembled yet."));
      return;
    }
    const links = h("p.downloads", {}, downloads.map(([k, label]) => outputs[k].url
      ? h("a.button.secondary", { href: outputs[k].url, download: "" }, label)
      : h("span.muted", { title: outputs[k].uri }, `${label}: ${outputs[k].uri}`)));
    let clips = null;
    if (outputs.timeline?.url) {
      try { clips = await (await fetch(outputs.timeline.url)).json(); } catch { clips = null; }
    }
    // A clip starts in the render where the clips before it end.
    let at = 0;
    renderClips = [];
    const items = (clips?.clips || []).map((c) => {
      const offset = at;
      at += c.end - c.start;
      renderClips.push({ start: c.start, end: c.end, offset });
      return h("li", {}, h("button.link", { type: "button", title: `Play the render from ${clock(offset)}`,
        onclick: () => { if (video) { video.currentTime = offset; video.play().catch(() => {}); } } },
      `${clock(c.start)}–${clock(c.end)}`), ` ${c.description || ""}`);
    });
    replace(parts.timeline, h("h3", {}, "Timeline"), links, clips ? h("ol.clips", { id: "timeline-clips" }, items) : null,
    clips ? h("p.muted", {}, `${clips.clips.length} clips, ${seconds(clips.clips.reduce((s, c) => s + c.end - c.start, 0))}`
      + ` (${clips.strategy})`) : null);
  }

  function drawRender(outputs) {
    if (!outputs.render) {
      video = null;
      replace(parts.render, h("h3", {}, "Render"), h("p.muted", {},
        job.spec.render?.enabled === false ? "Rendering is off for this job." : "Not rendered yet."));
      return;
    }
    if (!outputs.render.url) {
      replace(parts.render, h("h3", {}, "Render"), h("p.muted", {}, outputs.render.uri));
      return;
    }
    if (video && video.dataset.uri === outputs.render.uri) return;
    video = h("video", { id: "render", controls: true, preload: "metadata", src: outputs.render.url,
      "data-uri": outputs.render.uri, "aria-label": "The render" });
    replace(parts.render, h("h3", {}, "Render"), video,
      h("p", {}, h("a", { href: outputs.render.url, download: "render.mp4" }, "Download the render")));
  }

  function drawUsage(analysis) {
    const usage = analysis.usage;
    const gemini = job.spec.analysis?.provider === "gemini";
    if (!gemini && !usage.requests) {
      replace(parts.usage, h("p.muted", {}, "The local scene analyzer costs no tokens."));
      return;
    }
    replace(parts.usage,
      h("p", {}, `${usage.promptTokens.toLocaleString()} prompt tokens, ${usage.outputTokens.toLocaleString()} `
        + `output tokens, ${usage.requests} requests`),
      h("div.scroll", {}, h("table.ledger", { "aria-label": "Cost per chunk" },
        h("thead", {}, h("tr", {}, ["Chunk", "Model", "Prompt tokens", "Output tokens", "Requests"].map((t) =>
          h("th", { scope: "col" }, t)))),
        h("tbody", {}, analysis.chunks.map((c) => h("tr", {}, h("td", {}, c.index), h("td", {}, c.model || "—"),
          h("td", {}, c.usage.promptTokens.toLocaleString()), h("td", {}, c.usage.outputTokens.toLocaleString()),
          h("td", {}, c.usage.requests)))))));
  }

  // Logs: the last lines, then the stream (types=log for this job); filtered by level and text in the page.
  let lines = [];
  const seen = new Set();
  function addLines(items) {
    let late = false;
    for (const line of items) {
      if (seen.has(line.id)) continue;
      seen.add(line.id);
      late ||= lines.length > 0 && lines[lines.length - 1].id > line.id;
      lines.push(line);
    }
    if (late) lines.sort((a, b) => a.id - b.id);
    if (lines.length > 5000) lines = lines.slice(-5000);
    drawLogs();
  }
  function drawLogs() {
    const floor = LEVELS.indexOf(level.value);
    const text = search.value.trim().toLowerCase();
    const shown = lines.filter((l) => LEVELS.indexOf(l.level) >= floor
      && (!text || l.message.toLowerCase().includes(text))).slice(-1000);
    replace(parts.logs, shown.length ? shown.map((l) => h(`li.log.${l.level}`, {},
      h("time", { datetime: l.time }, new Date(l.time).toLocaleTimeString()), h("span.level", {}, l.level),
      l.stage ? h("span.where", {}, `${l.stage}${l.chunk !== undefined && l.chunk !== null ? ` #${l.chunk}` : ""}`) : null,
      h("span.message", {}, l.message))) : h("li.muted", {}, "No log lines match."));
    if (follow.checked) parts.logs.scrollTop = parts.logs.scrollHeight;
  }
  const stopLogs = events(`types=log&job=${encodeURIComponent(uid)}`, (type, event) => {
    const d = event.data;
    addLines([{ id: d.id, time: d.time, level: d.level, message: d.message, stage: d.fields?.stage,
      chunk: d.fields?.chunk }]);
  });
  api(`${jobPath(uid)}/logs?limit=2000`).then((page) => addLines(page.items)).catch(() => {});

  drawStatus();
  drawOutputs();
  const stop = jobs.listen((changed) => {
    if (changed && changed !== uid) return;
    if (!jobs.get(uid)) {
      notFound(main, `Job ${job.metadata.name} was deleted.`);
      return;
    }
    drawStatus();
    drawOutputs();
    markRead(uid);
  });
  return () => { stop(); stopLogs(); for (const url of thumbnails.values()) url.then(URL.revokeObjectURL, () => {}); };
}
