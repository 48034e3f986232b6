"""Offset-monitor benchmark: how long one refresh takes against ZooKeeper as the number of
groups grows, how fast the pages and the JSON API answer, and what the history costs on disk.

Run by scripts/bench-monitor.sh (it builds nothing: it needs target/release/krab, the Debian
ZooKeeper jars and the compat-tests Python packages).  Prints one line per figure.

  refresh        GROUPS groups x PARTITIONS partitions of one topic, offsets written with
                 kazoo: median and max of krab_monitor_last_refresh_duration_seconds over
                 REFRESHES refreshes (store reads + Metadata + ListOffsets + ListGroups)
  pages          median / p99 latency of 200 GETs of the group list, a group page (with its
                 charts) and /api/groups, one connection at a time
  history        bytes per sample on disk
"""
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "compat-tests"))

from krabtest import Krab, ZooKeeperServer  # noqa: E402
from monitortest import MonitorProcess  # noqa: E402

GROUPS = [int(g) for g in os.environ.get("GROUPS", "10,100").split(",")]
PARTITIONS = int(os.environ.get("PARTITIONS", "16"))
REFRESHES = int(os.environ.get("REFRESHES", "10"))


def metric(url, name):
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    raise KeyError(name)


def latency(url, n=200):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        with urllib.request.urlopen(url, timeout=10) as r:
            r.read()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2] * 1000, times[int(len(times) * 0.99)] * 1000


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        zk_server = ZooKeeperServer(tmp / "zk").start()
        broker = Krab(name="bench", workdir=tmp / "krab", mode="zookeeper", overrides={}, broker_id=None,
                      zk_connect=zk_server.hosts, config_file=None, extra_args=None)
        zk = zk_server.client()
        try:
            broker.start()
            topic = "bench-monitor"
            import subprocess
            subprocess.run([os.environ["KRAB_BIN"], "topics", "--bootstrap-server", broker.bootstrap, "--create",
                            "--topic", topic, "--partitions", str(PARTITIONS), "--replication-factor", "1"],
                           check=True, capture_output=True)
            made = 0
            for groups in GROUPS:
                for g in range(made, groups):
                    for p in range(PARTITIONS):
                        zk.create(f"/consumers/bench-{g:04d}/offsets/{topic}/{p}", str(g).encode(), makepath=True)
                made = groups
                mon = MonitorProcess(tmp / f"mon-{groups}", ["--zk", zk_server.hosts], refresh="1.seconds")
                with mon:
                    seen, durations = 0, []
                    while len(durations) < REFRESHES:
                        count = metric(mon.url, "krab_monitor_refreshes_total")
                        if count > seen:
                            seen = count
                            if count > 1:  # the first includes connecting to ZooKeeper
                                durations.append(metric(mon.url, "krab_monitor_last_refresh_duration_seconds"))
                        time.sleep(0.2)
                    print(f"refresh: {groups} groups x {PARTITIONS} partitions "
                          f"({groups * PARTITIONS} offset znodes): median "
                          f"{statistics.median(durations) * 1000:.1f} ms, max {max(durations) * 1000:.1f} ms")
                    for name, path in [("group list", "/"), ("group page", "/group/bench-0000"),
                                       ("/api/groups", "/api/groups")]:
                        p50, p99 = latency(mon.url + path)
                        print(f"pages, {groups} groups: {name} p50 {p50:.2f} ms, p99 {p99:.2f} ms")
                    samples = metric(mon.url, "krab_monitor_history_samples")
                    size = sum(f.stat().st_size for f in mon.data_dir.glob("history-*.jsonl"))
                    print(f"history, {groups} groups: {size / samples:,.0f} bytes per sample "
                          f"({size / samples * 86400 / 5 / 1e6:,.1f} MB per day at --refresh 5.seconds)")
        finally:
            zk.stop()
            if broker.running():
                broker.stop()
            broker.close_files()
            zk_server.stop()


if __name__ == "__main__":
    main()
