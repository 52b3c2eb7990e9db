// The namespace's jobs, kept current by the event stream (`job.*`; no polling): loaded once, then every
// job.added / job.changed / job.deleted updates one entry and tells the views that listen.
import { allJobs, api, events, jobPath } from "./api.js";
import { jobFinished } from "./notify.js";

class JobStore {
  constructor() {
    this.byUID = new Map();
    this.listeners = new Set();
    this.ready = null;
    this.stopEvents = null;
    this.live = false;
  }

  // Loads the jobs and follows the stream; the promise settles once the first list is in.
  start() {
    if (this.ready) return this.ready;
    // Subscribe first, then list: an event that lands in between is applied on top of the list.
    const pending = [];
    let loaded = false;
    this.stopEvents = events("types=job", (type, event) => {
      if (loaded) this.apply(type, event); else pending.push([type, event]);
    }, {
      onOpen: () => { this.live = true; this.emit(null); },
      onDown: () => { this.live = false; this.emit(null); },
    });
    this.ready = allJobs().then((items) => {
      for (const job of items) this.byUID.set(job.metadata.uid, job);
      loaded = true;
      for (const [type, event] of pending) this.apply(type, event);
      this.emit(null);
    });
    this.ready.catch(() => { this.ready = null; });
    return this.ready;
  }

  stop() {
    this.stopEvents?.();
    this.stopEvents = null;
    this.ready = null;
    this.byUID.clear();
  }

  // Tells `listener(uid)` of every change (uid null: many); returns the unsubscribe function.
  listen(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(uid) {
    for (const listener of this.listeners) listener(uid);
  }

  get(uid) { return this.byUID.get(uid); }
  all() { return [...this.byUID.values()]; }

  // Fetches one job (a job.added whose spec is not known yet, or a refresh after a write).
  async refresh(uid) {
    try {
      const job = await api(jobPath(uid));
      const before = this.byUID.get(uid);
      this.byUID.set(uid, job);
      jobFinished(job, before?.status?.phase);
      this.emit(uid);
      return job;
    } catch (error) {
      if (error.code === 404) { this.byUID.delete(uid); this.emit(uid); }
      throw error;
    }
  }

  apply(type, event) {
    const uid = event.job;
    const data = event.data || {};
    if (!uid) return;
    if (type === "job.deleted") {
      if (this.byUID.delete(uid)) this.emit(uid);
      return;
    }
    const known = this.byUID.get(uid);
    if (!known || (data.generation && known.metadata.generation !== data.generation)) {
      this.refresh(uid).catch(() => {});
      return;
    }
    const before = known.status?.phase;
    known.status = data.status || known.status;
    jobFinished(known, before);
    this.emit(uid);
  }
}

export const jobs = new JobStore();
