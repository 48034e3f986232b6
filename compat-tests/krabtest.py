"""Helpers shared by the krab compatibility tests (processes, ZooKeeper, clients)."""
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
KRAB_BIN = Path(os.environ.get("KRAB_BIN") or REPO / "target" / "release" / "krab")
ARTIFACTS = REPO / "compat-tests" / "artifacts"
START_TIMEOUT = float(os.environ.get("KRAB_START_TIMEOUT", "30"))
LISTENING_RE = re.compile(r"listening on (\S+):(\d+)")
MONITOR_RE = re.compile(r"krab monitor serving (https?://\S+?)/?$", re.M)

_uniq = itertools.count()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique_topic(prefix="t"):
    """A topic name unique within this run (and across runs, via the pid)."""
    return f"{prefix}-{os.getpid()}-{next(_uniq)}-{int(time.time() * 1000) % 100000}"


def tail(path, n=60):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "<no file>"
    return "\n".join(lines[-n:])


def wait_until(pred, timeout=10.0, interval=0.1, msg="condition"):
    """Poll ``pred`` until it returns a truthy value; return it or fail the test."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - surfaced in the failure message
            last_exc = e
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {msg}"
                        + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# ZooKeeper
# ---------------------------------------------------------------------------------------------
def eventually(fn, pred, timeout, msg, show=lambda v: repr(v)[:800]):
    """Call ``fn`` until ``pred(value)`` holds and return that value; fail with the last value
    (via ``show``) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last, last_exc = None, None
    while True:
        try:
            last = fn()
            if pred(last):
                return last
        except Exception as e:  # noqa: BLE001 - surfaced in the failure message
            last_exc = e
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {msg}; last: {show(last)}"
                        + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(0.1)


def zookeeper_classpath():
    if os.environ.get("ZOOKEEPER_CLASSPATH"):
        return os.environ["ZOOKEEPER_CLASSPATH"]
    # Debian/Ubuntu package: /usr/share/java/zookeeper.jar, whose manifest Class-Path lists all
    # its dependencies (jute, netty, slf4j, jackson, jetty, ...) in /usr/share/java.
    deb = Path("/usr/share/java/zookeeper.jar")
    if deb.exists():
        return str(deb)
    # Apache tarball layout.
    for home in filter(None, [os.environ.get("ZOOKEEPER_HOME"), "/usr/share/zookeeper",
                              "/opt/zookeeper"]):
        jars = sorted(Path(home).glob("lib/*.jar")) + sorted(Path(home).glob("*.jar"))
        if jars:
            return os.pathsep.join(map(str, jars))
    return None


class ZooKeeperServer:
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.hosts = f"127.0.0.1:{self.port}"
        self.proc = None
        self.log = self.workdir / "zookeeper.log"

    def start(self, timeout=60):
        cp = zookeeper_classpath()
        if cp is None:
            pytest.fail("ZooKeeper jars not found (apt-get install zookeeper, or set ZOOKEEPER_CLASSPATH)")
        java = shutil.which("java")
        if java is None:
            pytest.fail("java not found (the zookeeper package depends on default-jre)")
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        cfg = self.workdir / "zoo.cfg"
        # tickTime 500 / maxSessionTimeout 6000: a SIGKILLed broker's ephemeral znodes vanish
        # within ~6 s, so restart-after-kill tests stay quick.
        cfg.write_text("\n".join([
            "tickTime=500",
            f"dataDir={data}",
            f"clientPort={self.port}",
            "clientPortAddress=127.0.0.1",
            "maxClientCnxns=0",
            "minSessionTimeout=1000",
            "maxSessionTimeout=6000",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            "",
        ]))
        cmd = [java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
               "-Dzookeeper.admin.enableServer=false",
               "-Dzookeeper.4lw.commands.whitelist=*",
               "-cp", cp, "org.apache.zookeeper.server.ZooKeeperServerMain", str(cfg)]
        self._logf = open(self.log, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"ZooKeeper exited with {self.proc.returncode}:\n{tail(self.log)}")
            if self.four_letter("ruok") == "imok":
                return self
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"ZooKeeper did not answer ruok within {timeout}s:\n{tail(self.log)}")

    def four_letter(self, word):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall(word.encode())
                out = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    out += chunk
                return out.decode(errors="replace")
        except OSError:
            return None

    def client(self):
        from kazoo.client import KazooClient
        zk = KazooClient(hosts=self.hosts, timeout=10)
        zk.start(timeout=15)
        return zk

    def wipe(self):
        """Remove everything a previous test (or broker) left, except /zookeeper."""
        zk = self.client()
        try:
            for child in zk.get_children("/"):
                if child != "zookeeper":
                    zk.delete("/" + child, recursive=True)
        finally:
            zk.stop()
            zk.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_logf", None):
            self._logf.close()


# ---------------------------------------------------------------------------------------------
# krab processes
# ---------------------------------------------------------------------------------------------
class KrabExited(Exception):
    pass


class Krab:
    """One krab broker (possibly started several times on the same log dir)."""

    def __init__(self, name, workdir, mode, overrides, broker_id, zk_connect, config_file,
                 extra_args):
        self.name = name
        self.workdir = Path(workdir)
        self.log_dir = self.workdir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.mode = mode
        self.overrides = dict(overrides or {})
        self.broker_id = broker_id
        self.zk_connect = zk_connect
        self.config_file = config_file
        self.extra_args = list(extra_args or [])
        self.proc = None
        self.host = None
        self.port = None
        self.runs = 0
        self._expected_exit = True
        self._files = []

    # -- command line ---------------------------------------------------------------------
    def command(self, port=0):
        cmd = [str(KRAB_BIN), "serve"]
        if self.config_file:
            cmd.append(str(self.config_file))
        ov = {"listeners": f"PLAINTEXT://127.0.0.1:{port}", "log.dirs": str(self.log_dir)}
        if self.zk_connect:
            ov["zookeeper.connect"] = self.zk_connect
        if self.broker_id is not None:
            ov["broker.id"] = str(self.broker_id)
        ov.update({k: str(v) for k, v in self.overrides.items()})
        for k, v in ov.items():
            cmd += ["--override", f"{k}={v}"]
        return cmd + self.extra_args

    @property
    def bootstrap(self):
        return f"{self.host}:{self.port}"

    def listener(self, name, timeout=10):
        """``HOST:PORT`` of listener ``name`` (as in ``listeners``), from this run's stdout line
        ``krab listener NAME (PROTOCOL) listening on HOST:PORT``."""
        pattern = re.compile(rf"^krab listener {re.escape(name.upper())} \(\S+\) "
                             r"listening on (\S+:\d+)\s*$", re.M)

        def printed():
            return pattern.search(self.stdout_path.read_text(errors="replace"))
        return wait_until(printed, timeout=timeout,
                          msg=f"krab[{self.name}]'s listener {name} line").group(1)

    @property
    def monitor_url(self):
        """``http://HOST:PORT`` of the monitor this broker serves (``monitor.listener``)."""
        def printed():
            return MONITOR_RE.search(self.stdout_path.read_text(errors="replace"))
        return wait_until(printed, timeout=10, msg=f"krab[{self.name}]'s monitor line").group(1)

    @property
    def stdout_path(self):
        return self.workdir / f"stdout.{self.runs}.log"

    @property
    def stderr_path(self):
        return self.workdir / f"stderr.{self.runs}.log"

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, port=0, timeout=START_TIMEOUT):
        if not KRAB_BIN.exists():
            pytest.fail(f"krab binary not found at {KRAB_BIN} (cargo build --release, or set KRAB_BIN)")
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.runs += 1
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        self._files += [out, err]
        self.proc = subprocess.Popen(self.command(port), stdout=out, stderr=err,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self._expected_exit = False
        deadline = time.monotonic() + timeout
        while True:
            m = LISTENING_RE.search(self.stdout_path.read_text(errors="replace"))
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                return self
            rc = self.proc.poll()
            if rc is not None:
                self._expected_exit = True
                raise KrabExited(f"krab[{self.name}] exited with code {rc} before listening\n"
                                 f"command: {' '.join(self.command(port))}\n"
                                 f"--- stdout ---\n{tail(self.stdout_path)}\n"
                                 f"--- stderr ---\n{tail(self.stderr_path)}")
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                self._expected_exit = True
                pytest.fail(f"krab[{self.name}] printed no 'listening on' line within {timeout}s\n"
                            f"--- stdout ---\n{tail(self.stdout_path)}\n"
                            f"--- stderr ---\n{tail(self.stderr_path)}")
            time.sleep(0.05)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit code.  Fails the test if it hangs."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        self._expected_exit = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"krab[{self.name}] did not exit within {timeout}s of SIGTERM\n"
                        f"{tail(self.stderr_path)}")

    def kill(self):
        """SIGKILL (no chance to flush anything) and reap."""
        if self.running():
            self._expected_exit = True
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def restart(self, same_port=True, timeout=START_TIMEOUT):
        """Stop (SIGTERM) if running, then start again on the same log dir (and port)."""
        if self.running():
            self.stop()
        old = self.port
        if same_port and old:
            try:
                return self.start(port=old, timeout=timeout)
            except KrabExited as e:
                if "in use" not in str(e).lower():
                    pytest.fail(str(e))
                # port re-bound by someone else in the meantime: fall back to a new one
        try:
            return self.start(port=0, timeout=timeout)
        except KrabExited as e:
            pytest.fail(str(e))

    def check_alive(self):
        if not self.running():
            pytest.fail(f"krab[{self.name}] is not running (exit code {self.proc.returncode})\n"
                        f"{tail(self.stderr_path)}")

    def died_unexpectedly(self):
        return self.proc is not None and self.proc.poll() is not None and not self._expected_exit

    def log_text(self):
        parts = []
        for i in range(1, self.runs + 1):
            for kind in ("stdout", "stderr"):
                p = self.workdir / f"{kind}.{i}.log"
                if p.exists():
                    parts.append(f"--- run {i} {kind} ---\n{tail(p, 80)}")
        return "\n".join(parts)

    def close_files(self):
        for f in self._files:
            f.close()
        self._files = []


def run_krab_cli(*args, timeout=30):
    """Run ``krab <args>`` (e.g. the ``topics`` tool) and return the CompletedProcess."""
    if not KRAB_BIN.exists():
        pytest.fail(f"krab binary not found at {KRAB_BIN}")
    return subprocess.run([str(KRAB_BIN), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------------------------------------
# small shared client helpers
# ---------------------------------------------------------------------------------------------
def confluent_consume_all(bootstrap, topic, expected, partitions=(0,), timeout=30,
                          extra_conf=None):
    """assign() every partition from OFFSET_BEGINNING and read until ``expected`` messages
    arrived (or timeout).  Returns the list of confluent Message objects."""
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    conf = {"bootstrap.servers": bootstrap, "group.id": "compat-reader",
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "enable.partition.eof": False}
    conf.update(extra_conf or {})
    c = Consumer(conf)
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < expected and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                raise AssertionError(f"consumer error: {m.error()}")
            out.append(m)
        # linger briefly to catch unexpected extra messages
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            m = c.poll(0.2)
            if m is not None and not m.error():
                out.append(m)
        return out
    finally:
        c.close()


def confluent_watermarks(bootstrap, topic, partition=0):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compat-wm",
                  "enable.auto.commit": False})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
    finally:
        c.close()


def json_znode(zk, path):
    data, stat = zk.get(path)
    return json.loads(data.decode("utf-8")), stat
