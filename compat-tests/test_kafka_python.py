"""kafka-python 3.x against krab (per-API version negotiation, RecordBatch v2, idempotence)."""
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import TopicAlreadyExistsError

from krabtest import unique_topic, wait_until


def make_producer(bootstrap, **kw):
    conf = dict(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=15000,
                max_block_ms=20000)
    conf.update(kw)
    return KafkaProducer(**conf)


def read_all(bootstrap, topic, expected, partitions=(0,), timeout=30):
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="earliest", request_timeout_ms=15000)
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        recs = []
        deadline = time.monotonic() + timeout
        while len(recs) < expected and time.monotonic() < deadline:
            for _tp, rs in c.poll(timeout_ms=500).items():
                recs.extend(rs)
        # anything extra?
        for _tp, rs in c.poll(timeout_ms=500).items():
            recs.extend(rs)
        return recs
    finally:
        c.close()


def produce_and_check(bootstrap, topic, codec, n=200):
    producer = make_producer(bootstrap, compression_type=codec, linger_ms=20)
    # kafka-python 3 silently turns idempotence off when it infers a broker < 0.11 from the
    # ApiVersions answer; krab advertises Produce v9 / InitProducerId, so it must stay on.
    assert producer.config["enable_idempotence"] is True
    base_ts = int(time.time() * 1000) - 60_000
    sent = []
    futures = []
    for i in range(n):
        key = b"key-%d" % (i % 7)
        value = b"value %05d " % i + b"q" * (i % 64)
        headers = [("idx", str(i).encode()), ("codec", str(codec).encode())]
        ts = base_ts + i
        sent.append((key, value, headers, ts))
        futures.append(producer.send(topic, value=value, key=key, headers=headers,
                                     partition=0, timestamp_ms=ts))
    producer.flush(30)
    mds = [f.get(timeout=30) for f in futures]
    producer.close(10)
    assert [(m.partition, m.offset) for m in mds] == [(0, i) for i in range(n)]

    recs = read_all(bootstrap, topic, n)
    assert len(recs) == n, f"read {len(recs)} of {n}"
    for i, (r, (key, value, headers, ts)) in enumerate(zip(recs, sent)):
        assert (r.offset, r.key, r.value) == (i, key, value)
        assert list(r.headers) == headers
        assert r.timestamp == ts


def test_produce_consume(broker, topic):
    produce_and_check(broker.bootstrap, topic, None)


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compression(krab, topic, codec):
    broker = krab(mode="embedded")
    produce_and_check(broker.bootstrap, topic, codec)


def test_admin_create_delete_topics(broker, metadata_mode, request):
    topic = unique_topic("adm")
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    try:
        admin.create_topics({topic: {"num_partitions": 4, "replication_factor": 1}})
        wait_until(lambda: topic in admin.list_topics(), msg=f"{topic} listed")
        (desc,) = admin.describe_topics([topic])
        assert desc["error_code"] == 0, desc
        parts = sorted(desc["partitions"], key=lambda p: p["partition_index"])
        assert [p["partition_index"] for p in parts] == [0, 1, 2, 3]
        assert all(p["leader_id"] >= 0 for p in parts), parts

        with pytest.raises(TopicAlreadyExistsError):
            admin.create_topics({topic: {"num_partitions": 1, "replication_factor": 1}})

        if metadata_mode == "zookeeper":
            zk = request.getfixturevalue("zk")
            assert zk.exists(f"/brokers/topics/{topic}")

        # keyed produce across the 4 partitions: per-partition order, stable key->partition
        producer = make_producer(broker.bootstrap)
        futs = [(i, producer.send(topic, key=b"k%d" % (i % 10), value=b"%d" % i))
                for i in range(100)]
        producer.flush(30)
        placed = {}
        for i, f in futs:
            md = f.get(timeout=30)
            placed.setdefault(md.partition, []).append((md.offset, i))
        producer.close(10)
        recs = read_all(broker.bootstrap, topic, 100, partitions=(0, 1, 2, 3))
        assert len(recs) == 100
        by_part = {}
        key_part = {}
        for r in recs:
            by_part.setdefault(r.partition, []).append((r.offset, int(r.value)))
            assert key_part.setdefault(r.key, r.partition) == r.partition
        for p, lst in by_part.items():
            assert [o for o, _ in lst] == list(range(len(lst))), f"partition {p} offsets"
            assert sorted(lst) == sorted(placed[p])

        admin.delete_topics([topic])
        wait_until(lambda: topic not in admin.list_topics(), timeout=15,
                   msg=f"{topic} gone from the topic list")
        if metadata_mode == "zookeeper":
            wait_until(lambda: not zk.exists(f"/brokers/topics/{topic}"), timeout=15,
                       msg=f"/brokers/topics/{topic} removed")
    finally:
        admin.close()
