"""Three krab brokers on one ZooKeeper (started here), measured as issue 10 asks:
produce records/s with RF 3 acks=all against an RF 1 acks=1 topic, end-to-end p99 with
RF 3, failover (the longest gap between acknowledged writes after kill -9 and after SIGTERM
of the partition's leader), and the catch-up rate of a follower restarted CATCHUP_MB behind. Broker CPU
seconds (all three brokers, user+system) are reported beside each throughput figure.
Run through scripts/bench-cluster.sh."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "compat-tests"))
from krabtest import Krab, ZooKeeperServer  # noqa: E402

CLIENT = Path(os.environ["BENCH_CLIENT"])
RECORDS = int(os.environ.get("RECORDS", "1000000"))
RECORD_SIZE = int(os.environ.get("RECORD_SIZE", "100"))
CATCHUP_MB = int(os.environ.get("CATCHUP_MB", "1024"))
SESSION_MS = int(os.environ.get("SESSION_MS", "3000"))
KRAB = os.environ.get("KRAB_BIN", str(ROOT / "target/release/krab"))
# Kafka's default: 1 MiB per partition per follower fetch.
REPLICA_FETCH_MAX_BYTES = int(os.environ.get("REPLICA_FETCH_MAX_BYTES", str(1 << 20)))


def cpu_s(brokers):
    total = 0
    for b in brokers:
        if b.running():
            fields = Path(f"/proc/{b.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def client(*args, timeout=600):
    out = subprocess.run([str(CLIENT), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(f"client failed: {out.stderr}")
    return dict(kv.split("=", 1) for kv in line.split()[2:] if "=" in kv)


def topics(bootstrap, *args):
    subprocess.run([KRAB, "topics", "--bootstrap-server", bootstrap, *args], check=True,
                   capture_output=True, text=True)


def state(zk, topic, p=0):
    return json.loads(zk.get(f"/brokers/topics/{topic}/partitions/{p}/state")[0])


def wait(pred, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise SystemExit("timed out")


def failover(brokers, zk, bootstrap, topic, how):
    """The longest time without an acknowledged write on `topic` (a probe every 2 ms) from
    the fault on its leader until writes flow through the new leader: what producers see."""
    from confluent_kafka import Producer
    leader = state(zk, topic)["leader"]
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
                  "topic.metadata.refresh.interval.ms": 250, "retry.backoff.ms": 20,
                  "message.timeout.ms": 60000})
    acks = []
    p.produce(topic, b"warm", on_delivery=lambda e, m: None)
    p.flush(10)
    t0 = time.monotonic()
    if how == "kill":
        brokers[leader].kill()
    else:
        brokers[leader].proc.send_signal(15)
    moved_at = None
    while True:
        p.produce(topic, b"probe", on_delivery=lambda e, m: acks.append(time.monotonic()) if e is None else None)
        p.poll(0.002)
        now = time.monotonic()
        if moved_at is None and state(zk, topic)["leader"] not in (leader, -1):
            moved_at = now
        if moved_at is not None and sum(1 for a in acks if a > moved_at) >= 50:
            break
        if now - t0 > 60:
            raise SystemExit("writes did not resume within 60 s")
    if how != "kill":
        brokers[leader].proc.wait(30)
    p.flush(10)
    brokers[leader].start()
    times = [t0] + sorted(a for a in acks if a >= t0)
    return max(b - a for a, b in zip(times, times[1:]))


def main():
    work = Path(tempfile.mkdtemp(prefix="krab-cluster-bench-"))
    zk = ZooKeeperServer(work / "zk").start()
    ov = {"zookeeper.session.timeout.ms": SESSION_MS, "replica.lag.time.max.ms": 10000,
          "replica.fetch.max.bytes": REPLICA_FETCH_MAX_BYTES}
    brokers = [Krab(f"b{i}", work / f"b{i}", "zookeeper", ov, i, zk.hosts, None, None) for i in range(3)]
    try:
        for b in brokers:
            b.start()
        client_zk = zk.client()
        wait(lambda: len(client_zk.get_children("/brokers/ids")) == 3)
        time.sleep(1)
        boot = ",".join(b.bootstrap for b in brokers)
        results = {}
        topics(boot, "--create", "--topic", "rf1", "--replica-assignment", "0")
        topics(boot, "--create", "--topic", "rf3", "--replica-assignment", "0:1:2",
               "--config", "min.insync.replicas=2")
        time.sleep(1)
        # Latency first, on a fresh topic (the client reads every record as a timestamped
        # probe) and before the throughput runs leave the disk busy writing back.
        topics(boot, "--create", "--topic", "rf3-latency", "--replica-assignment", "0:1:2",
               "--config", "min.insync.replicas=2")
        time.sleep(1)
        lat = client("latency", "-b", boot, "-t", "rf3-latency", "-n", 3000, "-w", 500, "-i", 1000, "-a", "all",
                     "-f", 5)
        results["rf3_e2e_latency_ms"] = {k: v for k, v in lat.items() if k.startswith("p")}
        for label, topic, acks in (("rf1_acks1", "rf1", "1"), ("rf3_acksall", "rf3", "all")):
            c0 = cpu_s(brokers)
            r = client("produce", "-b", boot, "-t", topic, "-n", RECORDS, "-s", RECORD_SIZE, "-a", acks, "-l", 5)
            cpu = cpu_s(brokers) - c0
            results[label] = {"rps": float(r["rps"]), "mbps": float(r["mbps"]),
                              "broker_cpu_us_per_record": round(cpu / RECORDS * 1e6, 3)}
        results["rf3_vs_rf1"] = round(results["rf3_acksall"]["rps"] / results["rf1_acks1"]["rps"], 2)

        for how in ("kill", "term"):
            name = f"fail-{how}"
            topics(boot, "--create", "--topic", name, "--replica-assignment", "0:1:2",
                   "--config", "min.insync.replicas=2")
            time.sleep(1)
            results[f"failover_{how}_s"] = round(failover(brokers, client_zk, boot, name, how), 3)
            wait(lambda: len(state(client_zk, name)["isr"]) == 3)
        # Catch-up: follower 1 down while CATCHUP_MB are written, then restarted.
        topics(boot, "--create", "--topic", "catchup", "--replica-assignment", "0:1",
               "--config", "min.insync.replicas=1")
        time.sleep(1)
        brokers[1].stop()
        size = 1000
        n = CATCHUP_MB * 1024 * 1024 // size
        client("produce", "-b", ",".join(b.bootstrap for b in brokers if b.running()), "-t", "catchup",
               "-n", n, "-s", size, "-a", "1", "-l", 5)
        t0 = time.monotonic()
        brokers[1].start()
        wait(lambda: 1 in state(client_zk, "catchup")["isr"], timeout=600)
        secs = time.monotonic() - t0
        results["catchup"] = {"mb": CATCHUP_MB, "secs": round(secs, 2), "mb_per_s": round(CATCHUP_MB / secs, 1),
                              "replica_fetch_max_bytes": REPLICA_FETCH_MAX_BYTES}
        print(json.dumps(results, indent=2))
    finally:
        for b in brokers:
            if b.running():
                b.stop()
            b.close_files()
        zk.stop()
        if not os.environ.get("KEEP_LOGS"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
