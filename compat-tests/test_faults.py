"""Fault injection through `control.listener` and `krab fault` (issue 13): clients retry
through injected errors and lose nothing; latency shows in the client's timing; an injected
full disk gives KAFKA_STORAGE_ERROR until removed; faults are listed, removable, counted."""
import time
import urllib.request

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaStorageError

from devbroker import dev_broker  # noqa: F401
from krabtest import confluent_consume_all, run_krab_cli, unique_topic, wait_until


def create(b, topic, partitions=1):
    out = run_krab_cli("topics", "--bootstrap-server", b.bootstrap, "--create", "--topic", topic,
                       "--partitions", str(partitions), "--replication-factor", "1")
    assert out.returncode == 0, out.stderr


def values(messages):
    return [m.value() for m in messages]


def test_librdkafka_retries_through_injected_produce_errors(dev_broker):
    b = dev_broker(control=True, overrides={"monitor.listener": "127.0.0.1:0"})
    topic = unique_topic("fault-rd")
    create(b, topic)
    fault = ["fault", "--control", b.control_addr, "add", "--api", "Produce", "--topic", topic]
    out = run_krab_cli(*fault, "--error", "NOT_LEADER_OR_FOLLOWER", "--count", "3")
    assert out.returncode == 0, out.stderr
    out = run_krab_cli(*fault, "--error", "REQUEST_TIMED_OUT", "--count", "2")
    assert out.returncode == 0, out.stderr
    listed = run_krab_cli("fault", "--control", b.control_addr, "list").stdout
    assert '{"error":6}' in listed and '{"error":7}' in listed, listed

    p = Producer({"bootstrap.servers": b.bootstrap, "enable.idempotence": True, "acks": "all",
                  "retry.backoff.ms": 20, "linger.ms": 0})
    delivered, failed = [], []
    for i in range(30):
        p.produce(topic, value=b"m%02d" % i,
                  on_delivery=lambda err, msg: (failed if err else delivered).append(err or msg.offset()))
        p.flush(30)  # one request per record, so every fault meets a request
    assert failed == []
    assert len(delivered) == 30
    # Both faults fired their counts and retired.
    assert b.faults() == []
    got = confluent_consume_all(b.bootstrap, topic, 30)
    assert values(got) == [b"m%02d" % i for i in range(30)], "lost, duplicated or reordered"
    with urllib.request.urlopen(f"http://{b.ready['monitor']}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    assert 'krab_injected_faults_total{kind="error"} 5' in text, text[-2000:]


def test_kafka_python_retries_through_injected_errors(dev_broker):
    b = dev_broker(control=True)
    topic = unique_topic("fault-kp")
    create(b, topic)
    b.add_fault(api="Produce", topic=topic, action={"error": 6}, count=2)
    b.add_fault(api="Produce", topic=topic, action={"error": 7}, count=2)
    producer = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all", retries=10, retry_backoff_ms=20,
                             max_in_flight_requests_per_connection=1)
    offsets = [producer.send(topic, b"k%02d" % i).get(timeout=30).offset for i in range(10)]
    producer.close()
    assert offsets == list(range(10))
    assert b.faults() == []
    got = confluent_consume_all(b.bootstrap, topic, 10)
    assert values(got) == [b"k%02d" % i for i in range(10)]


def test_injected_latency_shows_in_client_latency(dev_broker):
    b = dev_broker(control=True)
    topic = unique_topic("fault-lat")
    create(b, topic)
    producer = KafkaProducer(bootstrap_servers=b.bootstrap, acks=1)
    producer.send(topic, b"warm").get(timeout=10)

    def one_send():
        start = time.monotonic()
        producer.send(topic, b"x").get(timeout=30)
        return time.monotonic() - start

    before = one_send()
    fault = b.add_fault(api="Produce", action={"latency_ms": 400})
    slowed = one_send()
    assert b.control({"op": "remove", "id": fault}) == {"ok": True}
    after = one_send()
    producer.close()
    assert slowed >= 0.4, f"injected 400 ms, the client measured {slowed:.3f}s"
    assert after < slowed and before < slowed, (before, slowed, after)


def test_injected_full_disk_gives_storage_error_and_recovers_losing_nothing(dev_broker):
    b = dev_broker(control=True)
    topic = unique_topic("fault-disk")
    create(b, topic)
    producer = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all", retries=0)
    acked = [producer.send(topic, b"before-%d" % i).get(timeout=10).offset for i in range(5)]
    fault = run_krab_cli("fault", "--control", b.control_addr, "add", "--disk-full", "--topic", topic)
    assert fault.returncode == 0, fault.stderr
    with pytest.raises(KafkaStorageError):
        producer.send(topic, b"refused").get(timeout=10)
    removed = run_krab_cli("fault", "--control", b.control_addr, "remove", fault.stdout.strip())
    assert removed.returncode == 0, removed.stderr
    acked += [producer.send(topic, b"after-%d" % i).get(timeout=10).offset for i in range(5)]
    producer.close()
    assert acked == list(range(10)), "the refused record must not have taken an offset"
    got = confluent_consume_all(b.bootstrap, topic, 10)
    assert values(got) == [b"before-%d" % i for i in range(5)] + [b"after-%d" % i for i in range(5)]


def test_stalled_fetch_delivers_nothing_until_removed(dev_broker):
    b = dev_broker(control=True)
    topic = unique_topic("fault-stall")
    create(b, topic)
    p = Producer({"bootstrap.servers": b.bootstrap})
    for i in range(5):
        p.produce(topic, value=b"s%d" % i)
    p.flush(10)
    fault = b.add_fault(topic=topic, partition=0, action="stall_fetch")
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "stall", "enable.auto.commit": False,
                  "fetch.wait.max.ms": 50})
    c.assign([TopicPartition(topic, 0, 0)])
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        m = c.poll(0.2)
        assert m is None or m.error(), f"read {m.value()!r} through a stalled partition"
    wait_until(lambda: b.faults()[0]["fired"] > 0, timeout=10, msg="a fetch to meet the stall")
    b.control({"op": "remove", "id": fault})
    got = []
    deadline = time.monotonic() + 10
    while len(got) < 5 and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m.value())
    c.close()
    assert got == [b"s%d" % i for i in range(5)]


def test_close_and_coordinator_errors_are_survived_by_a_group_consumer(dev_broker):
    b = dev_broker(control=True)
    topic = unique_topic("fault-grp")
    create(b, topic)
    p = Producer({"bootstrap.servers": b.bootstrap})
    for i in range(10):
        p.produce(topic, value=b"g%d" % i)
    p.flush(10)
    b.add_fault(api="FindCoordinator", action={"error": 15}, count=3)  # COORDINATOR_NOT_AVAILABLE
    b.add_fault(api="Metadata", action="close", count=1)
    c = KafkaConsumer(topic, bootstrap_servers=b.bootstrap, group_id="faulty", auto_offset_reset="earliest",
                      consumer_timeout_ms=8000, retry_backoff_ms=20)
    got = sorted(m.value for m in c)
    c.close()
    assert got == sorted(b"g%d" % i for i in range(10))
    assert b.faults() == [], "every fault fired its count"


def test_bad_faults_and_requests_change_nothing(dev_broker):
    b = dev_broker(control=True)
    for bad in (
        {"op": "add", "fault": {"api": "Produce", "action": {"error": 31000}}},
        {"op": "add", "fault": {"api": "NoSuchApi", "action": "close"}},
        {"op": "add", "fault": {"api": "DeleteTopics", "action": {"error": 6}}},
        {"op": "add", "fault": {"action": "explode"}},
        {"op": "remove", "id": 99},
        {"op": "reboot"},
    ):
        reply = b.control(bad)
        assert reply["ok"] is False and reply["error"], reply
    assert b.faults() == []
    out = run_krab_cli("fault", "--control", b.control_addr, "add", "--api", "Produce", "--error", "NO_SUCH_ERROR")
    assert out.returncode != 0 and "unknown error" in out.stderr
    # A broker without control.listener has no control endpoint at all: one listening
    # socket (the Kafka listener), where the one above has two.
    plain = dev_broker()
    assert "control" not in plain.ready
    assert len(listening_ports(plain.proc.pid)) == 1
    assert len(listening_ports(b.proc.pid)) == 2
    out = run_krab_cli("fault", "--control", "127.0.0.1:1", "list")
    assert out.returncode != 0 and "control.listener" in out.stderr


def listening_ports(pid):
    """TCP ports process ``pid`` listens on (from /proc: its socket inodes in LISTEN state)."""
    import os
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in open(table).read().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports
