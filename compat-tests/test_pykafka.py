"""pykafka 2.8.0, used the way the user's notes (shared/seed) use it.

pykafka's default broker_version="0.9.0" means: no ApiVersions, Metadata v0, Produce v0 with
magic-0 messages, Fetch v1 (broker must down-convert to magic 0), ListOffsets v0,
GroupCoordinator v0, OffsetFetch v1, OffsetCommit v1 with generation -1.
"""
import pytest
from confluent_kafka import Producer
from pykafka import KafkaClient
from pykafka.common import CompressionType

from krabtest import confluent_consume_all

SEED_COUNT = 20


@pytest.fixture(autouse=True)
def fresh_pykafka_version_cache():
    """pykafka caches the negotiated request/response class per API in a process-global dict
    (pykafka.utils.VERSIONS_CACHE) the first time it talks to *any* broker.  Without clearing
    it, a test using broker_version='0.10.0' would silently reuse the Fetch v1 chosen by an
    earlier 0.9.0 test (and then mis-decode LZ4).  Start every test from a clean slate."""
    from pykafka.utils import VERSIONS_CACHE
    VERSIONS_CACHE.clear()
    yield
    VERSIONS_CACHE.clear()


def seed_value(i):
    # Exactly the seed's payload.  Note: on Python 3 ``bytes(i ** 2)`` is i**2 zero bytes.
    return b'test message ' + bytes(i ** 2)


def seed_produce(host, topic_name, sync, start=0, count=SEED_COUNT, **client_kw):
    """The seed's producer, adapted only for host/topic (and sync vs async producer)."""
    client = KafkaClient(hosts=host, **client_kw)
    topicdocu = client.topics[topic_name.encode()]
    producer = topicdocu.get_sync_producer() if sync else topicdocu.get_producer()
    for i in range(start, start + count):
        sendmsg = producer.produce(seed_value(i))  # noqa: F841 (the seed prints it)
    producer.stop()


def seed_consume(host, topic_name, timeout_ms=3000, **client_kw):
    """The seed's consumer (+consumer_timeout_ms so the iteration ends).  Returns the consumer
    (still running) and the list of (offset, value)."""
    client = KafkaClient(hosts=host, **client_kw)
    topice = client.topics[topic_name.encode()]
    consumer = topice.get_simple_consumer(consumer_group=b'test1', auto_commit_enable=True,
                                          auto_commit_interval_ms=1, consumer_id=b'test1',
                                          consumer_timeout_ms=timeout_ms)
    got = []
    for messages in consumer:
        if messages is not None:
            offset = messages.offset
            value = messages.value
            value.decode('utf-8')  # the seed prints it decoded; must not raise
            got.append((offset, value))
    return consumer, got


@pytest.mark.parametrize("sync", [True, False], ids=["sync_producer", "async_producer"])
def test_seed_produce_consume_and_resume(broker, topic, sync, metadata_mode, request):
    seed_produce(broker.bootstrap, topic, sync)

    consumer, got = seed_consume(broker.bootstrap, topic)
    consumer.stop()  # commits the offsets (auto_commit_enable)
    assert got == [(i, seed_value(i)) for i in range(SEED_COUNT)]

    if metadata_mode == "zookeeper":
        zk = request.getfixturevalue("zk")
        path = f"/consumers/test1/offsets/{topic}/0"
        assert zk.exists(path), f"{path} missing after OffsetCommit"
        assert zk.get(path)[0] == b"20"

    # a second consumer of the same group resumes after the committed offset (the 5 extra
    # messages come from librdkafka: pykafka's producer.stop() lingers 5-10 s)
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(SEED_COUNT, SEED_COUNT + 5):
        p.produce(topic, value=seed_value(i), partition=0)
    assert p.flush(15) == 0
    consumer2, got2 = seed_consume(broker.bootstrap, topic)
    consumer2.stop()
    assert got2 == [(i, seed_value(i)) for i in range(SEED_COUNT, SEED_COUNT + 5)]

    if metadata_mode == "zookeeper":
        assert zk.get(f"/consumers/test1/offsets/{topic}/0")[0] == b"25"


@pytest.mark.parametrize("codec", [CompressionType.GZIP, CompressionType.SNAPPY,
                                   CompressionType.LZ4], ids=["gzip", "snappy", "lz4"])
def test_compression(broker, topic, codec):
    values = [b"compressible payload %05d " % i + b"x" * (i % 50) for i in range(200)]
    client = KafkaClient(hosts=broker.bootstrap)
    t = client.topics[topic.encode()]
    producer = t.get_producer(compression=codec, linger_ms=200, min_queued_messages=50)
    for v in values:
        producer.produce(v)
    producer.stop()

    consumer = t.get_simple_consumer(consumer_timeout_ms=4000)
    got = [(m.offset, m.value) for m in consumer if m is not None]
    consumer.stop()
    assert got == list(enumerate(values))

    # cross-check with a modern client (Fetch v4+, stored format)
    msgs = confluent_consume_all(broker.bootstrap, topic, len(values))
    assert [(m.offset(), m.value()) for m in msgs] == list(enumerate(values))


@pytest.mark.parametrize("codec", [CompressionType.NONE, CompressionType.LZ4],
                         ids=["none", "lz4"])
def test_broker_version_0_10(krab, topic, codec):
    """broker_version='0.10.0': pykafka sends ApiVersions v0, uses the broker's maxima (Fetch v2,
    Metadata up to v5), magic-1 messages and the interoperable LZ4 framing."""
    broker = krab(mode="embedded")
    client = KafkaClient(hosts=broker.bootstrap, broker_version="0.10.0")
    t = client.topics[topic.encode()]
    producer = t.get_sync_producer(compression=codec, linger_ms=0)
    values = [b"v10-%d" % i for i in range(30)]
    for v in values:
        producer.produce(v)
    producer.stop()
    consumer = t.get_simple_consumer(consumer_timeout_ms=4000)
    got = [(m.offset, m.value) for m in consumer if m is not None]
    consumer.stop()
    assert got == list(enumerate(values))


def test_broker_discovery_from_zookeeper(krab, zookeeper, topic):
    """KafkaClient(zookeeper_hosts=...) reads /brokers/ids/<id> (top-level host/port)."""
    broker = krab(mode="zookeeper")
    seed_produce(None, topic, sync=True, zookeeper_hosts=zookeeper.hosts)
    consumer, got = seed_consume(None, topic, zookeeper_hosts=zookeeper.hosts)
    consumer.stop()
    assert got == [(i, seed_value(i)) for i in range(SEED_COUNT)]
    broker.check_alive()
