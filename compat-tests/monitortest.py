"""Helpers for the offset-monitor tests: a `krab monitor` process and small HTTP helpers."""
import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from krabtest import KRAB_BIN, MONITOR_RE, tail, wait_until


class MonitorProcess:
    """`krab monitor ...` on 127.0.0.1 port 0, its history in ``data_dir``."""

    def __init__(self, workdir, source_args, refresh="1.seconds", retain="1.days", data_dir=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir or self.workdir / "history")
        self.args = [str(KRAB_BIN), "monitor", *source_args, "--host", "127.0.0.1", "--port", "0",
                     "--refresh", refresh, "--retain", retain, "--data-dir", str(self.data_dir)]
        self.proc = None
        self.url = None
        self.runs = 0

    def start(self, timeout=20):
        self.runs += 1
        self.out = self.workdir / f"monitor.{self.runs}.out"
        self.err = self.workdir / f"monitor.{self.runs}.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = MONITOR_RE.search(self.out.read_text(errors="replace"))
            if m:
                self.url = m.group(1)
                return self
            if self.proc.poll() is not None:
                pytest.fail(f"krab monitor exited with {self.proc.returncode}:\n{tail(self.err)}")
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"krab monitor printed no serving line:\n{tail(self.err)}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail(f"krab monitor ignored SIGTERM:\n{tail(self.err)}")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def http(url, method="GET", timeout=10):
    """(status, body text, headers) without raising on 4xx/5xx."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def api(base, path):
    status, body, headers = http(base + path)
    assert status == 200, f"{path}: {status} {body}"
    assert headers["Content-Type"].startswith("application/json")
    return json.loads(body)


def group_rows(base, group):
    """{(topic, partition): row} of the group's API answer, or {} while the group is unknown."""
    status, body, _ = http(f"{base}/api/groups/{group}")
    if status == 404:
        return {}
    assert status == 200, body
    return {(r["topic"], r["partition"]): r for r in json.loads(body)["group"]["partitions"]}


def refreshed_after(base, t_ms, timeout=20):
    """Waits for a refresh that started after ``t_ms`` (ms since the epoch) and succeeded."""
    def fresh():
        status = api(base, "/api/groups")["status"]
        return status["taken_at_ms"] > t_ms and status["data_as_of_ms"] == status["taken_at_ms"]
    wait_until(fresh, timeout=timeout, interval=0.2, msg="a monitor refresh")


def now_ms():
    return int(time.time() * 1000)
