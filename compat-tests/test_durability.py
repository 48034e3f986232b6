"""Crash safety: SIGKILL loses no acknowledged message, torn segment tails are recovered,
clean restarts keep everything."""
import json

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
    total, kill_at = 50_000, 3_000
    killed = False
    for i in range(total):
        while True:
            try:
                p.produce(topic, value=b"dur-%06d" % i, partition=0, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
        if not killed and len(acked) >= kill_at:
            broker.kill()  # SIGKILL while batches are in flight
            killed = True
        if killed and i > kill_at * 2:
            break
    if not killed:
        p.flush(30)
        pytest.fail(f"only {len(acked)} acks arrived before the producer ran out of input")
    p.flush(20)  # the rest fail (message.timeout.ms)
    del p  # stop librdkafka from reconnecting to the old port
    assert len(acked) >= kill_at

    if metadata_mode == "zookeeper":
        wait_broker_znode_gone(request.getfixturevalue("zk"))
    broker.restart()

    lo, hi = confluent_watermarks(broker.bootstrap, topic)
    assert lo == 0
    assert hi >= max(acked) + 1, f"high watermark {hi} < last acked offset {max(acked)} + 1"
    msgs = confluent_consume_all(broker.bootstrap, topic, hi, timeout=60)
    stored = {m.offset(): m.value() for m in msgs}
    assert sorted(stored) == list(range(hi)), "gap or duplicate offsets after recovery"
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


@pytest.mark.parametrize("damage", ["append_garbage", "cut_last_bytes"])
def test_torn_tail_recovery(krab, topic, damage):
    broker = krab(mode="embedded")
    values = [b"torn-%02d" % i for i in range(10)]
    assert produce_one_per_batch(broker.bootstrap, topic, values) == list(range(10))
    assert broker.stop() == 0

    seg = active_segment(broker, topic)
    size = seg.stat().st_size
    if damage == "append_garbage":
        with open(seg, "ab") as f:
            f.write(GARBAGE)
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
