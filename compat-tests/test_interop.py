"""Cross-client / cross-format behaviour: data written by one client generation read by another
(RecordBatch v2 down-converted for old fetchers), concurrent producers, fetch long-polling,
oversized first batch (KIP-74), idempotent-producer sequence checks on the wire."""
import threading
import time

import pytest
from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition
from pykafka import KafkaClient

import kwire
from krabtest import confluent_consume_all, confluent_watermarks, unique_topic


@pytest.fixture(autouse=True)
def fresh_pykafka_version_cache():
    from pykafka.utils import VERSIONS_CACHE  # see test_pykafka.py
    VERSIONS_CACHE.clear()
    yield
    VERSIONS_CACHE.clear()


@pytest.mark.parametrize("broker_version", ["0.9.0", "0.10.0"])
@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4"])
def test_magic2_batches_read_by_pykafka_from_committed_offset(krab, topic, codec,
                                                              broker_version):
    """confluent writes compressed RecordBatch v2 (with headers); pykafka reads through Fetch v1
    (magic 0) or v2 (magic 1) starting *inside* a batch at an offset committed by librdkafka."""
    broker = krab(mode="embedded")
    p = Producer({"bootstrap.servers": broker.bootstrap, "compression.type": codec,
                  "linger.ms": 100, "batch.num.messages": 1000, "acks": "all"})
    values = [b"x-%03d" % i for i in range(100)]
    for v in values:
        p.produce(topic, value=v, partition=0, headers=[("h", b"dropped-on-downconvert")])
    assert p.flush(15) == 0

    group = unique_topic("xfmt")
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, 37)], asynchronous=False)
    c.close()

    client = KafkaClient(hosts=broker.bootstrap, broker_version=broker_version)
    t = client.topics[topic.encode()]
    consumer = t.get_simple_consumer(consumer_group=group.encode(), consumer_timeout_ms=3000)
    got = [(m.offset, m.value) for m in consumer if m is not None]
    consumer.stop()
    assert got == [(i, values[i]) for i in range(37, 100)]


def test_concurrent_producers_one_partition(krab, topic):
    broker = krab(mode="embedded")
    n_threads, per = 4, 2000
    errors = []

    def run(tid):
        p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True,
                      "linger.ms": 2})
        for i in range(per):
            while True:
                try:
                    p.produce(topic, value=b"%d:%05d" % (tid, i), partition=0,
                              on_delivery=lambda e, m: e and errors.append(e))
                    break
                except BufferError:
                    p.poll(0.05)
            p.poll(0)
        if p.flush(30):
            errors.append("undelivered")

    threads = [threading.Thread(target=run, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors[:5]
    total = n_threads * per
    assert confluent_watermarks(broker.bootstrap, topic) == (0, total)
    msgs = confluent_consume_all(broker.bootstrap, topic, total, timeout=60)
    assert [m.offset() for m in msgs] == list(range(total))
    per_thread = {}
    for m in msgs:
        tid, i = m.value().split(b":")
        per_thread.setdefault(int(tid), []).append(int(i))
    assert per_thread == {t: list(range(per)) for t in range(n_threads)}


def test_fetch_long_poll_wakes_up_on_produce(krab, topic):
    broker = krab(mode="embedded")
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    p.produce(topic, value=b"first", partition=0)
    assert p.flush(10) == 0
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "lp",
                  "enable.auto.commit": False, "fetch.wait.max.ms": 30000})
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_END)])
        assert c.poll(1.5) is None  # parked in a long poll at the end of the log
        p.produce(topic, value=b"second", partition=0)
        assert p.flush(10) == 0
        sent = time.monotonic()
        m = None
        while m is None and time.monotonic() - sent < 40:
            m = c.poll(0.1)
        waited = time.monotonic() - sent
        assert m is not None and not m.error()
        assert (m.offset(), m.value()) == (1, b"second")
        # Not a speed check: a fetch parked for 30 s that was not woken by
        # the produce would return only when its wait ran out.
        assert waited < 15, f"the parked fetch was not woken by the produce ({waited:.1f}s)"
    finally:
        c.close()


def test_first_batch_larger_than_fetch_limits(krab, topic):
    """KIP-74: a batch bigger than max_partition_fetch_bytes / fetch_max_bytes is still returned
    (alone) so consumers make progress."""
    from kafka import KafkaConsumer, TopicPartition as KTP
    broker = krab(mode="embedded")
    big = b"B" * 300_000
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    p.produce(topic, value=big, partition=0)
    p.produce(topic, value=b"small", partition=0)
    assert p.flush(10) == 0
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                      enable_auto_commit=False, max_partition_fetch_bytes=1000,
                      fetch_max_bytes=1000)
    try:
        tp = KTP(topic, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        recs = []
        deadline = time.monotonic() + 20
        while len(recs) < 2 and time.monotonic() < deadline:
            for _tp, rs in c.poll(timeout_ms=500).items():
                recs.extend(rs)
        assert [(r.offset, len(r.value)) for r in recs] == [(0, len(big)), (1, 5)]
    finally:
        c.close()


def test_idempotent_sequence_checks_on_the_wire(krab):
    broker = krab(mode="embedded")
    topic = unique_topic("idem")
    conn = kwire.Conn("127.0.0.1", broker.port)
    kwire.metadata_v1(conn, [topic])  # auto-create
    deadline = time.monotonic() + 10
    while kwire.metadata_v1(conn, [topic])[topic][0] != 0:
        assert time.monotonic() < deadline, "topic not created"
        time.sleep(0.1)

    err, pid, epoch = kwire.init_producer_id_v0(conn)
    assert err == 0 and pid >= 0 and epoch >= 0, (err, pid, epoch)

    def batch(seq, values):
        return kwire.record_batch(values, producer_id=pid, producer_epoch=epoch,
                                  base_sequence=seq)

    b0 = batch(0, [b"a", b"b"])
    assert kwire.produce_v3(conn, topic, 0, b0, acks=-1) == (0, 0)
    # exact retry of the same batch: de-duplicated (Kafka answers NONE with the original
    # offset; DUPLICATE_SEQUENCE_NUMBER (46) is tolerated), the log does not grow
    err, base = kwire.produce_v3(conn, topic, 0, b0, acks=-1)
    assert err in (0, 46), err
    if err == 0:
        assert base == 0
    assert kwire.list_offsets_latest_v1(conn, topic) == (0, 2)
    # next in sequence
    assert kwire.produce_v3(conn, topic, 0, batch(2, [b"c"]), acks=-1) == (0, 2)
    # a gap in the sequence: OUT_OF_ORDER_SEQUENCE_NUMBER (45), nothing appended
    err, _ = kwire.produce_v3(conn, topic, 0, batch(10, [b"zzz"]), acks=-1)
    assert err == 45, err
    assert kwire.list_offsets_latest_v1(conn, topic) == (0, 3)
    msgs = confluent_consume_all(broker.bootstrap, topic, 3)
    assert [m.value() for m in msgs] == [b"a", b"b", b"c"]


def test_delete_then_recreate_starts_empty(broker, metadata_mode, request):
    from kafka import KafkaAdminClient
    topic = unique_topic("recreate")
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    try:
        admin.create_topics({topic: {"num_partitions": 1, "replication_factor": 1}})
        p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
        for i in range(10):
            p.produce(topic, value=b"old-%d" % i, partition=0)
        assert p.flush(15) == 0
        del p
        admin.delete_topics([topic])
        deadline = time.monotonic() + 15
        while topic in admin.list_topics():
            assert time.monotonic() < deadline, "topic not deleted"
            time.sleep(0.2)
        if metadata_mode == "embedded":
            deadline = time.monotonic() + 15
            while (broker.log_dir / f"{topic}-0").exists():
                assert time.monotonic() < deadline, "partition directory left behind"
                time.sleep(0.2)
        admin.create_topics({topic: {"num_partitions": 1, "replication_factor": 1}})
    finally:
        admin.close()
    offs = []
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    p.produce(topic, value=b"new", partition=0,
              on_delivery=lambda e, m: offs.append((e, m.offset())))
    assert p.flush(15) == 0
    assert offs == [(None, 0)]
    msgs = confluent_consume_all(broker.bootstrap, topic, 1)
    assert [(m.offset(), m.value()) for m in msgs] == [(0, b"new")]
    # and it stays that way across a restart
    assert broker.stop() == 0
    if metadata_mode == "zookeeper":
        request.getfixturevalue("zk")
    broker.restart()
    msgs = confluent_consume_all(broker.bootstrap, topic, 1)
    assert [(m.offset(), m.value()) for m in msgs] == [(0, b"new")]


def test_acks_0_producer(krab, topic):
    """acks=0: the broker must not answer (a stray response would desynchronise the client)."""
    from kafka import KafkaProducer
    broker = krab(mode="embedded")
    kp = KafkaProducer(bootstrap_servers=broker.bootstrap, acks=0, enable_idempotence=False,
                       linger_ms=0)
    try:
        for i in range(50):
            kp.send(topic, value=b"a0-%d" % i, partition=0)
            kp.flush(10)
        # the same connection keeps working for a metadata round trip after the acks=0 sends
        assert kp.partitions_for(topic) == {0}
    finally:
        kp.close(5)
    msgs = confluent_consume_all(broker.bootstrap, topic, 50)
    assert [m.value() for m in msgs] == [b"a0-%d" % i for i in range(50)]
    # raw: Produce v3 with acks=0 gets no response; the next request's answer is its own
    conn = kwire.Conn("127.0.0.1", broker.port)
    data, _ = conn.request_bytes(0, 3, kwire.string(None) + kwire.i16(0) + kwire.i32(5000)
                                 + kwire.array([kwire.string(topic) + kwire.array(
                                     [kwire.i32(0) + kwire.nbytes(kwire.record_batch([b"raw0"]))])]))
    conn.send_raw(data)
    assert kwire.list_offsets_latest_v1(conn, topic) in ((0, 50), (0, 51))
    deadline = time.monotonic() + 5
    while kwire.list_offsets_latest_v1(conn, topic) != (0, 51):
        assert time.monotonic() < deadline, "acks=0 produce not appended"
        time.sleep(0.1)


def test_fetch_out_of_range_resets(krab, topic):
    broker = krab(mode="embedded")
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(10):
        p.produce(topic, value=b"r%d" % i, partition=0)
    assert p.flush(10) == 0
    for reset, want in (("earliest", (0, b"r0")), ("latest", None)):
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "oor",
                      "enable.auto.commit": False, "auto.offset.reset": reset})
        try:
            c.assign([TopicPartition(topic, 0, 1000)])  # beyond the end: OFFSET_OUT_OF_RANGE
            m = None
            deadline = time.monotonic() + (10 if want else 3)
            while m is None and time.monotonic() < deadline:
                m = c.poll(0.2)
                if m is not None and m.error():
                    pytest.fail(f"consumer error: {m.error()}")
            if want is None:
                assert m is None
                # reset to the end: the next message produced is the next one consumed
                p.produce(topic, value=b"r10", partition=0)
                assert p.flush(10) == 0
                deadline = time.monotonic() + 10
                while m is None and time.monotonic() < deadline:
                    m = c.poll(0.2)
                assert m is not None and not m.error()
                assert (m.offset(), m.value()) == (10, b"r10")
            else:
                assert m is not None and (m.offset(), m.value()) == want
        finally:
            c.close()
