"""Consumer-group benchmark: offset commits against krab in ZooKeeper mode, and rebalance time.

Run by scripts/bench-groups.sh (which builds nothing: it needs target/release/krab, the Debian
ZooKeeper jars and the compat-tests Python packages).  Prints one line per figure.

  commits, new offset each time   C clients, each committing 1 partition in a loop, every
                                  commit a different offset (the worst case: each must be
                                  stored); commits/s, latency p50/p99, ZooKeeper writes
  commits, unchanged offset       the seed's pattern: re-committing the same position
  rebalance                       a second librdkafka consumer joining a 1-member group:
                                  time until both hold their new assignment
"""
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "compat-tests"))

import kwire  # noqa: E402
from krabtest import Krab, ZooKeeperServer  # noqa: E402

CLIENTS = int(os.environ.get("COMMIT_CLIENTS", "4"))
SECONDS = float(os.environ.get("COMMIT_SECONDS", "5"))


def commit_body(group, topic, partition, offset):
    return (kwire.string(group) + kwire.i32(-1) + kwire.string("") + kwire.i64(-1)
            + kwire.array([kwire.string(topic) + kwire.array(
                [kwire.i32(partition) + kwire.i64(offset) + kwire.string("")])]))


def commit_loop(port, group, topic, partition, changing, stop, latencies, errors):
    conn = kwire.Conn("127.0.0.1", port, timeout=30)
    offset = 0
    while not stop.is_set():
        if changing:
            offset += 1
        t0 = time.perf_counter()
        r = conn.call(8, 2, commit_body(group, topic, partition, offset))
        latencies.append(time.perf_counter() - t0)
        r.i32(), r.string(), r.i32(), r.i32()
        if r.i16() != 0:
            errors.append(1)
    conn.close()


def run_commits(krab, zk, topic, changing):
    group = f"bench-{'new' if changing else 'same'}"
    stop = threading.Event()
    latencies, errors = [], []
    threads = [threading.Thread(target=commit_loop,
                                args=(krab.port, group, topic, p, changing, stop, latencies, errors))
               for p in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(SECONDS)
    stop.set()
    for t in threads:
        t.join()
    writes = sum(zk.get(f"/consumers/{group}/offsets/{topic}/{p}")[1].version + 1
                 for p in range(CLIENTS))
    lat = sorted(latencies)
    kind = "new offset each time" if changing else "unchanged offset"
    print(f"commits, {kind}: {CLIENTS} clients x 1 partition, {len(lat) / SECONDS:,.0f} commits/s, "
          f"p50 {lat[len(lat) // 2] * 1000:.3f} ms, p99 {lat[int(len(lat) * 0.99)] * 1000:.3f} ms, "
          f"{len(lat):,} commits -> {writes:,} ZooKeeper writes, {len(errors)} errors")


def run_rebalance(krab, topic):
    from confluent_kafka import Consumer
    conf = {"bootstrap.servers": krab.bootstrap, "group.id": "bench-rebalance",
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 100}
    first = Consumer(dict(conf, **{"client.id": "first"}))
    first.subscribe([topic])
    while len(first.assignment()) != CLIENTS:
        first.poll(0.01)
    samples = []
    for _ in range(5):
        second = Consumer(dict(conf, **{"client.id": "second"}))
        t0 = time.perf_counter()
        second.subscribe([topic])
        while not (len(second.assignment()) == CLIENTS // 2 and len(first.assignment()) == CLIENTS // 2):
            second.poll(0.005)
            first.poll(0.005)
        samples.append(time.perf_counter() - t0)
        second.close()
        while len(first.assignment()) != CLIENTS:
            first.poll(0.01)
    first.close()
    print(f"rebalance, second member joins: median {statistics.median(samples) * 1000:.0f} ms "
          f"(min {min(samples) * 1000:.0f}, max {max(samples) * 1000:.0f}) of {len(samples)}, "
          f"heartbeat.interval.ms=100")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        zk_server = ZooKeeperServer(tmp / "zk").start()
        krab = Krab(name="bench", workdir=tmp / "krab", mode="zookeeper",
                    overrides={"group.initial.rebalance.delay.ms": 0, "num.partitions": CLIENTS},
                    broker_id=None, zk_connect=zk_server.hosts, config_file=None, extra_args=None)
        try:
            krab.start()
            zk = zk_server.client()
            from confluent_kafka import Producer
            topic = "bench-groups"
            p = Producer({"bootstrap.servers": krab.bootstrap})
            for i in range(CLIENTS):
                p.produce(topic, b"x", partition=i)
            p.flush(30)
            run_commits(krab, zk, topic, changing=True)
            run_commits(krab, zk, topic, changing=False)
            run_rebalance(krab, topic)
            zk.stop()
        finally:
            if krab.running():
                krab.stop()
            krab.close_files()
            zk_server.stop()


if __name__ == "__main__":
    main()
