#!/usr/bin/env bash
# Opens a report in headless Chromium as a person would, takes a full-page
# screenshot, and fails when the page logs a console error, throws, or shows
# an image that did not load.
#
#   scripts/browser-check.sh REPORT.html [SCREENSHOT.png]
#
# SCREENSHOT defaults to REPORT with .png for .html. BROWSER_CHECK_WIDTH sets
# the window width (default 1280); the height is the page's own.
#
# Chromium is driven over the DevTools protocol on a pipe
# (--remote-debugging-pipe: no port, no network), which reports each console
# message with its level, so an error is told from a plain log line.
# Installs Debian's chromium when /usr/bin/chromium is absent.
# Exit: 0 clean; 1 console errors or broken images; 2 bad usage or no browser.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 REPORT.html [SCREENSHOT.png]" >&2
  exit 2
fi
report=$1
shot=${2:-${report%.html}.png}
if [ ! -f "$report" ]; then
  echo "browser-check: $report: no such file" >&2
  exit 2
fi

chromium=/usr/bin/chromium
if [ ! -x "$chromium" ]; then
  echo "browser-check: installing Debian's chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if [ ! -x "$chromium" ]; then
  echo "browser-check: $chromium: not installed" >&2
  exit 2
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

python3 - "$chromium" "$profile" "$(realpath "$report")" "$shot" "${BROWSER_CHECK_WIDTH:-1280}" <<'PY'
import base64, json, os, signal, subprocess, sys

chromium, profile, report, shot, width = sys.argv[1:6]
width = int(width)
signal.alarm(90)  # a hung browser fails the check instead of the caller

# fd 3: the browser reads commands; fd 4: it writes replies and events.
cmd_r, cmd_w = os.pipe()
evt_r, evt_w = os.pipe()

def child_fds():
    a, b = os.dup(cmd_r), os.dup(evt_w)  # out of the way of 3 and 4 first
    os.dup2(a, 3)
    os.dup2(b, 4)

browser = subprocess.Popen(
    [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
     "--no-first-run", "--disable-background-networking", "--disable-component-update",
     "--disable-sync", "--user-data-dir=" + profile, "--remote-debugging-pipe",
     "--hide-scrollbars", "about:blank"],
    pass_fds=(3, 4), preexec_fn=child_fds,
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(cmd_r)
os.close(evt_w)
out = os.fdopen(cmd_w, "wb", buffering=0)
inp = os.fdopen(evt_r, "rb", buffering=0)

buf = b""
next_id = 0
problems = []

def note(event):
    """Collects what counts as a page error."""
    m, p = event.get("method"), event.get("params", {})
    if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
        text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
        problems.append(f"console.{p['type']}: {text}")
    elif m == "Runtime.exceptionThrown":
        d = p.get("exceptionDetails", {})
        problems.append("uncaught exception: " + d.get("exception", {}).get("description", d.get("text", "")))
    elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
        e = p["entry"]
        problems.append(f"{e.get('source')} error: {e.get('text')} {e.get('url', '')}".strip())

def read_message():
    global buf
    while b"\0" not in buf:
        chunk = inp.read(1 << 16)
        if not chunk:
            sys.exit("browser-check: the browser closed the pipe")
        buf += chunk
    raw, buf = buf.split(b"\0", 1)
    return json.loads(raw)

def send(method, params=None, session=None, wait=True):
    global next_id
    next_id += 1
    msg = {"id": next_id, "method": method, "params": params or {}}
    if session:
        msg["sessionId"] = session
    out.write(json.dumps(msg).encode() + b"\0")
    if not wait:
        return None
    while True:
        m = read_message()
        if m.get("id") == next_id:
            if "error" in m:
                sys.exit(f"browser-check: {method}: {m['error']}")
            return m.get("result", {})
        note(m)

def wait_for(method):
    while True:
        m = read_message()
        note(m)
        if m.get("method") == method:
            return m

target = send("Target.createTarget", {"url": "about:blank"})["targetId"]
s = send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
    send(domain, session=s)
send("Emulation.setDeviceMetricsOverride",
     {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=s)
send("Page.navigate", {"url": "file://" + report}, session=s)
wait_for("Page.loadEventFired")

def evaluate(expr):
    return send("Runtime.evaluate", {"expression": expr, "returnByValue": True},
                session=s)["result"].get("value")

broken = evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length")
images = evaluate("document.images.length")
if broken:
    problems.append(f"{broken} of {images} images did not load")
overflow = evaluate("document.documentElement.scrollWidth > window.innerWidth")
if overflow:
    problems.append("the page is wider than the window (horizontal overflow)")
height = int(evaluate("Math.ceil(document.documentElement.scrollHeight)"))
send("Emulation.setDeviceMetricsOverride",
     {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=s)
png = send("Page.captureScreenshot", {"format": "png"}, session=s)["data"]
with open(shot, "wb") as f:
    f.write(base64.b64decode(png))
send("Browser.close", wait=False)
try:
    browser.wait(timeout=10)
except subprocess.TimeoutExpired:
    browser.kill()

print(f"browser-check: {report}: {images} images, page {width}x{height}, screenshot {shot}")
if problems:
    for p in problems:
        print(f"browser-check: {p}", file=sys.stderr)
    sys.exit(1)
print("browser-check: no console errors")
PY
