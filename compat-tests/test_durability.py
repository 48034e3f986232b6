"""Crash safety: SIGKILL loses no acknowledged message, torn segment tails are recovered,
clean restarts keep everything."""
import json
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from krabtest import confluent_consume_all, confluent_watermarks, wait_until


def wait_broker_znode_gone(zk, timeout=30):
    """After a SIGKILL the broker's ZK session lingers until it expires (test ZooKeeper caps
    sessions at 6 s).  Wait for the ephemeral registration to go, like an operator would."""
    ids = zk.get_children("/brokers/ids") if zk.exists("/brokers/ids") else []
    for bid in ids:
        wait_until(lambda: not zk.exists(f"/brokers/ids/{bid}"), timeout=timeout,
                   msg=f"ephemeral /brokers/ids/{bid} to expire after SIGKILL")


def test_sigkill_mid_stream_loses_no_acked_message(krab, metadata_mode, topic, request):
    broker = krab(mode=metadata_mode)
    acked = {}
    failed = []

    def cb(err, msg):
        if err is None:
            acked[msg.offset()] = msg.value()
        else:
            failed.append(err)

    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": 1,
                  "enable.idempotence": False, "linger.ms": 1, "batch.num.messages": 200,
                  "message.timeout.ms": 5000, "socket.timeout.ms": 3000})
    # Stream continuously; once 2000 acks came back, SIGKILL the broker and keep streaming
    # 5000 more.  The producer is saturating the connection at that moment, so batches are in
    # flight / written-but-unacked when the process dies.
    kill_after_acks, extra_after_kill = 2_000, 5_000
    p.produce(topic, value=b"warm-up", partition=0, on_delivery=cb)  # metadata + connection
    assert p.flush(15) == 0 and len(acked) == 1
    produced = 1
    killed_at = None
    deadline = time.monotonic() + 60
    while killed_at is None or produced < killed_at + extra_after_kill:
        assert time.monotonic() < deadline, f"only {len(acked)} acks after {produced} messages"
        try:
            p.produce(topic, value=b"dur-%06d" % produced, partition=0, on_delivery=cb)
            produced += 1
        except BufferError:
            p.poll(0.05)
        p.poll(0)
        if killed_at is None and len(acked) >= kill_after_acks:
            broker.kill()  # SIGKILL mid-stream
            killed_at = produced
    total = produced
    p.flush(20)  # whatever was not acked fails (message.timeout.ms)
    del p  # stop librdkafka from reconnecting to the old port
    # sanity of the scenario itself: many acked before the kill, the rest failed with it
    assert len(acked) >= 1000, f"only {len(acked)} acks before the kill"
    assert len(acked) + len(failed) == total, (len(acked), len(failed))
    assert failed

    if metadata_mode == "zookeeper":
        wait_broker_znode_gone(request.getfixturevalue("zk"))
    broker.restart()

    lo, hi = confluent_watermarks(broker.bootstrap, topic)
    assert lo == 0
    assert hi >= max(acked) + 1, f"high watermark {hi} < last acked offset {max(acked)} + 1"
    msgs = confluent_consume_all(broker.bootstrap, topic, hi, timeout=60)
    stored = {m.offset(): m.value() for m in msgs}
    assert sorted(stored) == list(range(hi)), "gap or duplicate offsets after recovery"
    print(f"acked={len(acked)} failed={len(failed)} killed_at={killed_at} "
          f"in_flight_at_kill={killed_at - len(acked)} high_watermark_after_restart={hi}")
    lost = [o for o, v in acked.items() if stored.get(o) != v]
    assert not lost, f"{len(lost)} acknowledged messages lost/changed, e.g. offsets {lost[:5]}"

    # and the recovered log accepts new writes at the end
    p2 = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    offs = []
    p2.produce(topic, value=b"after", partition=0,
               on_delivery=lambda e, m: offs.append((e, m.offset())))
    assert p2.flush(15) == 0
    assert offs == [(None, hi)]


def produce_one_per_batch(bootstrap, topic, values):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0})
    offsets = []
    for v in values:
        p.produce(topic, value=v, partition=0,
                  on_delivery=lambda e, m: offsets.append((e, m.offset())))
        assert p.flush(15) == 0
    assert all(e is None for e, _ in offsets), offsets
    return [o for _, o in offsets]


def active_segment(broker, topic):
    pdir = broker.log_dir / f"{topic}-0"
    assert pdir.is_dir(), f"partition dir {pdir} missing; log.dirs has {list(broker.log_dir.iterdir())}"
    logs = sorted(pdir.glob("*.log"))
    assert logs, f"no .log segment in {pdir}: {list(pdir.iterdir())}"
    return logs[-1]


# A plausible-looking but torn next batch: baseOffset 10, batchLength 64, then junk.
GARBAGE = (b"\x00\x00\x00\x00\x00\x00\x00\x0a" + b"\x00\x00\x00\x40" + b"\xde\xad\xbe\xef" * 6)


@pytest.mark.parametrize("damage", ["append_garbage", "append_zeros", "cut_last_bytes"])
@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_torn_tail_recovery(krab, topic, damage, how):
    """The segment is damaged while krab is down, after a clean (SIGTERM: krab may trust its
    clean-shutdown marker, but must still notice the file changed) or an unclean stop."""
    broker = krab(mode="embedded")
    values = [b"torn-%02d" % i for i in range(10)]
    assert produce_one_per_batch(broker.bootstrap, topic, values) == list(range(10))
    if how == "sigterm":
        assert broker.stop() == 0
    else:
        broker.kill()

    seg = active_segment(broker, topic)
    size = seg.stat().st_size
    if damage == "append_garbage":
        with open(seg, "ab") as f:
            f.write(GARBAGE)
        intact = values
    elif damage == "append_zeros":
        # what a crash after a file-size update but before the data write can leave
        with open(seg, "ab") as f:
            f.write(b"\0" * 4096)
        intact = values
    else:
        with open(seg, "r+b") as f:
            f.truncate(size - 7)
        intact = values[:-1]

    broker.restart()
    lo, hi = confluent_watermarks(broker.bootstrap, topic)
    assert (lo, hi) == (0, len(intact))
    msgs = confluent_consume_all(broker.bootstrap, topic, len(intact))
    assert [(m.offset(), m.value()) for m in msgs] == list(enumerate(intact))

    # new produce lands right after the intact prefix
    assert produce_one_per_batch(broker.bootstrap, topic, [b"new"]) == [len(intact)]
    expected = list(enumerate(intact + [b"new"]))
    msgs = confluent_consume_all(broker.bootstrap, topic, len(expected))
    assert [(m.offset(), m.value()) for m in msgs] == expected

    # survives another clean restart
    assert broker.stop() == 0
    broker.restart()
    msgs = confluent_consume_all(broker.bootstrap, topic, len(expected))
    assert [(m.offset(), m.value()) for m in msgs] == expected


def test_clean_restart_keeps_everything(krab, metadata_mode, topic, request):
    broker = krab(mode=metadata_mode, overrides={"num.partitions": 2})
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(200):
        p.produce(topic, key=b"k%d" % i, value=b"v%d" % i, partition=i % 2)
    assert p.flush(30) == 0
    group = "restart-group"
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, 42), TopicPartition(topic, 1, 17)],
             asynchronous=False)
    c.close()

    assert broker.stop() == 0, "SIGTERM should be a clean shutdown (exit code 0)"
    broker.restart()

    for part in (0, 1):
        assert confluent_watermarks(broker.bootstrap, topic, part) == (0, 100)
    msgs = confluent_consume_all(broker.bootstrap, topic, 200, partitions=(0, 1))
    for part in (0, 1):
        got = [(m.offset(), m.key(), m.value()) for m in msgs if m.partition() == part]
        assert got == [(j, b"k%d" % i, b"v%d" % i)
                       for j, i in enumerate(range(part, 200, 2))]

    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
        assert sorted((tp.partition, tp.offset) for tp in tps) == [(0, 42), (1, 17)]
    finally:
        c.close()

    if metadata_mode == "zookeeper":
        zk = request.getfixturevalue("zk")
        assignment = json.loads(zk.get(f"/brokers/topics/{topic}")[0])
        assert sorted(assignment["partitions"]) == ["0", "1"]

    # appends continue after the old end
    offs = []
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    p.produce(topic, value=b"post", partition=1,
              on_delivery=lambda e, m: offs.append((e, m.offset())))
    assert p.flush(15) == 0
    assert offs == [(None, 100)]


def test_many_segments_restart_and_lookup(krab, topic):
    """Small segments: reads, timestamp lookups and old-format fetches cross segment boundaries,
    before and after a restart; deleted index files are rebuilt."""
    broker = krab(mode="embedded", overrides={"log.segment.bytes": 4096})
    t0 = 1_700_000_000_000
    n = 1500
    # small batches (20 records, ~400 bytes) so segments really roll
    p = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5, "acks": "all",
                  "batch.num.messages": 20})
    for i in range(n):
        p.produce(topic, value=b"seg-%05d" % i, partition=0, timestamp=t0 + 10 * i)
    assert p.flush(30) == 0
    pdir = broker.log_dir / f"{topic}-0"
    segments = sorted(pdir.glob("*.log"))
    assert len(segments) >= 5, f"log.segment.bytes=4096 gave only {len(segments)} segment(s)"

    def check():
        assert confluent_watermarks(broker.bootstrap, topic) == (0, n)
        msgs = confluent_consume_all(broker.bootstrap, topic, n, timeout=60)
        assert [(m.offset(), m.value()) for m in msgs] == \
            [(i, b"seg-%05d" % i) for i in range(n)]
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "seg",
                      "enable.auto.commit": False})
        try:
            for want in (0, 1, 499, 777, 1499):
                (tp,) = c.offsets_for_times([TopicPartition(topic, 0, t0 + 10 * want - 5)],
                                            timeout=10)
                assert tp.offset == want, (want, tp.offset)
        finally:
            c.close()
        # pykafka (Fetch v1, magic 0) from the start
        from pykafka import KafkaClient
        from pykafka.utils import VERSIONS_CACHE
        VERSIONS_CACHE.clear()
        client = KafkaClient(hosts=broker.bootstrap)  # keep a reference: topics hold a weakref
        t = client.topics[topic.encode()]
        consumer = t.get_simple_consumer(consumer_timeout_ms=3000)
        got = [m.offset for m in consumer if m is not None]
        consumer.stop()
        assert got == list(range(n))

    check()
    assert broker.stop() == 0
    broker.restart()
    check()
    assert broker.stop() == 0
    removed = [f for f in pdir.iterdir() if f.suffix in (".index", ".timeindex")]
    for f in removed:
        f.unlink()
    broker.restart()
    check()
