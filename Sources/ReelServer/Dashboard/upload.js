// The uploader: drop or pick several files, choose the job's options, and watch each file go — progress, rate,
// ETA, pause and resume (tus; resumes after a reload when the same file is picked again), and errors where they
// happen (too large, not a video, refused).
import { api } from "./api.js";
import { session } from "./app.js";
import { setTitle, watch } from "./notify.js";
import { Upload } from "./tus.js";
import { bytes, h, replace, seconds, toast } from "./ui.js";

// The uploads of this page, kept while the user visits other views.
const items = [];

export async function show(main) {
  setTitle("Upload");
  if (!session.canWrite()) {
    replace(main, h("section.card", {}, h("h1", {}, "Upload"),
      h("p", {}, `Your token is a viewer of ${session.me.namespace}: it cannot upload.`)));
    return null;
  }
  const field = (id, label, control, help) => h("div.field", {}, h("label", { for: id }, label), control,
    help ? h("small.muted", { id: `${id}-help` }, help) : null);
  const select = (id, values, chosen) => h("select", { id }, values.map(([value, text]) =>
    h("option", { value, selected: value === chosen }, text)));
  const form = {
    title: h("input", { id: "opt-title", type: "text", placeholder: "The file's name", maxLength: 200 }),
    priority: select("opt-priority", [["urgent", "Urgent"], ["high", "High"], ["normal", "Normal"], ["low", "Low"]],
      "normal"),
    provider: select("opt-provider", [["local", "Local scene analyzer"], ["gemini", "Google Gemini"]], "local"),
    splitSeconds: h("input", { id: "opt-split", type: "number", min: 2, max: 600, value: 10,
      "aria-describedby": "opt-split-help" }),
    strategy: select("opt-strategy", [["scenes", "Every scene"], ["highlights", "Highlights"]], "scenes"),
    maxSeconds: h("input", { id: "opt-max", type: "number", min: 1, max: 36000, value: 60,
      "aria-describedby": "opt-max-help" }),
  };
  const input = h("input.visually-hidden", { type: "file", id: "files", multiple: true, accept: "video/*",
    onchange: (e) => { add([...e.target.files]); e.target.value = ""; } });
  const drop = h("label.drop", { for: "files",
    ondragover: (e) => { e.preventDefault(); drop.classList.add("over"); },
    ondragleave: () => drop.classList.remove("over"),
    ondrop: (e) => { e.preventDefault(); drop.classList.remove("over"); add([...e.dataTransfer.files]); },
  }, h("strong", {}, "Drop videos here"), h("span", {}, " or choose files"));
  const list = h("ul.uploads", { id: "upload-list", "aria-label": "Uploads" });
  const unfinished = h("div", { id: "unfinished" });

  replace(main,
    h("div.head", {}, h("h1", {}, "Upload videos")),
    h("div.upload-grid", {},
      h("section.card", { "aria-labelledby": "files-title" },
        h("h2", { id: "files-title" }, "Files"), input, drop, list, unfinished),
      h("section.card.options", { "aria-labelledby": "options-title" },
        h("h2", { id: "options-title" }, "Job options"),
        field("opt-title", "Title", form.title),
        field("opt-priority", "Priority", form.priority),
        field("opt-provider", "Analysis", form.provider),
        field("opt-split", "Chunk length (seconds)", form.splitSeconds, "Chunks are cut at keyframes near this."),
        field("opt-strategy", "Timeline", form.strategy),
        field("opt-max", "Longest timeline (seconds)", form.maxSeconds, "Highlights stop at this length."))));

  function options(file) {
    return {
      title: form.title.value.trim() || file.name, priority: form.priority.value, provider: form.provider.value,
      splitSeconds: form.splitSeconds.value, strategy: form.strategy.value, maxSeconds: form.maxSeconds.value,
    };
  }

  function add(files) {
    for (const file of files) {
      const item = { file, view: null, upload: new Upload(file, { metadata: options(file) }) };
      items.push(item);
      list.append(view(item).li);
      run(item);
    }
  }

  function view(item) {
    const bar = h("progress", { max: 100, value: 0, "aria-label": `${item.file.name} uploaded` });
    const numbers = h("span.numbers", {}, `0 / ${bytes(item.file.size)}`);
    const state = h("span.state", { role: "status" }, "waiting");
    const error = h("p.error", { role: "alert" });
    const pause = h("button.secondary", { type: "button", onclick: () => toggle(item) }, "Pause");
    const remove = h("button.link", { type: "button", onclick: async () => {
      await item.upload.abort();
      li.remove();
      items.splice(items.indexOf(item), 1);
    } }, "Remove");
    const li = h("li.upload", {}, h("div.line", {}, h("strong.file", {}, item.file.name), numbers, state),
      bar, h("div.line", {}, pause, remove), error);
    item.view = { li, bar, numbers, state, error, pause, remove, samples: [] };
    return item.view;
  }

  function progress(item, sent, total) {
    const v = item.view;
    const now = performance.now();
    v.samples.push([now, sent]);
    while (v.samples.length > 2 && now - v.samples[0][0] > 4000) v.samples.shift();
    const [t0, b0] = v.samples[0];
    const rate = now > t0 ? ((sent - b0) * 1000) / (now - t0) : 0;
    v.bar.value = total ? Math.floor((100 * sent) / total) : 0;
    v.numbers.textContent = `${bytes(sent)} / ${bytes(total)}`;
    v.state.textContent = rate > 0 ? `${bytes(rate)}/s · ETA ${seconds((total - sent) / rate)}` : "uploading";
  }

  async function run(item) {
    const v = item.view;
    item.upload.options.onProgress = (sent, total) => progress(item, sent, total);
    item.upload.options.onState = (text) => { if (text) v.state.textContent = text; };
    v.error.textContent = "";
    v.pause.textContent = "Pause";
    v.pause.disabled = false;
    v.state.textContent = "starting";
    try {
      const uid = await item.upload.start();
      if (item.upload.paused) return;
      v.bar.value = 100;
      v.pause.disabled = true;
      v.remove.textContent = "Clear";
      item.upload.url = null;
      if (uid) {
        watch(uid);
        replace(v.state, "uploaded · ", h("a", { href: `#/jobs/${uid}` }, "open its job"));
      } else {
        v.state.textContent = "uploaded";
      }
    } catch (error) {
      v.state.textContent = "stopped";
      v.error.textContent = error.detail || error.message;
      v.pause.textContent = "Retry";
      if ([413, 422, 400, 403].includes(error.code)) v.pause.disabled = true;
    }
  }

  function toggle(item) {
    if (item.upload.paused || item.view.pause.textContent !== "Pause") {
      run(item);
    } else {
      item.upload.pause();
      item.view.pause.textContent = "Resume";
      item.view.state.textContent = "paused";
    }
  }

  // Uploads already under way (this tab, or unfinished ones on the server: pick the same file to resume).
  for (const item of items) list.append(item.view.li);
  try {
    const pending = (await api("/api/uploads")).items?.filter((u) => u.state === "receiving");
    if (pending?.length) {
      replace(unfinished, h("h3", {}, "Unfinished uploads"),
        h("p.muted", {}, "Pick the same file again to resume where it stopped."),
        h("ul.plain", {}, pending.map((u) => h("li", {}, `${u.filename || u.id}: `,
          `${bytes(u.offset)} of ${u.length === null || u.length === undefined ? "?" : bytes(u.length)}`))));
    }
  } catch (error) {
    toast(error.detail || error.message, "error");
  }
  return null;
}
