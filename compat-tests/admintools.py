"""Helpers for the admin-tool tests: run the scripts/kafka-*.sh wrappers as a user would,
and follow a long-running console consumer's output."""
import os
import queue
import signal
import subprocess
import threading
import time

import pytest

from krabtest import KRAB_BIN, REPO

SCRIPTS = REPO / "scripts"


def _env():
    env = dict(os.environ)
    env["KRAB_BIN"] = str(KRAB_BIN)
    return env


def wrapper(script, *args, input=None, timeout=60):
    """Run ``scripts/<script> args...`` to completion; returns the CompletedProcess."""
    if not KRAB_BIN.exists():
        pytest.fail(f"krab binary not found at {KRAB_BIN}")
    return subprocess.run([str(SCRIPTS / script), *map(str, args)], input=input,
                          capture_output=True, text=True, timeout=timeout, env=_env(),
                          stdin=None if input is not None else subprocess.DEVNULL)


def topics(*args, **kw):
    return wrapper("kafka-topics.sh", *args, **kw)


def ok(result):
    """Assert a wrapper run succeeded; return its stdout."""
    assert result.returncode == 0, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result.stdout


def failed(result, *words):
    """Assert a wrapper run failed with a one-line error mentioning every word."""
    assert result.returncode != 0, f"unexpected success\nstdout: {result.stdout}\nstderr: {result.stderr}"
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected a one-line error, got: {result.stderr!r}"
    for w in words:
        assert w.lower() in lines[0].lower(), f"{w!r} not in {lines[0]!r}"
    return lines[0]


class Background:
    """A wrapper running in the background (a console consumer); its stdout lines are
    collected by a thread so the test can wait for them."""

    def __init__(self, script, *args):
        self.proc = subprocess.Popen([str(SCRIPTS / script), *map(str, args)], env=_env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        self.lines = queue.Queue()
        self.seen = []
        self.stderr = ""
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def read(self, n, timeout=30):
        """Wait for ``n`` more lines; returns all lines seen so far."""
        want = len(self.seen) + n
        deadline = time.monotonic() + timeout
        while len(self.seen) < want:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                pytest.fail(f"got {len(self.seen)} of {want} lines: {self.seen}\nstderr: {self.stderr}")
            try:
                self.seen.append(self.lines.get(timeout=min(left, 0.5)))
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    self.stderr = self.proc.stderr.read()
                    pytest.fail(f"consumer exited ({self.proc.returncode}) after {self.seen}\n{self.stderr}")
        return list(self.seen)

    def stop(self, sig=signal.SIGINT, timeout=20):
        """Ctrl-C, as a user stops the console consumer; returns its exit code."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                pytest.fail("console consumer ignored SIGINT")
        if not self.stderr:
            self.stderr = self.proc.stderr.read()
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return self.proc.returncode
