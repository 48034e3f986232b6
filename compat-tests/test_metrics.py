"""Prometheus metrics at ``{monitor_url}/metrics``: what real clients do shows up with the
right numbers, and the body is well-formed text exposition 0.0.4.

Needs the monitor listener: ``krab(overrides={"monitor.listener": "127.0.0.1:0"})`` gives a
Krab whose ``monitor_url`` is ``http://HOST:PORT``."""
import math
import re
import urllib.request
from collections import defaultdict

from confluent_kafka import Producer

import kwire
from krabtest import confluent_consume_all, wait_until

PARTITIONS = 3
N = 120

_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


class Metrics:
    """A parsed exposition: ``samples[name]`` is a list of (labels dict, value), ``types`` and
    ``helps`` map family names.  Checks the format's structural rules while parsing."""

    def __init__(self, text):
        self.text = text
        self.samples = defaultdict(list)
        self.types = {}
        self.helps = {}
        finished = set()   # families whose block has ended
        current = None
        assert text.endswith("\n"), "exposition must end with a newline"
        for line in text.splitlines():
            if not line:
                continue
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                kind = line[2:6]
                name, _, rest = line[7:].partition(" ")
                table = self.helps if kind == "HELP" else self.types
                assert name not in table, f"# {kind} {name} written twice"
                assert name not in finished, f"family {name} split into two blocks"
                table[name] = rest
                if current is not None and current != name:
                    finished.add(current)
                current = name
                continue
            assert not line.startswith("#"), f"unexpected comment: {line!r}"
            m = _SAMPLE_RE.match(line)
            assert m, f"malformed sample line: {line!r}"
            name, labels_text, value = m.groups()
            family = self._family(name)
            assert family == current, f"sample {name} outside its family block ({current})"
            labels = {}
            if labels_text:
                consumed = "".join(g.group(0) for g in _LABEL_RE.finditer(labels_text))
                assert consumed == labels_text, f"malformed labels: {labels_text!r}"
                for k, v in _LABEL_RE.findall(labels_text):
                    labels[k] = re.sub(r'\\[\\"n]', lambda e: _UNESCAPE[e.group(0)], v)
            self.samples[name].append((labels, float(value)))

    def _family(self, name):
        if name in self.types:
            return name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and self.types.get(base) == "histogram":
                return base
        raise AssertionError(f"sample {name} has no # TYPE line")

    def get(self, name, **labels):
        """The one value of ``name`` whose labels include ``labels`` (None if absent)."""
        found = [v for ls, v in self.samples.get(name, []) if _matches(ls, labels)]
        assert len(found) <= 1, f"{name}{labels} matches {len(found)} series"
        return found[0] if found else None

    def total(self, name, **labels):
        return sum(v for ls, v in self.samples.get(name, []) if _matches(ls, labels))

    def series(self, name, **labels):
        return [(ls, v) for ls, v in self.samples.get(name, []) if _matches(ls, labels)]


def _matches(have, want):
    return all(have.get(k) == str(v) for k, v in want.items())


def scrape(broker):
    with urllib.request.urlopen(f"{broker.monitor_url}/metrics", timeout=10) as resp:
        assert resp.status == 200
        ctype = resp.headers.get("Content-Type", "")
        assert ctype.startswith("text/plain"), f"Content-Type {ctype!r}"
        return Metrics(resp.read().decode("utf-8"))


def produce(bootstrap, topic, n):
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                  "linger.ms": 5})
    failed = []
    for i in range(n):
        p.produce(topic, value=b"metrics-%04d" % i, partition=i % PARTITIONS,
                  on_delivery=lambda err, msg: err and failed.append(err))
        p.poll(0)
    assert p.flush(30) == 0, "messages still undelivered after 30s"
    assert not failed, failed[:5]


def check_histograms(m):
    """Every request-duration series: cumulative buckets, ending in +Inf == _count, and
    _count == krab_requests_total for that api."""
    assert m.types.get("krab_request_duration_seconds") == "histogram"
    apis = {ls["api"] for ls, _ in m.series("krab_request_duration_seconds_count")}
    assert apis, "no request-duration series at all"
    for api in apis:
        buckets = [(float(ls["le"].replace("+Inf", "inf")), v)
                   for ls, v in m.series("krab_request_duration_seconds_bucket", api=api)]
        les = [le for le, _ in buckets]
        assert les == sorted(les) and math.isinf(les[-1]), f"{api}: bucket bounds {les}"
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), f"{api}: buckets not cumulative {counts}"
        count = m.get("krab_request_duration_seconds_count", api=api)
        assert counts[-1] == count, f"{api}: +Inf bucket {counts[-1]} != _count {count}"
        assert count == m.get("krab_requests_total", api=api), api
        assert m.get("krab_request_duration_seconds_sum", api=api) >= 0


def test_metrics_follow_produce_and_fetch(krab, topic):
    broker = krab(overrides={"monitor.listener": "127.0.0.1:0", "num.partitions": PARTITIONS})
    produce(broker.bootstrap, topic, N)
    msgs = confluent_consume_all(broker.bootstrap, topic, N, partitions=range(PARTITIONS))
    assert len(msgs) == N

    # A request that gets an error code: ListOffsets for a partition that does not exist.
    conn = kwire.Conn(broker.host, broker.port)
    try:
        err, _ = kwire.list_offsets_latest_v1(conn, topic, partition=PARTITIONS + 7)
        assert err == 3, f"expected UNKNOWN_TOPIC_OR_PARTITION, got {err}"
        m = scrape(broker)  # while `conn` is still open
    finally:
        conn.close()

    assert m.get("krab_open_connections") >= 1
    assert m.get("krab_connections_accepted_total") >= 3  # producer, consumer, conn
    assert m.types["krab_topic_messages_in_total"] == "counter"
    assert m.get("krab_topic_messages_in_total", topic=topic) == N
    assert m.get("krab_topic_messages_out_total", topic=topic) >= N
    assert m.get("krab_topic_bytes_in_total", topic=topic) > 0
    assert m.get("krab_topic_bytes_out_total", topic=topic) > 0
    for api in ("Produce", "Fetch", "Metadata", "ListOffsets"):
        assert m.get("krab_requests_total", api=api) > 0, api
    assert m.get("krab_request_errors_total", api="ListOffsets") >= 1
    assert m.get("krab_request_error_codes_total", api="ListOffsets",
                 error="UnknownTopicOrPartition") >= 1
    check_histograms(m)

    assert m.get("krab_partitions", topic=topic) == PARTITIONS
    leo = m.series("krab_log_end_offset", topic=topic)
    assert sorted(ls["partition"] for ls, _ in leo) == [str(p) for p in range(PARTITIONS)]
    assert sum(v for _, v in leo) == N
    assert m.total("krab_high_watermark", topic=topic) == N
    assert m.total("krab_log_start_offset", topic=topic) == 0
    assert m.total("krab_log_size_bytes", topic=topic) > 0
    info = m.series("krab_broker_info")
    assert len(info) == 1 and info[0][1] == 1 and "cluster_id" in info[0][0]


def test_open_connections_fall_back_after_disconnect(krab):
    broker = krab(overrides={"monitor.listener": "127.0.0.1:0"})
    base = scrape(broker).get("krab_open_connections")
    conns = [kwire.Conn(broker.host, broker.port) for _ in range(3)]
    for c in conns:
        kwire.api_versions_v0(c)  # the connection is being served
    assert scrape(broker).get("krab_open_connections") == base + 3
    for c in conns:
        c.close()
    wait_until(lambda: scrape(broker).get("krab_open_connections") == base, timeout=10,
               msg="open connections back to the baseline")
