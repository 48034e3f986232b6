"""Tests of browser.py (the headless-Chromium harness) against a local http.server.

They need no krab: the pages are served from this process.  Without a chromium binary they skip,
or fail when KRAB_REQUIRE_CHROMIUM=1 (scripts/test.sh sets it after installing chromium).
"""
import http.server
import json
import struct
import threading
import time

import pytest

from browser import CDPError, Chromium, JSError, artifacts_dir, require_chromium

ROWS = [{"partition": 0, "offset": 120}, {"partition": 1, "offset": 340},
        {"partition": 2, "offset": 75}]

MONITOR_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>harness test</title>
<link rel="icon" href="data:,">
<style>body { font-family: sans-serif; margin: 2em }
td, th { border: 1px solid #999; padding: 4px 12px }</style></head>
<body>
<h1>offsets</h1>
<table id="offsets"><thead><tr><th>partition</th><th>offset</th></tr></thead><tbody></tbody></table>
<svg id="chart" width="400" height="120" xmlns="http://www.w3.org/2000/svg"></svg>
<script>
fetch('/data.json').then(r => r.json()).then(rows => {
  const body = document.querySelector('#offsets tbody');
  for (const r of rows) {
    const tr = body.insertRow();
    tr.insertCell().textContent = r.partition;
    tr.insertCell().textContent = r.offset;
  }
  const max = Math.max(...rows.map(r => r.offset));
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', rows.map((r, i) =>
      `${i * 390 / (rows.length - 1) + 5},${115 - r.offset * 110 / max}`).join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', 'steelblue');
  line.setAttribute('stroke-width', '3');
  document.getElementById('chart').appendChild(line);
});
</script></body></html>
"""

# Every way out that the detector must catch; the dead proxy makes each fail at once.
EXTERNAL_PAGE = """<!doctype html>
<html><head><script src="http://example.invalid/x.js"></script></head>
<body><img src="http://10.255.255.1/x.png">
<script>
fetch('https://api.example.invalid/data').catch(() => {});
try { new WebSocket('ws://ws.example.invalid/feed'); } catch (e) {}
new Worker(URL.createObjectURL(new Blob(
    ["fetch('http://worker.example.invalid/w').catch(() => {})"], {type: 'text/javascript'})));
</script></body></html>
"""

EXTERNAL_URLS = ["http://example.invalid/x.js", "http://10.255.255.1/x.png",
                 "https://api.example.invalid/data", "ws://ws.example.invalid/feed",
                 "http://worker.example.invalid/w"]


class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {
        "/": ("text/html", MONITOR_PAGE.encode()),
        "/external.html": ("text/html", EXTERNAL_PAGE.encode()),
        "/data.json": ("application/json", json.dumps(ROWS).encode()),
    }

    def do_GET(self):
        if self.path == "/data.json":
            time.sleep(0.3)  # the table fills in after the load event: wait_for must wait
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", route[0])
        self.send_header("Content-Length", str(len(route[1])))
        self.end_headers()
        self.wfile.write(route[1])

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    with Chromium() as b:
        yield b


@pytest.mark.timeout(60)
def test_local_page_table_chart_and_screenshot(browser, server):
    page = browser.open(server + "/")
    page.wait_for("document.querySelectorAll('#offsets tbody tr').length === 3")
    cells = page.evaluate("[...document.querySelectorAll('#offsets tbody tr')]"
                          ".map(tr => [...tr.cells].map(td => td.textContent))")
    assert cells == [[str(r["partition"]), str(r["offset"])] for r in ROWS]
    points = page.evaluate("document.querySelector('svg#chart polyline')"
                           ".getAttribute('points').trim().split(/\\s+/).length")
    assert points == len(ROWS)
    assert page.evaluate("[innerWidth, innerHeight]") == [1280, 900]

    assert server + "/data.json" in page.requests
    assert page.non_local_requests() == [], page.requests
    assert page.console_errors == []

    png = page.screenshot(artifacts_dir() / "browser-harness.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1280, 900)  # IHDR width, height
    assert len(png) > 5000, len(png)

    # Failures are reported, with what failed.
    with pytest.raises(JSError, match="boom"):
        page.evaluate("(() => { throw new Error('boom') })()")
    with pytest.raises(TimeoutError, match="window.neverSet === 1"):
        page.wait_for("window.neverSet === 1", timeout=0.5)
    with pytest.raises(CDPError, match="No.suchMethod"):
        browser.call("No.suchMethod")
    assert page.evaluate("Promise.resolve(6 * 7)") == 42
    page.close()


@pytest.mark.timeout(60)
def test_external_requests_are_reported(browser, server):
    started = time.monotonic()
    page = browser.open(server + "/external.html")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and set(EXTERNAL_URLS) - set(page.non_local_requests()):
        time.sleep(0.1)
    found = page.non_local_requests()
    assert set(found) == set(EXTERNAL_URLS), (found, page.requests)
    assert server + "/external.html" in page.requests
    assert any("x.js" in e for e in page.console_errors), page.console_errors
    # Blocked at the dead proxy, not left to time out (10.255.255.1 is unroutable).
    assert time.monotonic() - started < 10
    page.close()
