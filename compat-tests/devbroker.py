"""`krab dev` brokers for the tests: start one, read its JSON ready line, stop it, and talk to
its control endpoint (fault injection)."""
import json
import os
import select
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from krabtest import KRAB_BIN, tail


class DevBroker:
    def __init__(self, workdir, overrides=None, extra_args=(), control=False):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.overrides = dict(overrides or {})
        if control:
            self.overrides.setdefault("control.listener", "127.0.0.1:0")
        self.extra_args = list(extra_args)
        self.proc = None
        self.ready = None
        self.stderr_path = self.workdir / f"dev-{id(self)}.stderr"

    def command(self):
        cmd = [str(KRAB_BIN), "dev", "--temp-dir", str(self.workdir), *self.extra_args]
        for k, v in self.overrides.items():
            cmd += ["--override", f"{k}={v}"]
        return cmd

    def start(self, timeout=15):
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=self._stderr)
        self.ready = read_ready_line(self.proc, timeout, self.stderr_path)
        return self

    @property
    def bootstrap(self):
        return self.ready["bootstrap"]

    @property
    def data_dir(self):
        return Path(self.ready["data_dir"])

    @property
    def control_addr(self):
        return self.ready["control"]

    def control(self, request):
        return control_request(self.control_addr, request)

    def add_fault(self, **fault):
        reply = self.control({"op": "add", "fault": fault})
        assert reply["ok"], reply
        return reply["id"]

    def faults(self):
        reply = self.control({"op": "list"})
        assert reply["ok"], reply
        return reply["faults"]

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if getattr(self, "_stderr", None):
            self._stderr.close()
        return self.proc.returncode if self.proc else None

    def log_text(self):
        return tail(self.stderr_path, 200)


def control_request(addr, request):
    """One JSON request line to a control endpoint; its JSON reply."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall((json.dumps(request) + "\n").encode())
        return json.loads(s.makefile().readline())


def read_ready_line(proc, timeout, stderr_path=None):
    """The first stdout line of a `krab dev` process, parsed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        readable, _, _ = select.select([proc.stdout], [], [], 0.1)
        if readable:
            line = proc.stdout.readline()
            if line:
                return json.loads(line)
        if proc.poll() is not None:
            break
    proc.kill()
    pytest.fail(f"krab dev printed no ready line within {timeout}s (exit {proc.poll()})\n"
                + (tail(stderr_path) if stderr_path else ""))


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def dev_broker(tmp_path):
    """A factory of `krab dev` brokers, all stopped at the end of the test."""
    started = []

    def start(overrides=None, extra_args=(), control=False):
        b = DevBroker(tmp_path / f"b{len(started)}", overrides, extra_args, control).start()
        started.append(b)
        return b

    yield start
    for b in started:
        b.stop()
