"""Headless Chromium for browser tests, driven over the DevTools Protocol (CDP).

No websocket or browser-automation package: Chromium is started with
``--remote-debugging-pipe`` and speaks NUL-terminated JSON on its file descriptors 3 (it reads)
and 4 (it writes).

    with Chromium() as browser:
        page = browser.open(url)
        page.wait_for("document.querySelectorAll('tr').length > 1")
        page.screenshot(artifacts_dir() / "monitor.png")
        assert page.non_local_requests() == []

By default every request that does not go to a loopback address is sent to a dead proxy, so a
page under test cannot reach the Internet (nor hang on a black-holed address); the attempt is
still recorded and shows up in ``Page.non_local_requests()``.
"""
import base64
import ipaddress
import math
import os
import shutil
import socket
import tempfile
import threading
import time
import weakref
from pathlib import Path
from urllib.parse import urlsplit

from cdp import CDPError, launch, shutdown

__all__ = ["Chromium", "Page", "CDPError", "JSError", "find_chromium", "require_chromium",
           "artifacts_dir", "is_local_url"]

BINARIES = ("chromium", "chromium-browser", "google-chrome")
LOCAL_SCHEMES = ("data", "blob", "about")

# Keep Chromium's own traffic (updates, safe browsing, metrics, sync...) out of the picture.
# Not recorded anyway (recording is per tab), but it must not leave the machine either.
QUIET_FLAGS = (
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--no-default-browser-check", "--disable-default-apps",
    "--disable-extensions", "--metrics-recording-only", "--disable-domain-reliability",
    "--no-pings", "--disable-breakpad", "--disable-crash-reporter",
    "--disable-client-side-phishing-detection", "--safebrowsing-disable-auto-update",
    "--password-store=basic", "--use-mock-keychain",
    # Chromium 148 still calls Google despite the flags above (seen through a logging proxy):
    # network time, search-engine preconnects...
    "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,"
    "NetworkTimeServiceQuerying,PreconnectToSearch",
)
# ...and new-tab-page data, account lookups and GCM check-in, which only URL switches redirect.
URL_SWITCHES = ("--google-base-url", "--gaia-url", "--gcm-checkin-url")


class JSError(RuntimeError):
    """An evaluated expression threw (or its promise rejected)."""


def find_chromium():
    """Path of a Chromium/Chrome binary on PATH, or None."""
    for name in BINARIES:
        path = shutil.which(name)
        if path:
            return path
    return None


def require_chromium():
    """For tests: the Chromium path; fail (KRAB_REQUIRE_CHROMIUM=1, as in CI) or skip if none."""
    import pytest
    path = find_chromium()
    if path is None:
        msg = "no chromium binary (%s) on PATH; apt-get install chromium" % "/".join(BINARIES)
        if os.environ.get("KRAB_REQUIRE_CHROMIUM") == "1":
            pytest.fail(msg + " (KRAB_REQUIRE_CHROMIUM=1)", pytrace=False)
        pytest.skip(msg)
    return path


def artifacts_dir():
    """Directory for test artifacts (screenshots): $KRAB_ARTIFACTS_DIR or compat-tests/artifacts."""
    env = os.environ.get("KRAB_ARTIFACTS_DIR")
    path = Path(env) if env else Path(__file__).resolve().parent / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_local_url(url):
    """True for data:/blob:/about: URLs and hosts localhost, 127.0.0.0/8 and ::1."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _stop(proc, conn, tmp, dead_port):
    """close(), and the finalizer of a Chromium nobody closed."""
    shutdown(proc, conn)
    dead_port.close()
    shutil.rmtree(tmp, ignore_errors=True)


class Chromium:
    """A headless Chromium process.  Use as a context manager or call close()."""

    def __init__(self, binary=None, width=1280, height=900, block_external=True,
                 extra_args=(), launch_timeout=30.0):
        binary = binary or find_chromium()
        if not binary:
            raise FileNotFoundError("no chromium binary on PATH (%s)" % ", ".join(BINARIES))
        self.width, self.height = width, height
        self._tmp = tempfile.mkdtemp(prefix="krab-chromium-")
        self.log_path = Path(self._tmp) / "chromium.log"
        # A bound but never listening socket: connecting to it is refused at once.
        self._dead_port = socket.socket()
        self._dead_port.bind(("127.0.0.1", 0))
        # --headless=new: plain --headless means the same since Chromium 132 (old mode gone).
        args = [binary, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-pipe",
                f"--user-data-dir={Path(self._tmp) / 'profile'}",
                f"--window-size={width},{height}", *QUIET_FLAGS]
        dead = f"http://127.0.0.1:{self._dead_port.getsockname()[1]}"
        args += [f"{switch}={dead}" for switch in URL_SWITCHES]
        if block_external:
            # Loopback is never proxied (Chromium's implicit bypass rules); all else fails fast.
            args += [f"--proxy-server={dead}",
                     "--force-webrtc-ip-handling-policy=disable_non_proxied_udp"]
        args += extra_args

        # Crashpad keeps its database under the *default* profile dir: keep it in tmp too.
        env = dict(os.environ, XDG_CONFIG_HOME=f"{self._tmp}/config",
                   XDG_CACHE_HOME=f"{self._tmp}/cache")
        try:
            self.proc, self._conn = launch(args, env, self.log_path)
        except BaseException:
            self._dead_port.close()
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        self._finalizer = weakref.finalize(self, _stop, self.proc, self._conn, self._tmp,
                                           self._dead_port)
        try:
            self.version = self.call("Browser.getVersion", timeout=launch_timeout)
        except CDPError as e:
            log = self.log_tail()
            self.close()
            raise CDPError(f"Chromium did not start ({e}); its output:\n{log}") from None

    def call(self, method, params=None, session=None, timeout=10.0):
        """Raw CDP command; returns its result dict, raises CDPError."""
        return self._conn.call(method, params, session, timeout)

    def log_tail(self, n=30):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def open(self, url, timeout=20.0):
        """A new tab with traffic recording on, navigated to url and loaded: a Page."""
        deadline = time.monotonic() + timeout
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        try:
            page._start(url, max(0.5, deadline - time.monotonic()))
        except BaseException:
            try:
                page.close()
            except CDPError:
                pass  # the browser is gone: report what went wrong first
            raise
        return page

    def close(self):
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# Frames in other processes and workers get their own sessions; they are paused until their
# recording is on, so not even their first request escapes.
_AUTO_ATTACH = {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True}


class Page:
    """One tab.  `requests` and `console_errors` accumulate from open() on."""

    def __init__(self, browser, target_id, session):
        self.browser, self.target_id, self.session = browser, target_id, session
        self._cond = threading.Condition()
        self._requests, self._errors, self._lifecycle = [], [], set()
        self._children = set()
        browser._conn.handlers[session] = self._on_event

    @property
    def requests(self):
        """URLs of every request seen so far (documents, subresources, fetch/XHR, websockets)."""
        with self._cond:
            return list(self._requests)

    @property
    def console_errors(self):
        """Uncaught exceptions, console.error/assert calls and browser log errors, as text."""
        with self._cond:
            return list(self._errors)

    def non_local_requests(self):
        """The requests that tried to leave this machine (see is_local_url)."""
        return [u for u in self.requests if not is_local_url(u)]

    def _start(self, url, timeout):
        call = self.browser.call
        # The viewport, not just the window, is width x height: screenshots are predictable.
        call("Emulation.setDeviceMetricsOverride", {
            "width": self.browser.width, "height": self.browser.height,
            "deviceScaleFactor": 1, "mobile": False}, self.session)
        for method in ("Page.enable", "Network.enable", "Runtime.enable", "Log.enable"):
            call(method, {}, self.session)
        call("Page.setLifecycleEventsEnabled", {"enabled": True}, self.session)
        call("Target.setAutoAttach", _AUTO_ATTACH, self.session)
        self.goto(url, timeout)

    def goto(self, url, timeout=20.0):
        """Navigate and wait for the load event."""
        nav = self.browser.call("Page.navigate", {"url": url}, self.session, timeout)
        if nav.get("errorText"):
            raise CDPError(f"navigating to {url}: {nav['errorText']}")
        if not nav.get("loaderId"):  # same-document navigation: no load event comes
            return
        key = (nav["frameId"], nav["loaderId"], "load")
        with self._cond:
            if not self._cond.wait_for(lambda: key in self._lifecycle, timeout):
                raise CDPError(f"{url}: no load event within {timeout:.1f}s")

    def evaluate(self, expression, timeout=10.0):
        """Value of a JS expression (awaited if a promise); JSError if it throws."""
        reply = self.browser.call("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": True,
        }, self.session, timeout)
        if "exceptionDetails" in reply:
            d = reply["exceptionDetails"]
            text = (d.get("exception") or {}).get("description") or d.get("text")
            raise JSError(f"{expression!r} threw: {text}")
        result = reply["result"]
        if "unserializableValue" in result:  # NaN, Infinity, -0, bigint
            v = result["unserializableValue"]
            return int(v[:-1]) if v.endswith("n") else float(v)
        return result.get("value")

    def wait_for(self, expression, timeout=10.0, interval=0.1):
        """Poll until the expression is truthy and return its value; TimeoutError if not."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                value = self.evaluate(expression, timeout=max(1.0, deadline - time.monotonic()))
                if value:
                    return value
                last = f"last value {value!r}"
            except JSError as e:  # e.g. the element is not there yet
                last = str(e)
            except CDPError as e:  # e.g. the page reloaded mid-evaluation; not a dead browser
                if self.browser._conn.closed:
                    raise
                last = str(e)
            if time.monotonic() >= deadline:
                errors = "; ".join(self.console_errors) or "none"
                raise TimeoutError(f"wait_for({expression!r}) still falsy after {timeout}s "
                                   f"({last}); page errors: {errors}")
            time.sleep(interval)

    def screenshot(self, path, full_page=True):
        """Write a PNG of the page (all of it if full_page) to path; returns the Path."""
        params = {"format": "png"}
        if full_page:
            metrics = self.browser.call("Page.getLayoutMetrics", session=self.session)
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": math.ceil(size["width"]),
                              "height": math.ceil(size["height"]), "scale": 1}
            params["captureBeyondViewport"] = True
        data = self.browser.call("Page.captureScreenshot", params, self.session, 30)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self):
        """Close the tab (the browser keeps running)."""
        try:
            self.browser.call("Target.closeTarget", {"targetId": self.target_id})
        finally:
            for s in (self.session, *self._children):
                self.browser._conn.handlers.pop(s, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _on_event(self, method, p):
        with self._cond:
            if method == "Network.requestWillBeSent":
                self._requests.append(p["request"]["url"])
            elif method in ("Network.webSocketCreated", "Network.webTransportCreated"):
                self._requests.append(p["url"])
            elif method == "Page.lifecycleEvent":
                self._lifecycle.add((p["frameId"], p["loaderId"], p["name"]))
                self._cond.notify_all()
            elif method == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                text = (d.get("exception") or {}).get("description") or d.get("text")
                self._errors.append(f"exception: {text} ({d.get('url', '')}:{d.get('lineNumber')})")
            elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"])
                self._errors.append(f"console.{p['type']}: {args}")
            elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
                e = p["entry"]
                self._errors.append(f"log: {e['text']} ({e.get('url', '')})")
            elif method == "Target.attachedToTarget":
                self._attach_child(p["sessionId"])
            elif method == "Target.detachedFromTarget":
                self._children.discard(p["sessionId"])
                self.browser._conn.handlers.pop(p["sessionId"], None)

    def _attach_child(self, session):
        # Runs on the reader thread: send() only.  Commands run in order, so recording is on
        # before the child resumes.
        self._children.add(session)
        conn = self.browser._conn
        conn.handlers[session] = self._on_event
        for method, params in (("Network.enable", {}), ("Runtime.enable", {}),
                               ("Log.enable", {}), ("Target.setAutoAttach", _AUTO_ATTACH),
                               ("Runtime.runIfWaitingForDebugger", {})):
            conn.send(method, params, session)
