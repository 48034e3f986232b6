"""Helpers for the replication tests: a cluster of krab brokers on the session ZooKeeper,
partition state as ZooKeeper holds it, and replica logs compared through `krab dump-log`."""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from krabtest import KRAB_BIN, wait_until

# Short enough that failover tests stay quick, long enough that a loaded 2-core machine does
# not expire sessions by accident (ZooKeeper in the suite allows 1-6 s).
SESSION_MS = 3000
LAG_MS = 2500

CLUSTER_OVERRIDES = {
    "zookeeper.session.timeout.ms": SESSION_MS,
    "replica.lag.time.max.ms": LAG_MS,
    "group.initial.rebalance.delay.ms": 0,
    "group.min.session.timeout.ms": 1000,
    "num.partitions": 1,
    "default.replication.factor": 1,
}


class Cluster:
    def __init__(self, krab, zk, n=3, overrides=None, prepare=None):
        """``prepare(brokers)`` runs before any broker starts (e.g. to mount a small disk
        under one broker's log directory)."""
        self.zk = zk
        ov = dict(CLUSTER_OVERRIDES)
        ov.update(overrides or {})
        self.brokers = [krab(mode="zookeeper", broker_id=i, overrides=ov, start=False) for i in range(n)]
        if prepare:
            prepare(self.brokers)
        for b in self.brokers:
            b.start()
        wait_until(lambda: len(self.zk.get_children("/brokers/ids")) == n, timeout=20,
                   msg=f"{n} brokers registered")

    # -- brokers --------------------------------------------------------------------------
    def broker(self, broker_id):
        return self.brokers[broker_id]

    @property
    def bootstrap(self):
        return ",".join(b.bootstrap for b in self.brokers if b.running())

    def live_ids(self):
        return sorted(int(i) for i in self.zk.get_children("/brokers/ids"))

    def wait_registered(self, ids, timeout=20):
        ids = sorted(ids)
        return wait_until(lambda: self.live_ids() == ids, timeout=timeout, msg=f"live brokers {ids}")

    def pause(self, broker_id):
        os.kill(self.brokers[broker_id].proc.pid, signal.SIGSTOP)

    def resume(self, broker_id):
        os.kill(self.brokers[broker_id].proc.pid, signal.SIGCONT)

    def controller(self):
        data, _ = self.zk.get("/controller")
        return json.loads(data)["brokerid"]

    def controller_epoch(self):
        return int(self.zk.get("/controller_epoch")[0])

    # -- topics ---------------------------------------------------------------------------
    def create_topic(self, name, partitions, rf, configs=None, assignment=None):
        args = [str(KRAB_BIN), "topics", "--bootstrap-server", self.bootstrap, "--create",
                "--topic", name]
        if assignment:
            args += ["--replica-assignment", assignment]
        else:
            args += ["--partitions", str(partitions), "--replication-factor", str(rf)]
        for k, v in (configs or {}).items():
            args += ["--config", f"{k}={v}"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        n = partitions if not assignment else len(assignment.split(","))
        for p in range(n):
            self.wait_full_isr(name, p)
        self.wait_metadata(name, n)

    def wait_metadata(self, topic, partitions, timeout=15):
        """Every running broker's Metadata lists the topic with a leader for each partition
        (brokers learn new topics and states within a sync round)."""
        from confluent_kafka.admin import AdminClient
        for b in self.brokers:
            if not b.running():
                continue
            admin = AdminClient({"bootstrap.servers": b.bootstrap})

            def ready():
                md = admin.list_topics(topic, timeout=5).topics.get(topic)
                return (md is not None and md.error is None and len(md.partitions) == partitions
                        and all(p.leader >= 0 for p in md.partitions.values()))
            wait_until(ready, timeout=timeout, msg=f"{topic} with leaders in broker {b.name}'s metadata")

    def state(self, topic, p):
        """The state znode's JSON, or None while it does not exist."""
        path = f"/brokers/topics/{topic}/partitions/{p}/state"
        if not self.zk.exists(path):
            return None
        data, _ = self.zk.get(path)
        return json.loads(data)

    def replicas(self, topic, p):
        data, _ = self.zk.get(f"/brokers/topics/{topic}")
        return json.loads(data)["partitions"][str(p)]

    def leader(self, topic, p):
        return self.state(topic, p)["leader"]

    def wait_state(self, topic, p, pred, timeout=30, msg="partition state"):
        seen = []

        def check():
            s = self.state(topic, p)
            seen.append(s)
            return s if s is not None and pred(s) else None
        try:
            return wait_until(check, timeout=timeout, msg=f"{msg} of {topic}-{p}")
        except BaseException:
            print(f"last state of {topic}-{p}: {seen[-1:]}")
            raise

    def wait_full_isr(self, topic, p, timeout=30):
        replicas = set(self.replicas(topic, p))
        return self.wait_state(topic, p, lambda s: set(s["isr"]) == replicas and s["leader"] >= 0,
                               timeout=timeout, msg="full ISR")

    def wait_leader_moved(self, topic, p, old, timeout=30):
        return self.wait_state(topic, p, lambda s: s["leader"] not in (old, -1), timeout=timeout,
                               msg=f"a leader other than {old}")

    # -- replica logs ---------------------------------------------------------------------
    def dump(self, broker_id, topic, p):
        """Batch lines of the replica's segments (positions dropped: they may differ
        across segment boundaries only), via `krab dump-log`."""
        d = self.brokers[broker_id].log_dir / f"{topic}-{p}"
        files = sorted(str(f) for f in d.glob("*.log"))
        if not files:
            return []
        r = subprocess.run([str(KRAB_BIN), "dump-log", "--files", ",".join(files)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        out = []
        for line in r.stdout.splitlines():
            if line.startswith("baseOffset:"):
                assert "isvalid: true" in line, line
                out.append(" ".join(w for i, w in enumerate(line.split()) if not _is_position(line, i)))
        return out


def producer_epochs(cluster, broker_id, topic, p):
    """offset -> producer epoch of every record in a replica (via `krab dump-log`)."""
    d = cluster.brokers[broker_id].log_dir / f"{topic}-{p}"
    files = sorted(str(f) for f in d.glob("*.log"))
    r = subprocess.run([str(KRAB_BIN), "dump-log", "--print-data-log", "--files", ",".join(files)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    epochs, epoch = {}, None
    for line in r.stdout.splitlines():
        words = line.split()
        if line.startswith("baseOffset:"):
            epoch = int(words[words.index("producerEpoch:") + 1])
        elif line.startswith("| offset:"):
            epochs[int(words[2])] = epoch
    return epochs


def _is_position(line, i):
    words = line.split()
    return words[i] == "position:" or (i > 0 and words[i - 1] == "position:")


def produce_acks_all(bootstrap, topic, values, idempotent=True, extra=None):
    """Produce ``values`` with confluent-kafka acks=all; returns (acked, errors) where acked
    maps value -> (partition, offset)."""
    from confluent_kafka import Producer
    conf = {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": idempotent,
            "linger.ms": 5, "message.timeout.ms": 60000, "retry.backoff.ms": 100}
    conf.update(extra or {})
    p = Producer(conf)
    acked, errors = {}, []

    def cb(err, msg):
        if err is None:
            acked[msg.value()] = (msg.partition(), msg.offset())
        else:
            errors.append(err)
    for i, v in enumerate(values):
        while True:
            try:
                p.produce(topic, value=v, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.1)
        if i % 500 == 0:
            p.poll(0)
    p.flush(90)
    return acked, errors


def read_all(bootstrap, topic, partitions, expect, timeout=60):
    """Every record of the partitions from the beginning: {partition: [(offset, value)]}."""
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "replication-reader",
                  "enable.auto.commit": False, "enable.partition.eof": False,
                  "topic.metadata.refresh.interval.ms": 1000})
    out = {p: [] for p in partitions}
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        deadline = time.monotonic() + timeout
        while sum(len(v) for v in out.values()) < expect and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            out[m.partition()].append((m.offset(), m.value()))
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            m = c.poll(0.2)
            if m is not None and not m.error():
                out[m.partition()].append((m.offset(), m.value()))
    finally:
        c.close()
    return out


def assert_acked_read_once(acked, consumed, resent=lambda first, second: False):
    """Every acknowledged value is read exactly once, at the offset it was acknowledged at,
    and offsets are strictly increasing per partition. ``resent(first, second)`` may excuse a
    second copy the client itself sent again (see the soak test)."""
    seen = {}
    for p, records in consumed.items():
        offsets = [o for o, _ in records]
        assert offsets == sorted(set(offsets)), f"partition {p}: offsets not increasing/unique"
        for o, v in records:
            if v in seen and resent(seen[v], (p, o)):
                continue
            assert v not in seen, f"{v!r} read twice ({seen[v]} and {(p, o)})"
            seen[v] = (p, o)
    missing = [v for v in acked if v not in seen]
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {missing[:5]}"
    # librdkafka's idempotent producer reports some recovered deliveries with an unknown
    # offset (None); those are checked for presence only.
    moved = [(v, acked[v], seen[v]) for v in acked if acked[v][1] is not None and acked[v] != seen[v]]
    assert not moved, f"acknowledged records at other offsets: {moved[:5]}"


class ZooKeeperEnsemble:
    """Three ZooKeeper servers in one quorum on this machine (Debian's package, distinct
    ports and server.N lines), as the notes' hadoop01:2181,hadoop02:2181,hadoop03:2181."""

    def __init__(self, workdir, n=3):
        from krabtest import free_port
        self.workdir = Path(workdir)
        self.ids = list(range(1, n + 1))
        self.client_ports = {i: free_port() for i in self.ids}
        self.peer_ports = {i: (free_port(), free_port()) for i in self.ids}
        self.procs = {}
        self.hosts = ",".join(f"127.0.0.1:{self.client_ports[i]}" for i in self.ids)

    def _start(self, i):
        import shutil as _shutil
        from krabtest import zookeeper_classpath
        d = self.workdir / f"zk{i}"
        (d / "data").mkdir(parents=True, exist_ok=True)
        (d / "data" / "myid").write_text(f"{i}\n")
        lines = ["tickTime=500", "initLimit=20", "syncLimit=10", f"dataDir={d / 'data'}",
                 f"clientPort={self.client_ports[i]}", "clientPortAddress=127.0.0.1",
                 "maxClientCnxns=0", "minSessionTimeout=1000", "maxSessionTimeout=6000",
                 "admin.enableServer=false", "4lw.commands.whitelist=*"]
        for j in self.ids:
            p, e = self.peer_ports[j]
            lines.append(f"server.{j}=127.0.0.1:{p}:{e}")
        (d / "zoo.cfg").write_text("\n".join(lines) + "\n")
        cmd = [_shutil.which("java"), "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
               "-Dzookeeper.admin.enableServer=false", "-Dzookeeper.4lw.commands.whitelist=*",
               "-cp", zookeeper_classpath(), "org.apache.zookeeper.server.quorum.QuorumPeerMain",
               str(d / "zoo.cfg")]
        log = open(d / "zookeeper.log", "wb")
        self.procs[i] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True), log)

    def mode(self, i):
        import socket as _socket
        try:
            with _socket.create_connection(("127.0.0.1", self.client_ports[i]), timeout=2) as s:
                s.sendall(b"srvr")
                out = b""
                while chunk := s.recv(4096):
                    out += chunk
            for line in out.decode(errors="replace").splitlines():
                if line.startswith("Mode:"):
                    return line.split(":", 1)[1].strip()
        except OSError:
            return None
        return None

    def start(self, timeout=90):
        for i in self.ids:
            self._start(i)
        wait_until(lambda: all(self.mode(i) in ("leader", "follower") for i in self.ids),
                   timeout=timeout, msg="a ZooKeeper quorum of three")
        return self

    def leader(self):
        return next(i for i in self.ids if self.mode(i) == "leader")

    def kill(self, i):
        proc, _ = self.procs[i]
        proc.kill()
        proc.wait(10)

    def client(self):
        from kazoo.client import KazooClient
        zk = KazooClient(hosts=self.hosts, timeout=10)
        zk.start(timeout=30)
        return zk

    def stop(self):
        for proc, log in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            log.close()
