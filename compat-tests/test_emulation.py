"""Old-Kafka emulation (`--emulate-kafka-version`, issue 13): the broker offers only the API
versions (and writes the message format) of the release it emulates, so kafka-python's probe
names that release, 0.9 clients configured as such work, and newer requests are refused as
the old broker refused them (the connection closes)."""
import subprocess

import pytest
from confluent_kafka import Producer
from kafka import KafkaConsumer, KafkaProducer

try:
    from kafka import KafkaClient
except ImportError:  # kafka-python 3 keeps its KafkaClient in kafka.net.compat
    from kafka.net.compat import KafkaNetClient as KafkaClient

import kwire
from devbroker import dev_broker  # noqa: F401
from krabtest import KRAB_BIN, confluent_consume_all, run_krab_cli, unique_topic


def emulating(dev_broker, version):
    return dev_broker(extra_args=["--emulate-kafka-version", version])


@pytest.mark.parametrize("emulated, probed", [
    ("0.10.2", (0, 10, 2)),
    ("1.1", (1, 1)),
    ("2.0", (2, 0)),
    ("2.8", (2, 8)),
])
def test_kafka_python_probe_reports_the_emulated_release(dev_broker, emulated, probed):
    b = emulating(dev_broker, emulated)
    client = KafkaClient(bootstrap_servers=b.bootstrap)
    try:
        assert client.check_version(timeout_ms=10000) == probed
    finally:
        client.close()


def api_versions(b):
    host, port = b.bootstrap.rsplit(":", 1)
    conn = kwire.Conn(host, int(port))
    try:
        r = conn.call(18, 0, b"")
        assert r.i16() == 0
        return {r.i16(): (r.i16(), r.i16()) for _ in range(r.i32())}
    finally:
        conn.close()


def test_api_versions_lists_the_release_table(dev_broker):
    table = api_versions(emulating(dev_broker, "0.10.2"))
    assert table[0] == (0, 2) and table[1] == (0, 3) and table[3] == (0, 2)
    assert 22 not in table, "InitProducerId came with 0.11"
    current = api_versions(dev_broker())
    assert current[0] == (0, 9)


def test_0_9_has_no_api_versions_and_refuses_newer_requests(dev_broker):
    b = emulating(dev_broker, "0.9.0")
    host, port = b.bootstrap.rsplit(":", 1)
    probe = kwire.Conn(host, int(port))
    probe.send_raw(probe.request_bytes(18, 0, b"")[0])
    assert probe.closed_by_peer(), "0.9 knew no ApiVersions: the probe must see the connection close"
    assert probe.leftover == b""
    produce_v3 = kwire.Conn(host, int(port))
    topic = unique_topic("emu-v3")
    body = (kwire.string(None) + kwire.i16(1) + kwire.i32(5000) + kwire.array(
        [kwire.string(topic) + kwire.array([kwire.i32(0) + kwire.nbytes(kwire.record_batch([b"x"]))])]))
    produce_v3.send_raw(produce_v3.request_bytes(0, 3, body)[0])
    assert produce_v3.closed_by_peer(), "Produce v3 is unknown to 0.9"
    # The broker itself is unharmed: a v0 Metadata request on a new connection works.
    fine = kwire.Conn(host, int(port))
    r = fine.call(3, 0, kwire.array([]))
    assert r.i32() >= 1, "Metadata v0 lists the broker"
    fine.close()
    # kafka-python 3 probes with ApiVersions and, like against a real 0.9 broker, cannot connect.
    client = KafkaClient(bootstrap_servers=b.bootstrap, request_timeout_ms=3000)
    try:
        with pytest.raises(Exception):
            client.check_version(timeout_ms=3000)
    finally:
        client.close()


def test_0_9_clients_configured_for_0_9_work_and_messages_are_stored_as_magic_0(dev_broker):
    b = emulating(dev_broker, "0.9.0")
    topic = unique_topic("emu-09")
    # kafka-python told the broker is 0.9 (no probe): producer and group consumer.
    producer = KafkaProducer(bootstrap_servers=b.bootstrap, api_version=(0, 9))
    for i in range(10):
        producer.send(topic, b"kp-%d" % i).get(timeout=10)
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=b.bootstrap, api_version=(0, 9), group_id="emu09",
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    assert [m.value for m in consumer] == [b"kp-%d" % i for i in range(10)]
    consumer.close()
    # librdkafka the way 0.9 users configure it.
    legacy = {"api.version.request": False, "broker.version.fallback": "0.9.0"}
    p = Producer({"bootstrap.servers": b.bootstrap, **legacy})
    for i in range(10):
        p.produce(topic, value=b"rd-%d" % i)
    assert p.flush(15) == 0
    got = confluent_consume_all(b.bootstrap, topic, 20, extra_conf=legacy)
    assert [m.value() for m in got] == [b"kp-%d" % i for i in range(10)] + [b"rd-%d" % i for i in range(10)]
    # What is on disk is 0.9's format: magic 0 messages.
    segment = b.data_dir / f"{topic}-0" / ("0" * 20 + ".log")
    dump = run_krab_cli("dump-log", "--files", segment)
    assert dump.returncode == 0, dump.stderr
    assert "magic: 0" in dump.stdout and "magic: 2" not in dump.stdout, dump.stdout[:2000]


@pytest.mark.parametrize("emulated", ["0.9.0", "0.10.2", "2.0", "2.8", "3.x"])
def test_pykafka_works_against_each_release(dev_broker, emulated):
    import pykafka
    from pykafka import KafkaClient as PyKafkaClient
    getattr(pykafka.utils, "VERSIONS_CACHE", {}).clear()
    b = emulating(dev_broker, emulated)
    topic = unique_topic("emu-pk")
    broker_version = "0.9.0" if emulated == "0.9.0" else "0.10.1"
    client = PyKafkaClient(hosts=b.bootstrap, broker_version=broker_version)
    t = client.topics[topic]
    with t.get_sync_producer() as producer:
        for i in range(5):
            producer.produce(b"pk-%d" % i)
    consumer = t.get_simple_consumer(consumer_timeout_ms=3000, auto_offset_reset=pykafka.common.OffsetType.EARLIEST)
    got = [m.value for m in consumer]
    consumer.stop()
    assert got == [b"pk-%d" % i for i in range(5)]


def test_unknown_release_is_refused(tmp_path):
    out = subprocess.run([str(KRAB_BIN), "dev", "--temp-dir", str(tmp_path), "--emulate-kafka-version", "0.8.2"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "0.9.0, 0.10.2, 1.1, 2.0, 2.8, 3.x" in out.stderr, out.stderr
    assert list(tmp_path.iterdir()) == []
