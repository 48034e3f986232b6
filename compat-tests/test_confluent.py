"""confluent-kafka (librdkafka 2.x): idempotent producer per codec, assign()-consumer,
offsets_for_times (ListOffsets by timestamp), simple commit()/committed()."""
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from krabtest import confluent_consume_all, unique_topic


def produce_all(bootstrap, topic, items, conf=None, timeout=30):
    """items: list of dicts with produce() kwargs.  Returns delivery reports (err, msg) in
    completion order; fails if flush() leaves anything undelivered."""
    c = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
         "linger.ms": 20}
    c.update(conf or {})
    p = Producer(c)
    reports = []

    def cb(err, msg):
        reports.append((err, msg))

    for kw in items:
        p.produce(topic, on_delivery=cb, **kw)
        p.poll(0)
    left = p.flush(timeout)
    assert left == 0, f"{left} messages still undelivered after {timeout}s"
    return reports


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_idempotent_producer_codecs(broker, topic, codec):
    n = 300
    items = [{"value": b"%s-%05d-" % (codec.encode(), i) + b"w" * (i % 100),
              "key": b"k%d" % (i % 5), "partition": 0} for i in range(n)]
    reports = produce_all(broker.bootstrap, topic, items, {"compression.type": codec})
    errors = [e for e, _ in reports if e is not None]
    assert not errors, errors[:5]
    assert sorted(m.offset() for _, m in reports) == list(range(n))
    # idempotent + ordered: delivery order is the produce order
    assert [m.value() for _, m in reports] == [it["value"] for it in items]

    msgs = confluent_consume_all(broker.bootstrap, topic, n)
    assert [(m.offset(), m.key(), m.value()) for m in msgs] == \
        [(i, it["key"], it["value"]) for i, it in enumerate(items)]


def test_multi_partition_order(krab, topic):
    broker = krab(mode="embedded", overrides={"num.partitions": 3})
    n = 300
    items = [{"value": b"%d" % i, "partition": i % 3} for i in range(n)]
    reports = produce_all(broker.bootstrap, topic, items)
    assert all(e is None for e, _ in reports)
    msgs = confluent_consume_all(broker.bootstrap, topic, n, partitions=(0, 1, 2))
    assert len(msgs) == n
    for p in range(3):
        got = [(m.offset(), int(m.value())) for m in msgs if m.partition() == p]
        assert got == [(j, i) for j, i in enumerate(range(p, n, 3))], f"partition {p}"


def test_offsets_for_times(broker, topic):
    t0 = int(time.time() * 1000) - 3_600_000
    items = [{"value": b"ts%d" % i, "timestamp": t0 + 1000 * i, "partition": 0}
             for i in range(10)]
    produce_all(broker.bootstrap, topic, items, {"linger.ms": 0})
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "oft",
                  "enable.auto.commit": False})
    try:
        def lookup(ts):
            (tp,) = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)
            assert tp.error is None, tp.error
            return tp.offset

        assert lookup(t0 - 5000) == 0          # before everything -> first
        assert lookup(t0) == 0                 # exact match
        assert lookup(t0 + 1500) == 2          # first with timestamp >= ts
        assert lookup(t0 + 9000) == 9
        assert lookup(t0 + 60_000) == -1       # after everything -> OFFSET_END (-1)
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        assert (lo, hi) == (0, 10)
        # timestamps survive the round trip
        msgs = confluent_consume_all(broker.bootstrap, topic, 10)
        assert [m.timestamp()[1] for m in msgs] == [t0 + 1000 * i for i in range(10)]
    finally:
        c.close()


def test_simple_commit_committed(broker, topic, metadata_mode, request):
    produce_all(broker.bootstrap, topic, [{"value": b"c%d" % i, "partition": 0}
                                          for i in range(10)])
    group = unique_topic("grp")
    conf = {"bootstrap.servers": broker.bootstrap, "group.id": group,
            "enable.auto.commit": False}
    c = Consumer(conf)
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 7 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got.append(m)
        assert [m.offset() for m in got[:7]] == list(range(7))
        res = c.commit(offsets=[TopicPartition(topic, 0, 7)], asynchronous=False)
        assert [(tp.topic, tp.partition, tp.offset, tp.error) for tp in res] == \
            [(topic, 0, 7, None)]
        (tp,) = c.committed([TopicPartition(topic, 0)], timeout=10)
        assert (tp.offset, tp.error) == (7, None)
    finally:
        c.close()

    if metadata_mode == "zookeeper":
        zk = request.getfixturevalue("zk")
        assert zk.get(f"/consumers/{group}/offsets/{topic}/0")[0] == b"7"

    # a fresh consumer in the same group sees the commit and resumes there
    c2 = Consumer(conf)
    try:
        (tp,) = c2.committed([TopicPartition(topic, 0)], timeout=10)
        assert tp.offset == 7
        c2.assign([TopicPartition(topic, 0, tp.offset)])
        m = None
        deadline = time.monotonic() + 20
        while m is None and time.monotonic() < deadline:
            m = c2.poll(0.5)
        assert m is not None and not m.error(), m and m.error()
        assert (m.offset(), m.value()) == (7, b"c7")
        # commit again, overwriting
        c2.commit(offsets=[TopicPartition(topic, 0, 10)], asynchronous=False)
        (tp,) = c2.committed([TopicPartition(topic, 0)], timeout=10)
        assert tp.offset == 10
    finally:
        c2.close()
    if metadata_mode == "zookeeper":
        assert zk.get(f"/consumers/{group}/offsets/{topic}/0")[0] == b"10"


def test_committed_unknown_group_is_invalid(broker, topic):
    """No commit yet -> committed() returns OFFSET_INVALID (-1001), not an error."""
    produce_all(broker.bootstrap, topic, [{"value": b"x", "partition": 0}])
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique_topic("nogrp"),
                  "enable.auto.commit": False})
    try:
        (tp,) = c.committed([TopicPartition(topic, 0)], timeout=10)
        assert tp.error is None
        assert tp.offset == -1001
    finally:
        c.close()

