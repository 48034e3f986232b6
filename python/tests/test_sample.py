"""Sample tests using the krab-broker pytest plugin with real Kafka clients.

Needs: pip install krab-broker pytest confluent-kafka pykafka
"""
import os
import socket
import sys
import time
import types
import uuid

import pytest

from krab_broker import KrabBroker

VALUES = [f"message-{i}".encode() for i in range(10)]


def test_confluent_kafka_roundtrip(krab_broker):
    from confluent_kafka import Consumer, Producer

    krab_broker.create_topic("sample-confluent")
    producer = Producer({"bootstrap.servers": krab_broker.bootstrap})
    for v in VALUES:
        producer.produce("sample-confluent", value=v)
    assert producer.flush(30) == 0

    consumer = Consumer({"bootstrap.servers": krab_broker.bootstrap, "group.id": "sample",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe(["sample-confluent"])
    got = []
    deadline = time.monotonic() + 30
    try:
        while len(got) < len(VALUES) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None:
                assert msg.error() is None, msg.error()
                got.append(msg.value())
    finally:
        consumer.close()
    assert got == VALUES


def _import_pykafka():
    """pykafka 2.8.0 imports ``parse_version`` from pkg_resources, which new setuptools (or
    none, the default in Python >= 3.12 venvs) no longer provides: stand in with packaging's."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        from packaging.version import parse
        sys.modules["pkg_resources"] = types.SimpleNamespace(parse_version=parse)
    import pykafka
    import pykafka.utils
    # pykafka caches the protocol version it negotiated per request type, process-wide
    # (pykafka.utils.VERSIONS_CACHE); forget what an earlier broker said.
    getattr(pykafka.utils, "VERSIONS_CACHE", {}).clear()
    return pykafka


def test_pykafka_roundtrip(krab_broker):
    pykafka = _import_pykafka()
    krab_broker.create_topic("sample-pykafka")
    client = pykafka.KafkaClient(hosts=krab_broker.bootstrap)
    topic = client.topics[b"sample-pykafka"]
    with topic.get_sync_producer() as producer:
        for v in VALUES:
            producer.produce(v)
    consumer = topic.get_simple_consumer(consumer_timeout_ms=3000)
    try:
        got = [m.value for m in consumer if m is not None]
    finally:
        consumer.stop()
    assert got == VALUES


@pytest.mark.krab_properties({"num.partitions": "3"})
def test_marker_sets_broker_properties(krab_broker):
    from confluent_kafka import Producer

    # An auto-created topic gets the broker's num.partitions.
    producer = Producer({"bootstrap.servers": krab_broker.bootstrap})
    producer.produce("auto-created", value=b"x")
    assert producer.flush(30) == 0
    meta = producer.list_topics("auto-created", timeout=10)
    assert len(meta.topics["auto-created"].partitions) == 3


def test_krab_bootstrap_accepts_connections(krab_bootstrap):
    host, port = krab_bootstrap.rsplit(":", 1)
    socket.create_connection((host, int(port)), timeout=5).close()


def test_session_broker_is_shared(krab_session_broker):
    topic = f"session-{uuid.uuid4().hex[:8]}"  # the broker outlives this test: unique names
    krab_session_broker.create_topic(topic, partitions=2)
    assert topic in krab_session_broker.topics()


def test_factory_brokers_are_independent(krab_broker_factory):
    a = krab_broker_factory()
    b = krab_broker_factory({"num.partitions": 2})
    assert a.bootstrap.rsplit(":", 1)[1] != b.bootstrap.rsplit(":", 1)[1]
    assert a.data_dir != b.data_dir
    assert os.path.isdir(a.data_dir) and os.path.isdir(b.data_dir)
    a.stop()
    assert not os.path.exists(a.data_dir), "krab dev removes its data directory on exit"
    assert os.path.isdir(b.data_dir)
    a.stop()  # idempotent; b is stopped by the fixture


def test_context_manager_without_fixtures():
    with KrabBroker({"auto.create.topics.enable": False}) as broker:
        assert "running" in repr(broker)
        broker.create_topic("cm-topic", partitions=2, config={"retention.ms": 60000})
        assert broker.topics() == ["cm-topic"]
        data_dir = broker.data_dir
    assert broker.process.returncode is not None
    assert not os.path.exists(data_dir)
    assert "stopped" in repr(broker)


def test_injected_errors_are_retried_by_the_client(krab_broker_factory):
    from confluent_kafka import Producer

    broker = krab_broker_factory(faults=True)
    broker.create_topic("sample-faults")
    fault = broker.add_fault({"error": 6}, api="Produce", count=2)  # NOT_LEADER_OR_FOLLOWER
    assert [f["id"] for f in broker.faults()] == [fault]
    delivered = []
    producer = Producer({"bootstrap.servers": broker.bootstrap, "retry.backoff.ms": 20})
    producer.produce("sample-faults", value=b"survives",
                     on_delivery=lambda err, msg: delivered.append(err))
    assert producer.flush(30) == 0
    assert delivered == [None]
    assert broker.faults() == [], "the fault fired twice and retired"
