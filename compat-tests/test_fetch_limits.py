"""Fetch response size limits as Kafka applies them (KIP-74, issue 14): only the response's
first batch may exceed `max_bytes` / `partition_max_bytes`; after it, partitions are added
only while the total stays within `max_bytes`. A client that refuses oversized responses
(librdkafka's receive.message.max.bytes) must still read every record."""
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from krabtest import unique_topic, wait_until

RECORD = 900_000  # three of these never fit one 1 MB response; one always does
PER_PARTITION = 10
PARTITIONS = 3


def _fill(bootstrap, topic):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(15)
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "message.max.bytes": 1_000_000})
    wait_until(lambda: len(p.list_topics(topic, timeout=5).topics[topic].partitions) == PARTITIONS,
               timeout=10, msg="topic metadata")
    expected = set()
    for part in range(PARTITIONS):
        for i in range(PER_PARTITION):
            value = b"%d-%02d:" % (part, i) + bytes(RECORD)
            p.produce(topic, value=value, partition=part)
            expected.add(value[:5])
    p.flush(30)
    assert len(p) == 0
    return expected


def test_librdkafka_with_a_small_receive_limit_reads_every_large_record(krab):
    b = krab()
    topic = unique_topic("big")
    expected = _fill(b.bootstrap, topic)
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": unique_topic("g"),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "fetch.max.bytes": 1_000_000, "receive.message.max.bytes": 1_000_512,
                  "max.partition.fetch.bytes": 20_000_000})
    seen, errors = set(), []
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        deadline = time.monotonic() + 60
        while len(seen) < len(expected) and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                errors.append(str(m.error()))
                continue
            seen.add(m.value()[:5])
    finally:
        c.close()
    assert seen == expected, f"read {len(seen)} of {len(expected)}; client errors: {errors[:3]}"


def test_kafka_python_with_a_small_fetch_max_reads_every_large_record(krab):
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition as KTopicPartition
    b = krab()
    topic = unique_topic("big")
    expected = _fill(b.bootstrap, topic)
    c = KafkaConsumer(bootstrap_servers=b.bootstrap, enable_auto_commit=False,
                      fetch_max_bytes=1_000_000, max_partition_fetch_bytes=20_000_000)
    seen, sizes = set(), []
    try:
        c.assign([KTopicPartition(topic, p) for p in range(PARTITIONS)])
        c.seek_to_beginning()
        deadline = time.monotonic() + 60
        while len(seen) < len(expected) and time.monotonic() < deadline:
            for records in c.poll(timeout_ms=500).values():
                for r in records:
                    seen.add(r.value[:5])
                    sizes.append(len(r.value))
    finally:
        c.close()
    assert seen == expected, f"read {len(seen)} of {len(expected)}"
    assert all(s == RECORD + 5 for s in sizes)


def test_only_the_first_batch_may_exceed_max_bytes_on_the_wire(krab):
    from kwire import Conn, fetch_v4
    b = krab()
    topic = unique_topic("big")
    _fill(b.bootstrap, topic)
    host, port = b.bootstrap.rsplit(":", 1)
    conn = Conn(host, int(port))
    try:
        # 1 MB overall: the first partition's first batch, nothing more.
        got = fetch_v4(conn, topic, range(PARTITIONS), 1_000_000, 20_000_000)
        sizes = [len(got[p][1]) for p in range(PARTITIONS)]
        assert all(got[p][0] == 0 for p in range(PARTITIONS))
        assert sizes[0] > RECORD and sizes[1:] == [0, 0], sizes
        # A budget smaller than one batch still gets the first one whole (KIP-74).
        got = fetch_v4(conn, topic, range(PARTITIONS), 1000, 1000)
        assert RECORD < len(got[0][1]) < 2 * RECORD and got[1][1] == b"" and got[2][1] == b""
        # 2.5 MB overall, 1 MB per partition: one batch from each of the first two
        # partitions; the third does not fit what is left.
        got = fetch_v4(conn, topic, range(PARTITIONS), 2_500_000, 1_000_000)
        sizes = [len(got[p][1]) for p in range(PARTITIONS)]
        assert all(RECORD < s < 1_000_000 for s in sizes[:2]) and sizes[2] == 0, sizes
    finally:
        conn.close()
