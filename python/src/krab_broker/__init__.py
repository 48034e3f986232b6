"""Run throw-away krab brokers (Kafka-compatible) from Python.

The wheel installs the ``krab`` executable next to the interpreter; this module starts it as
``krab dev``, which keeps its data in a fresh temporary directory, picks a free port and
removes everything on exit.  Pure standard library, so it adds nothing to a test environment.

    with KrabBroker({"num.partitions": "3"}) as broker:
        producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap})
"""
from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from typing import Dict, List, Optional

__all__ = ["KrabBroker", "KrabError", "krab_binary"]
__version__ = "0.1.0"

_EXE = "krab.exe" if sys.platform == "win32" else "krab"


class KrabError(RuntimeError):
    """krab could not be found, did not start, or a ``krab`` command failed."""


def krab_binary() -> str:
    """Path of the krab executable: ``$KRAB_BIN``, else the one this wheel installed into the
    running interpreter's scripts directory (also the user scheme, for ``pip install --user``),
    else ``krab`` on ``PATH``."""
    if os.environ.get("KRAB_BIN"):
        return os.environ["KRAB_BIN"]
    schemes = [None, f"{os.name}_user"]  # None: the interpreter's default (venv aware) scheme
    for scheme in schemes:
        try:
            scripts = sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
        except KeyError:
            continue
        candidate = os.path.join(scripts, _EXE)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("krab")
    if found:
        return found
    raise KrabError("krab executable not found: install the krab-broker wheel into this "
                    "environment, put krab on PATH, or set KRAB_BIN")


def _value(v) -> str:
    # Kafka properties spell booleans in lower case.
    return str(v).lower() if isinstance(v, bool) else str(v)


class KrabBroker:
    """One ``krab dev`` process.  ``start()``/``stop()`` or use it as a context manager.

    After ``start()``: ``bootstrap`` ("host:port"), ``data_dir``, ``pid`` and ``process``.
    ``properties`` are broker settings passed as ``--override key=value`` (for instance
    ``{"emulate.kafka.version": "0.10.2"}`` to answer as Kafka 0.10.2 would).
    ``faults=True`` opens the broker's control endpoint: then ``add_fault()``,
    ``remove_fault()``, ``faults()`` and ``clear_faults()`` inject failures on purpose.
    """

    def __init__(self, properties: Optional[Dict[str, object]] = None, host: str = "127.0.0.1",
                 startup_timeout: float = 10.0, faults: bool = False):
        self.properties = dict(properties or {})
        if faults:
            self.properties.setdefault("control.listener", f"{host}:0")
        self.control: Optional[str] = None
        self.host = host
        self.startup_timeout = startup_timeout
        self.bootstrap: Optional[str] = None
        self.data_dir: Optional[str] = None
        self.pid: Optional[int] = None
        self.process: Optional[subprocess.Popen] = None
        self.log_path: Optional[str] = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> "KrabBroker":
        if self.process is not None and self.process.poll() is None:
            raise KrabError(f"{self!r} is already running")
        cmd = [krab_binary(), "dev", "--port", "0", "--host", self.host, "--exit-with-parent"]
        for k, v in self.properties.items():
            cmd += ["--override", f"{k}={_value(v)}"]
        # stderr (the broker's log) goes to a file: a pipe nobody reads would fill up and
        # block the broker.  stdout carries exactly one line, the JSON ready line.
        fd, self.log_path = tempfile.mkstemp(prefix="krab-dev-", suffix=".log")
        with os.fdopen(fd, "wb") as log:
            self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=log, bufsize=0)
        try:
            line = self._first_line(time.monotonic() + self.startup_timeout)
            try:
                ready = json.loads(line)
                self.bootstrap, self.data_dir, self.pid = ready["bootstrap"], ready["data_dir"], ready["pid"]
                self.control = ready.get("control")
            except (ValueError, KeyError, TypeError):
                raise KrabError(f"unexpected ready line from krab dev: {line!r}") from None
        except BaseException:
            self._kill(grace=2.0)
            self.stop()  # closes the pipe and removes the log file
            raise
        return self

    def _first_line(self, deadline: float) -> str:
        """Read stdout up to the first newline, failing on timeout or early exit."""
        fd = self.process.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KrabError(f"krab dev did not report ready within {self.startup_timeout}s\n"
                                + self.log_tail())
            if select.select([fd], [], [], min(remaining, 0.2))[0]:
                chunk = os.read(fd, 4096)
                if not chunk:  # EOF: the process exited (bad property, port in use, ...)
                    rc = self.process.wait()
                    raise KrabError(f"krab dev exited with code {rc} before it was ready\n"
                                    + self.log_tail())
                buf += chunk
        return buf.split(b"\n", 1)[0].decode()

    def _kill(self, grace: float = 0.0) -> None:
        """SIGTERM first when ``grace`` > 0 (krab dev then removes its directory), SIGKILL
        if it is still running after ``grace`` seconds."""
        if self.process.poll() is None and grace > 0:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM, wait up to 30 s, then SIGKILL.  Safe to call more than once."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self._kill()
        if self.process.stdout:
            self.process.stdout.close()
        if self.log_path and os.path.exists(self.log_path):
            os.unlink(self.log_path)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the broker logged (its stderr), while it runs or until stop()."""
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except (OSError, TypeError):
            return ""

    def __enter__(self) -> "KrabBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.process is not None and self.process.poll() is None else "stopped"
        return f"<KrabBroker {self.bootstrap or 'not started'} pid={self.pid} {state}>"

    # -- admin ----------------------------------------------------------------------------
    def _tool(self, *args: str) -> str:
        if not self.bootstrap:
            raise KrabError("the broker is not started")
        cmd = [krab_binary(), "topics", "--bootstrap-server", self.bootstrap, *args]
        res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=60)
        if res.returncode != 0:
            raise KrabError(f"{' '.join(cmd)} failed with code {res.returncode}:\n{res.stderr}")
        return res.stdout

    def create_topic(self, name: str, partitions: int = 1, replication_factor: int = 1,
                     config: Optional[Dict[str, object]] = None) -> None:
        args = ["--create", "--topic", name, "--partitions", str(partitions),
                "--replication-factor", str(replication_factor)]
        for k, v in (config or {}).items():
            args += ["--config", f"{k}={_value(v)}"]
        self._tool(*args)

    def topics(self) -> List[str]:
        return [t.strip() for t in self._tool("--list").splitlines() if t.strip()]

    # -- fault injection (faults=True) ----------------------------------------------------
    def _control(self, request: dict) -> dict:
        import socket
        if not self.control:
            raise KrabError("start the broker with faults=True to inject faults")
        host, port = self.control.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall((json.dumps(request) + "\n").encode())
            reply = json.loads(s.makefile().readline())
        if not reply.get("ok"):
            raise KrabError(reply.get("error", "the broker refused the request"))
        return reply

    def add_fault(self, action, api: Optional[str] = None, topic: Optional[str] = None,
                  partition: Optional[int] = None, client_id: Optional[str] = None,
                  count: Optional[int] = None, duration_ms: Optional[int] = None) -> int:
        """Inject a fault; returns its id.  ``action`` is ``{"error": 6}``,
        ``{"latency_ms": 200}``, ``"close"``, ``"stall_fetch"`` or ``"disk_full"``."""
        fault = {"action": action, "api": api, "topic": topic, "partition": partition,
                 "client_id": client_id, "count": count, "duration_ms": duration_ms}
        fault = {k: v for k, v in fault.items() if v is not None}
        return self._control({"op": "add", "fault": fault})["id"]

    def remove_fault(self, fault_id: int) -> None:
        self._control({"op": "remove", "id": fault_id})

    def faults(self) -> list:
        return self._control({"op": "list"})["faults"]

    def clear_faults(self) -> int:
        return self._control({"op": "clear"})["removed"]
