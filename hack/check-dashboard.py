"""The web dashboard in a real browser: Selenium driving Debian's chromium headless against a live
`reel local --api-addr` (started by hack/check-dashboard.sh). Every check waits for a condition in the page —
no sleeps — and the run fails on the first one that does not hold, or on any console error.

usage: check-dashboard.py --url URL --admin T --viewer T --other T --sample VIDEO [--screenshots DIR]
       check-dashboard.py … --bench-jobs N   (only measures: N suspended jobs, then the list's first paint)
"""
import argparse
import base64
import http.server
import json
import pathlib
import socketserver
import sys
import threading
import time

import requests
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

parser = argparse.ArgumentParser()
for name in ["url", "admin", "viewer", "other", "sample"]:
    parser.add_argument(f"--{name}", required=True)
parser.add_argument("--screenshots")
parser.add_argument("--bench-jobs", type=int, default=0)
parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
args = parser.parse_args()
base = args.url.rstrip("/")
CUTS = [float(t) for t in range(2, 24, 2)]  # hack/sample-video.sh SAMPLE 24: a cut every 2 s

# Before any page script: an AudioContext that records what it plays (the completion chime), and a record of
# layout shifts (events must not move what is on screen).
PRELUDE = """
window.__sounds = [];
class RecordingContext {
  constructor() { this.currentTime = 0; this.destination = {}; this.state = 'running'; }
  resume() { return Promise.resolve(); }
  createGain() { return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect: (n) => n }; }
  createOscillator() {
    const o = { type: 'sine', frequency: { value: 0 }, connect: (n) => n, stop() {},
      start: () => window.__sounds.push(o.frequency.value) };
    return o;
  }
}
window.AudioContext = RecordingContext;
window.__shift = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shift += e.value;
}).observe({ type: 'layout-shift', buffered: true });
"""


def fail(message):
    sys.exit(f"check-dashboard: FAILED: {message}")


def ok(message):
    print(f"  ok  {message}", flush=True)


class Stalling(http.server.BaseHTTPRequestHandler):
    """A video source that sends its headers and then nothing: jobs reading it stay in Ingesting."""
    stop = threading.Event()

    def do_GET(self):  # noqa: N802 (the handler's name is http.server's)
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", "100000000")
        self.end_headers()
        self.wfile.flush()
        Stalling.stop.wait()

    do_HEAD = do_GET

    def log_message(self, *_):
        pass


def browser(width, height=1000):
    options = Options()
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 f"--window-size={width},{height}", "--autoplay-policy=no-user-gesture-required"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=args.chromedriver)
    driver = webdriver.Chrome(options=options, service=service)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PRELUDE})
    driver.set_window_size(width, height)
    return driver


def wait(driver, condition, what, timeout=60):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d))
    except TimeoutException:
        fail(f"{what} (waited {timeout} s); page: {text(driver, 'main')[:400]!r}")


def console_errors(driver, allowed=()):
    """Console errors since the last call, except network 404s the test caused on purpose."""
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    unexpected = [m for m in errors if not any(a in m for a in allowed)]
    if unexpected:
        fail("console errors: " + "\n".join(unexpected))


def labelled(driver, page):
    """Every visible control has a name a screen reader can say (a label, aria-label(ledby), or text)."""
    nameless = driver.execute_script("""
        return [...document.querySelectorAll('input, select, button, a[href], video, [role=listitem]')]
          .filter((e) => e.offsetParent !== null || e.type === 'file')
          .filter((e) => !(e.labels?.length || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby')
                           || e.textContent.trim() || e.getAttribute('title') || e.querySelector('img[alt]')))
          .map((e) => e.outerHTML.slice(0, 120));""")
    if nameless:
        fail(f"controls without a name on the {page} page: {nameless}")


def screenshot(driver, name):
    """The whole page (up to 2,400 px tall) as DIR/NAME.png, when --screenshots is given."""
    if not args.screenshots:
        return
    width, height = driver.execute_script(
        "return [document.documentElement.clientWidth, document.documentElement.scrollHeight]")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": min(height, 2400), "scale": 1},
    })
    path = pathlib.Path(args.screenshots) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def sign_in(driver, token):
    driver.get(f"{base}/")
    field = wait(driver, lambda d: d.find_elements(By.ID, "token") and d.find_element(By.ID, "token"),
                 "the login screen")
    field.send_keys(token + Keys.ENTER)
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#job-rows"), "the job list after signing in")


def text(driver, selector):
    """The text of the first element matching `selector`, read in the page (views redraw what they show)."""
    return driver.execute_script("return document.querySelector(arguments[0])?.textContent ?? ''", selector)


def phase_of(driver, uid):
    """The phase badge of a job's row (read in the page: rows are redrawn as events arrive)."""
    return driver.execute_script(
        "return document.querySelector(`#job-rows tr[data-uid='${arguments[0]}'] .badge`)?.textContent ?? null", uid)


api = requests.Session()
api.headers["Authorization"] = f"Bearer {args.admin}"


def bench(count):
    """Time from navigation to the first full list of `count` jobs (User Timing mark `reel:jobs-listed`), five
    page loads in one browser, after the jobs are created suspended (no work runs)."""
    for i in range(count):
        answer = api.post(f"{base}/api/jobs", json={"metadata": {"generateName": "bench-"}, "spec": {
            "title": f"Bench {i:05d}", "suspend": True, "source": {"uri": "https://example.com/a.mp4"}}})
        if answer.status_code != 201:
            fail(f"creating a job answered {answer.status_code}: {answer.text}")
    # Measure the page, not the operator: wait until every job is Suspended.
    deadline = time.monotonic() + 600
    while True:
        suspended, next_page = 0, ""
        while True:
            page = api.get(f"{base}/api/jobs?phase=suspended&limit=500{next_page}").json()
            suspended += len(page["items"])
            token = page["metadata"].get("continue")
            if not token:
                break
            next_page = f"&continue={token}"
        if suspended >= count:
            break
        if time.monotonic() > deadline:
            fail(f"only {suspended} of {count} jobs became Suspended")
        time.sleep(1)  # the operator's progress has no event to wait for from here
    driver = browser(1440)
    sign_in(driver, args.admin)
    times = []
    for _ in range(5):
        driver.get(f"{base}/?{len(times)}#/jobs")
        wait(driver, lambda d: d.execute_script(
            "return performance.getEntriesByName('reel:jobs-listed').length > 0"), "the list")
        shown = driver.execute_script("return document.querySelectorAll('#job-rows tr[data-uid]').length")
        if shown < count:
            fail(f"the list shows {shown} of {count} jobs")
        slow = driver.execute_script(
            "return performance.getEntriesByType('resource').filter(r => r.duration > 1000)"
            ".map(r => [r.name, Math.round(r.startTime), Math.round(r.duration)])")
        if slow:
            print("slow requests:", slow, file=sys.stderr)
        times.append(driver.execute_script(
            "return [performance.getEntriesByName('reel:jobs-listed')[0].startTime,"
            " performance.getEntriesByType('paint').find(p => p.name === 'first-contentful-paint')?.startTime]"))
    driver.quit()
    listed = sorted(t[0] for t in times)
    print(json.dumps({"jobs": count, "listed_ms": [round(t) for t in listed], "median_listed_ms": round(listed[2]),
                      "first_contentful_paint_ms": [round(t[1] or 0) for t in times]}))


if args.bench_jobs:
    bench(args.bench_jobs)
    sys.exit(0)

# --- An editor's (admin's) session at desktop width -----------------------------------------------------------
driver = browser(1440)
sign_in(driver, args.admin)
ok("signed in with a token (kept in session storage)")
driver.find_element(By.ID, "sound").click()
marker = driver.execute_script("window.__marker = Math.random(); return window.__marker;")

driver.find_element(By.CSS_SELECTOR, "#nav a[data-view=upload]").click()
wait(driver, lambda d: d.find_elements(By.ID, "files"), "the upload screen")
driver.execute_script("document.getElementById('opt-title').value = 'Dashboard sample'")
# The browser remembers an upload of this file from an earlier visit, and the first HEAD on it answers 503 (a proxy
# while the server restarts): the upload stops with the server's answer and keeps what it remembers, and Retry
# asks again (now the server's own 404 for an upload it never had, so a new upload starts).
sample = pathlib.Path(args.sample).resolve()
fingerprint = f"{sample.name}|{sample.stat().st_size}|{sample.stat().st_mtime_ns // 1_000_000}|{base.split('//')[1]}"
driver.execute_script("""
localStorage.setItem('reel.uploads', JSON.stringify({[arguments[0]]: '/api/uploads/remembered'}));
const real = window.fetch;
window.__heads = [];
window.fetch = (url, init) => {
  if (init?.method !== 'HEAD') return real(url, init);
  window.__heads.push(String(url));
  return window.__heads.length === 1 ? Promise.resolve(new Response(null, { status: 503 })) : real(url, init);
};""", fingerprint)
driver.find_element(By.ID, "files").send_keys(str(sample))
wait(driver, lambda d: "503" in text(d, "li.upload .error") and text(d, "li.upload button.secondary") == "Retry",
     "the upload to stop on the HEAD's 503 and offer Retry")
kept = driver.execute_script("return JSON.parse(localStorage.getItem('reel.uploads'))[arguments[0]]", fingerprint)
if kept != "/api/uploads/remembered":
    fail(f"after a 503 the browser remembers {kept!r} for the file, not the upload it had")
driver.find_element(By.CSS_SELECTOR, "li.upload button.secondary").click()
wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "li.upload progress"), "the upload's progress bar")
link = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "li.upload .state a"),
            "the upload to finish and name its job")[0]
progress = driver.find_element(By.CSS_SELECTOR, "li.upload progress").get_attribute("value")
numbers = driver.find_element(By.CSS_SELECTOR, "li.upload .numbers").text
if progress != "100" or " / " not in numbers:
    fail(f"the finished upload shows {progress}% and {numbers!r}")
uid = link.get_attribute("href").split("#/jobs/")[1]
heads = driver.execute_script("return window.__heads")
if heads != ["/api/uploads/remembered"] * 2:
    fail(f"the remembered upload was asked for by {heads!r}, not once and once more on Retry")
ok("a 503 on the remembered upload stopped it with Retry; Retry asked again, then started afresh on the 404")
ok(f"uploaded the sample through the file input: {numbers}, 100 %, job {uid}")
labelled(driver, "upload")
screenshot(driver, "upload-1440")

driver.find_element(By.CSS_SELECTOR, "#nav a[data-view=jobs]").click()
wait(driver, lambda d: phase_of(d, uid) is not None, "the uploaded job in the list")
ok(f"the job appears in the list ({phase_of(driver, uid)})")
wait(driver, lambda d: phase_of(d, uid) == "Succeeded", "the job to reach Succeeded in the list", timeout=180)
if driver.execute_script("return window.__marker") != marker:
    fail("the page reloaded")
ok("it reaches Succeeded without a reload (the event stream)")
sounds = wait(driver, lambda d: d.execute_script("return window.__sounds.length ? window.__sounds : null"),
              "the completion sound", timeout=10)
ok(f"the completion chime played (Web Audio, {sounds} Hz)")
if not driver.title.startswith("(1) "):
    fail(f"the tab's title has no unread badge: {driver.title!r}")
ok(f"the tab title counts it as unread: {driver.title!r}")
shift = driver.execute_script("return window.__shift")
if shift > 0.05:
    fail(f"events moved the page: cumulative layout shift {shift:.3f}")
ok(f"no layout shift while events arrived (CLS {shift:.4f})")
labelled(driver, "jobs")
screenshot(driver, "jobs-1440")
console_errors(driver, allowed=["/api/uploads/remembered"])  # the remembered upload, on purpose

# Keyboard only: tab to the job's link and open it.
driver.find_element(By.TAG_NAME, "body").click()
for _ in range(60):
    driver.switch_to.active_element.send_keys(Keys.TAB)
    if driver.switch_to.active_element.get_attribute("href", ) and uid in (
            driver.switch_to.active_element.get_attribute("href") or ""):
        break
else:
    fail("the job's link cannot be reached with Tab")
driver.switch_to.active_element.send_keys(Keys.ENTER)
wait(driver, lambda d: d.find_elements(By.ID, "scene-strip"), "the detail page's scene strip")
ok("reached the job's page with the keyboard alone")
if driver.title.startswith("("):
    fail(f"opening the job did not mark it read: {driver.title!r}")
wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#log-lines li.log")) > 0, "log lines")
ok(f"{len(driver.find_elements(By.CSS_SELECTOR, '#log-lines li.log'))} log lines shown")
cuts = [float(c.get_attribute("data-time")) for c in driver.find_elements(By.CSS_SELECTOR, "#scene-strip .cut")]
missing = [t for t in CUTS if not any(abs(t - c) <= 0.05 for c in cuts)]
extra = [c for c in cuts if not any(abs(t - c) <= 0.05 for t in CUTS)]
if missing or extra:
    fail(f"the scene strip's cuts {cuts} miss {missing} and add {extra}")
ok(f"the scene strip has the sample's {len(CUTS)} cuts")
wait(driver, lambda d: d.execute_script(
    "return document.querySelector('#scene-preview img')?.complete && "
    "document.querySelector('#scene-preview img').naturalWidth > 0"), "a scene's thumbnail")
ok("a scene's thumbnail (MJPEG from the server) is shown")
video = wait(driver, lambda d: d.find_elements(By.ID, "render"), "the render player")[0]
driver.execute_script("arguments[0].muted = true; arguments[0].play();", video)
wait(driver, lambda d: d.execute_script("return arguments[0].readyState >= 2", video), "the render to play")
driver.execute_script(
    "window.__seeked = false; arguments[0].addEventListener('seeked', () => window.__seeked = true, {once: true});"
    "arguments[0].currentTime = 5;", video)
wait(driver, lambda d: d.execute_script("return window.__seeked"), "the render to seek to 5 s")
at = driver.execute_script("return arguments[0].currentTime", video)
if abs(at - 5) > 0.5:
    fail(f"the render seeked to {at} s, not 5 s")
ok(f"the render plays (readyState ≥ 2) and seeks to {at:.2f} s (Range requests)")
for name in ["timeline-clips", "job-yaml"]:
    if not driver.find_elements(By.ID, name):
        fail(f"the detail page has no #{name}")
if "kind: VideoJob" not in driver.find_element(By.ID, "job-yaml").text:
    fail("the YAML does not show the VideoJob")
ok("the timeline's clips and the VideoJob's YAML are shown")
labelled(driver, "job")
screenshot(driver, "detail-1440")
console_errors(driver)

# Bulk cancel: two jobs whose source stalls stay Ingesting until they are cancelled.
Stalling.stop.clear()
server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Stalling)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
stalled = []
for i in range(2):
    answer = api.post(f"{base}/api/jobs", json={
        "metadata": {"generateName": "stalled-"},
        "spec": {"title": f"Stalled {i}", "source": {"uri": f"http://127.0.0.1:{server.server_address[1]}/{i}.mp4"}},
    })
    if answer.status_code != 201:
        fail(f"creating a job answered {answer.status_code}: {answer.text}")
    stalled.append(answer.json()["metadata"]["uid"])
driver.find_element(By.CSS_SELECTOR, "#nav a[data-view=jobs]").click()
wait(driver, lambda d: all(phase_of(d, u) == "Ingesting" for u in stalled), "both stalled jobs Ingesting")
ok("two jobs are running (Ingesting a source that stalls)")
for u in stalled:
    driver.find_element(By.CSS_SELECTOR, f"#job-rows tr[data-uid='{u}'] td.check input").click()
driver.find_element(By.CSS_SELECTOR, ".bulk [data-action=cancel]").click()
wait(driver, lambda d: d.find_element(By.ID, "confirm").get_attribute("open") is not None, "the confirmation")
if "Cancel 2 jobs" not in driver.find_element(By.ID, "confirm-title").text:
    fail(f"the confirmation says {driver.find_element(By.ID, 'confirm-title').text!r}")
driver.find_element(By.ID, "confirm-ok").click()
wait(driver, lambda d: all(phase_of(d, u) == "Cancelled" for u in stalled), "both jobs Cancelled", timeout=60)
ok("bulk cancel of the two running jobs, after a confirmation: both Cancelled")
Stalling.stop.set()
server.shutdown()
console_errors(driver)

# The queue and workers.
driver.find_element(By.CSS_SELECTOR, "#nav a[data-view=queue]").click()
wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#queue-chart svg path.series"), "the queue chart")
wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "table.workers tbody tr"), "the workers table")
ok("queue chart (last 15 minutes), throughput and workers shown")
labelled(driver, "queue")
ok("every control on the upload, jobs, job and queue pages has an accessible name")
screenshot(driver, "queue-1440")
console_errors(driver)

# Dark, when the system asks for it.
driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
driver.get(f"{base}/#/jobs/{uid}")
wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#scene-strip .cut"), "the job's page in dark mode")
red, green, blue = driver.execute_script(
    "return getComputedStyle(document.documentElement).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)")
if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 60:
    fail(f"prefers-color-scheme: dark still paints rgb({red}, {green}, {blue})")
ok(f"dark when the system is (background rgb({red}, {green}, {blue}))")
screenshot(driver, "detail-dark-1440")
console_errors(driver)
driver.quit()

# --- Phone width: the same screens in one column ----------------------------------------------------------------
driver = browser(390, 844)
sign_in(driver, args.admin)
# Reloads close the page's event streams: Chrome keeps a streaming fetch open after its page is gone, and six
# (its limit per host) stalled every later load for a minute.
for i in range(8):
    driver.get(f"{base}/?reload={i}#/jobs")
    wait(driver, lambda d: d.execute_script("return performance.getEntriesByName('reel:jobs-listed').length > 0"),
         f"the job list after reload {i + 1} of 8", timeout=20)
ok("eight reloads in a row each list the jobs (event streams are closed when a page goes)")
OVERFLOW = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
width, room = driver.execute_script(OVERFLOW)
if width > room:
    fail(f"the job list is {width} px wide in {room} px")
screenshot(driver, "jobs-390")
driver.get(f"{base}/#/jobs/{uid}")
wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#scene-strip .cut"), "the detail page at 390 px")
width, room = driver.execute_script(OVERFLOW)
if width > room:
    fail(f"the job's page is {width} px wide in {room} px")
screenshot(driver, "detail-390")
driver.get(f"{base}/#/upload")
wait(driver, lambda d: d.find_elements(By.ID, "files"), "the upload screen at 390 px")
screenshot(driver, "upload-390")
ok("jobs, detail and upload fit 390 px without horizontal scrolling")
console_errors(driver)
driver.quit()

# --- A viewer sees no write buttons; another tenant cannot see the job ------------------------------------------
driver = browser(1440)
sign_in(driver, args.viewer)
visible_writes = [b.text for b in driver.find_elements(By.CSS_SELECTOR, ".bulk button, #nav a[data-view=upload]")
                  if b.is_displayed()]
if visible_writes:
    fail(f"a viewer sees write controls: {visible_writes}")
driver.get(f"{base}/#/jobs/{uid}")
wait(driver, lambda d: d.find_elements(By.ID, "job-yaml"), "the job's page for a viewer")
if driver.find_elements(By.CSS_SELECTOR, ".actions button"):
    fail("a viewer sees the job's action buttons")
ok("a viewer sees the jobs and no write button")
console_errors(driver)
driver.quit()

driver = browser(1440)
sign_in(driver, args.other)
driver.get(f"{base}/#/jobs/{uid}")
wait(driver, lambda d: "Not found" in text(d, "main h1"), "the not-found page")
ok("another tenant's token gets the not-found page for the job")
console_errors(driver, allowed=[f"/api/jobs/{uid}"])
driver.quit()
print(json.dumps({"job": uid, "cuts": len(CUTS), "cls": shift}))
