// The user's watched jobs and what happens when one finishes: a chime (Web Audio, off by default), a desktop
// notification, a toast and an unread count in the tab's title.
import { toast } from "./ui.js";

// Jobs the user watches (by uid): their success or failure rings, notifies and counts as unread.
const WATCH_KEY = "reel.watched";
const SOUND_KEY = "reel.sound";
const watched = new Set(JSON.parse(localStorage.getItem(WATCH_KEY) || "[]"));
const unread = new Set();
const announced = new Set();

export const watching = (uid) => watched.has(uid);
export function watch(uid, on = true) {
  if (on) watched.add(uid); else watched.delete(uid);
  localStorage.setItem(WATCH_KEY, JSON.stringify([...watched].slice(-500)));
}

export const soundOn = () => localStorage.getItem(SOUND_KEY) === "on";
let audio = null;
// Turning the sound on is a click, which lets the page make sound later.
export function setSound(on) {
  localStorage.setItem(SOUND_KEY, on ? "on" : "off");
  if (on && !audio) audio = new AudioContext();
  if (on) audio.resume?.();
}

function chime(success) {
  if (!soundOn()) return;
  if (!audio) audio = new AudioContext();
  const notes = success ? [660, 880] : [440, 330];
  notes.forEach((frequency, i) => {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = frequency;
    const at = audio.currentTime + i * 0.16;
    gain.gain.setValueAtTime(0.0001, at);
    gain.gain.exponentialRampToValueAtTime(0.2, at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.15);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(at);
    oscillator.stop(at + 0.16);
  });
}

export function updateTitle() {
  const base = document.title.replace(/^\(\d+\) /, "");
  document.title = unread.size ? `(${unread.size}) ${base}` : base;
}

export function setTitle(text) {
  document.title = `${text} · Reel`;
  updateTitle();
}

export function markRead(uid) {
  if (unread.delete(uid)) updateTitle();
}

// Called by the views for every job event: a watched job that just finished rings once.
export function jobFinished(job, previousPhase) {
  const phase = job.status?.phase;
  const uid = job.metadata?.uid || job.uid;
  if (!watched.has(uid) || announced.has(uid)) return;
  if (phase !== "Succeeded" && phase !== "Failed") return;
  if (previousPhase === phase) return;
  announced.add(uid);
  const name = job.spec?.title || job.metadata?.name || job.name || uid;
  const success = phase === "Succeeded";
  chime(success);
  unread.add(uid);
  updateTitle();
  toast(`${name} ${success ? "succeeded" : "failed"}`, success ? "info" : "error");
  if ("Notification" in window && Notification.permission === "granted") {
    new Notification(`Reel: ${name} ${success ? "succeeded" : "failed"}`, { tag: uid, body: location.origin });
  }
}

