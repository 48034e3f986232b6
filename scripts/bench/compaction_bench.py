"""Log cleaner benchmark (issue 11): cleaner throughput in MB/s on a compacted topic, and
produce latency on another topic of the same broker while the cleaner runs, against the
same probe with the cleaner idle. One embedded broker; confluent-kafka (librdkafka) drives
it. The broker's CPU seconds (user+system) are reported beside each figure.
Knobs (environment): DATA_MB [512], KEYS [50000], VALUE_BYTES [1000], PROBE_S [4].
Run through scripts/bench-compaction.sh."""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "compat-tests"))
from krabtest import Krab  # noqa: E402

DATA_MB = int(os.environ.get("DATA_MB", "512"))
KEYS = int(os.environ.get("KEYS", "50000"))
VALUE_BYTES = int(os.environ.get("VALUE_BYTES", "1000"))
PROBE_S = float(os.environ.get("PROBE_S", "4"))
KRAB = os.environ.get("KRAB_BIN", str(ROOT / "target/release/krab"))


def cpu_s(broker):
    fields = Path(f"/proc/{broker.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def krab_cli(*args):
    subprocess.run([KRAB, *args], check=True, capture_output=True, text=True, timeout=120)


def produce_bulk(bootstrap, topic, records):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 20,
                  "batch.size": 1 << 20, "compression.type": "none",
                  "queue.buffering.max.kbytes": 1 << 20})
    value = b"x" * VALUE_BYTES
    for i in range(records):
        while True:
            try:
                p.produce(topic, key=b"key-%08d" % (i % KEYS), value=value, partition=0)
                break
            except BufferError:
                p.poll(0.01)
    p.flush(600)


def probe_latency(bootstrap, topic, seconds, stop=None):
    """acks=1, linger 0, one 100-byte record every ms: send-to-acknowledgement times in ms."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 0})
    lat = []
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (stop and stop.is_set()):
        sent = time.monotonic()
        p.produce(topic, b"p" * 100, partition=0,
                  on_delivery=lambda e, m, sent=sent: lat.append((time.monotonic() - sent) * 1000))
        p.poll(0)
        time.sleep(0.001)
    p.flush(30)
    return lat


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def main():
    work = Path(tempfile.mkdtemp(prefix="krab-bench-compaction-"))
    broker = Krab("bench", work / "krab", "embedded",
                  {"log.cleaner.backoff.ms": "100", "log.segment.bytes": str(64 << 20)},
                  None, None, None, None)
    broker.start()
    bs = broker.bootstrap
    try:
        krab_cli("topics", "--bootstrap-server", bs, "--create", "--topic", "probe", "--partitions", "1")
        # Nothing is cleanable while producing (min.compaction.lag.ms), then everything is.
        krab_cli("topics", "--bootstrap-server", bs, "--create", "--topic", "compacted",
                 "--partitions", "1", "--config", "cleanup.policy=compact",
                 "--config", "min.compaction.lag.ms=86400000", "--config", "segment.ms=1000")
        records = DATA_MB * 1024 * 1024 // (VALUE_BYTES + 40)
        t0 = time.monotonic()
        produce_bulk(bs, "compacted", records)
        print(f"produced {records} records ({DATA_MB} MB) over {KEYS} keys in {time.monotonic() - t0:.1f} s")
        time.sleep(1.2)
        produce_bulk(bs, "compacted", 1)  # rolls the active segment

        idle = probe_latency(bs, "probe", PROBE_S)
        print(f"produce latency, cleaner idle:    p50 {pct(idle, .5):.2f} ms  p99 {pct(idle, .99):.2f} ms  ({len(idle)} records)")

        stop = threading.Event()
        busy = []
        prober = threading.Thread(target=lambda: busy.extend(probe_latency(bs, "probe", 600, stop)))
        cpu0 = cpu_s(broker)
        log_before = broker.stderr_path.read_text(errors="replace").count("cleaned partition")
        prober.start()
        time.sleep(0.5)
        krab_cli("configs", "--bootstrap-server", bs, "--alter", "--entity-type", "topics",
                 "--entity-name", "compacted", "--add-config", "min.compaction.lag.ms=0")
        deadline = time.monotonic() + 600
        while broker.stderr_path.read_text(errors="replace").count("cleaned partition") == log_before:
            if time.monotonic() > deadline:
                raise SystemExit("the cleaner did not finish")
            time.sleep(0.05)
        stop.set()
        prober.join()
        cpu = cpu_s(broker) - cpu0
        line = broker.stderr_path.read_text(errors="replace").splitlines()
        line = [l for l in line if "cleaned partition" in l][-1]
        fields = dict(re.findall(r"(\w+)=(\d+)", line))
        elapsed = int(fields["elapsed_ms"]) / 1000
        read_mb = int(fields["bytes_read"]) / 1e6
        print(f"cleaner: read {read_mb:.0f} MB, wrote {int(fields['bytes_written']) / 1e6:.1f} MB, "
              f"removed {fields['records_removed']} records in {elapsed:.2f} s = {read_mb / elapsed:.0f} MB/s read "
              f"(the dirty log is read twice: to map keys, then to copy) "
              f"(broker CPU {cpu:.2f} s over the pass and probe, {cpu / max(read_mb, 1e-9) * 1000:.1f} ms per MB read)")
        print(f"produce latency, cleaner running: p50 {pct(busy, .5):.2f} ms  p99 {pct(busy, .99):.2f} ms  ({len(busy)} records)")
        print(f"machine: {os.cpu_count()} cores, {os.uname().sysname} {os.uname().release}")
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
