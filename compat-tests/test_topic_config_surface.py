"""Kafka 2.8's whole topic configuration surface (issue 14): every topic config is accepted at
creation with Kafka's types and ranges, stored, and reported back by DescribeConfigs (source,
synonyms) and kafka-topics --describe; one invalid value per key is refused with
INVALID_CONFIG naming the key, the value and the rule; unknown keys are refused."""
import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   ConfigSource, NewTopic)

from admintools import failed, ok, topics
from krabtest import unique_topic

# key: (a valid non-default value, an invalid value)
SURFACE = {
    "cleanup.policy": ("compact,delete", "shred"),
    "compression.type": ("gzip", "brotli"),
    "delete.retention.ms": ("1000", "-1"),
    "file.delete.delay.ms": ("1000", "-1"),
    "flush.messages": ("1000", "-1"),
    "flush.ms": ("1000", "-1"),
    "follower.replication.throttled.replicas": ("0:0", "0-0"),
    "index.interval.bytes": ("8192", "-1"),
    "leader.replication.throttled.replicas": ("*", "everything"),
    "max.compaction.lag.ms": ("100000", "0"),
    "max.message.bytes": ("2000000", "-1"),
    "message.downconversion.enable": ("false", "yes"),
    "message.format.version": ("0.10.2", "9.9"),
    "message.timestamp.difference.max.ms": ("100000", "-1"),
    "message.timestamp.type": ("LogAppendTime", "Now"),
    "min.cleanable.dirty.ratio": ("0.2", "1.5"),
    "min.compaction.lag.ms": ("1000", "-1"),
    # 1 is Kafka's default, but a single broker allows no more (min.insync <= RF).
    "min.insync.replicas": ("1", "0"),
    "preallocate": ("true", "maybe"),
    "retention.bytes": ("100000000", "lots"),
    "retention.ms": ("100000000", "-2"),
    "segment.bytes": ("100000000", "13"),
    "segment.index.bytes": ("100000", "-1"),
    "segment.jitter.ms": ("10", "-1"),
    "segment.ms": ("100000000", "0"),
    "unclean.leader.election.enable": ("true", "2"),
}


def describe(admin, topic):
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return admin.describe_configs([res])[res].result(15)


def test_every_topic_config_is_accepted_stored_and_described(krab):
    b = krab()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    name = unique_topic("surface")
    config = {k: v for k, (v, _) in SURFACE.items()}
    admin.create_topics([NewTopic(name, 1, 1, config=config)])[name].result(15)
    entries = describe(admin, name)
    assert sorted(entries) == sorted(SURFACE), "DescribeConfigs lists exactly Kafka 2.8's topic configs"
    for key, (value, _) in SURFACE.items():
        e = entries[key]
        assert e.value == value, f"{key}: {e.value!r}"
        assert e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value, f"{key}: source {e.source}"
        assert not e.is_default
    # kafka-topics --describe shows every override
    described = ok(topics("--bootstrap-server", b.bootstrap, "--describe", "--topic", name))
    for key, (value, _) in SURFACE.items():
        assert f"{key}={value}" in described, f"{key}={value} not in {described!r}"
    # A topic without overrides reports Kafka's defaults as defaults.
    plain = unique_topic("plain")
    admin.create_topics([NewTopic(plain, 1, 1)])[plain].result(15)
    defaults = describe(admin, plain)
    assert defaults["message.format.version"].value == "2.8-IV1"
    assert defaults["compression.type"].value == "producer"
    assert defaults["min.cleanable.dirty.ratio"].value == "0.5"
    assert all(e.source == ConfigSource.DEFAULT_CONFIG.value for e in defaults.values())


@pytest.mark.parametrize("key", sorted(SURFACE))
def test_one_invalid_value_per_key_is_refused(krab, key):
    b = krab()
    _, bad = SURFACE[key]
    name = unique_topic("bad")
    failed(topics("--bootstrap-server", b.bootstrap, "--create", "--topic", name, "--partitions", "1",
                  "--replication-factor", "1", "--config", f"{key}={bad}"),
           key, bad, "INVALID_CONFIG")
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    assert name not in admin.list_topics(timeout=10).topics


def test_alter_and_incremental_alter_of_stored_only_configs(krab):
    b = krab()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    name = unique_topic("alter")
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(15)
    res = ConfigResource(ConfigResource.Type.TOPIC, name, set_config={"message.format.version": "0.10.2"})
    admin.alter_configs([res])[res].result(15)
    assert describe(admin, name)["message.format.version"].value == "0.10.2"
    inc = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=[
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
        ConfigEntry("leader.replication.throttled.replicas", "0:0",
                    incremental_operation=AlterConfigOpType.APPEND),
    ])
    admin.incremental_alter_configs([inc])[inc].result(15)
    entries = describe(admin, name)
    assert entries["cleanup.policy"].value == "delete,compact"
    assert entries["leader.replication.throttled.replicas"].value == "0:0"
    # APPEND on a non-list config is refused, and nothing is half-applied.
    bad = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=[
        ConfigEntry("segment.jitter.ms", "5", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("preallocate", "true", incremental_operation=AlterConfigOpType.APPEND),
    ])
    with pytest.raises(KafkaException) as e:
        admin.incremental_alter_configs([bad])[bad].result(15)
    assert "preallocate" in e.value.args[0].str()
    assert describe(admin, name)["segment.jitter.ms"].source == ConfigSource.DEFAULT_CONFIG.value
    # Unknown keys are refused as Kafka refuses them.
    unknown = ConfigResource(ConfigResource.Type.TOPIC, name, set_config={"retention.hours": "5"})
    with pytest.raises(KafkaException) as e:
        admin.alter_configs([unknown])[unknown].result(15)
    assert e.value.args[0].name() == "INVALID_CONFIG" and "retention.hours" in e.value.args[0].str()


def test_log_append_time_is_the_brokers_clock_for_every_client(krab):
    """message.timestamp.type=LogAppendTime: whatever CreateTime the producer sends, the
    delivery report, a consumer and kcat's %T all see the broker's clock."""
    import time
    from confluent_kafka import TIMESTAMP_LOG_APPEND_TIME, Consumer, Producer, TopicPartition
    from test_kcat import kcat_ok
    b = krab()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    name = unique_topic("appendtime")
    admin.create_topics([NewTopic(name, 1, 1, config={"message.timestamp.type": "LogAppendTime"})])[
        name].result(15)
    hour_ago = int(time.time() * 1000) - 3_600_000
    delivered = []
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    before = int(time.time() * 1000)
    for i in range(3):
        p.produce(name, b"v%d" % i, timestamp=hour_ago, on_delivery=lambda e, m: delivered.append((e, m)))
    p.flush(15)
    after = int(time.time() * 1000)
    assert [e for e, _ in delivered] == [None] * 3
    kinds = {m.timestamp()[0] for _, m in delivered}
    stamps = [m.timestamp()[1] for _, m in delivered]
    assert kinds == {TIMESTAMP_LOG_APPEND_TIME}
    assert all(before - 1000 <= t <= after + 1000 for t in stamps), (before, stamps, after)
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": unique_topic("g"), "enable.auto.commit": False})
    c.assign([TopicPartition(name, 0, 0)])
    seen = []
    deadline = time.monotonic() + 20
    while len(seen) < 3 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            seen.append(m.timestamp())
    c.close()
    assert [t for t in seen] == [(TIMESTAMP_LOG_APPEND_TIME, t) for t in stamps]
    printed = kcat_ok("-C", "-b", b.bootstrap, "-t", name, "-o", "beginning", "-e", "-f", "%T\\n").stdout
    assert [int(x) for x in printed.split()] == stamps


def test_timestamp_difference_max_refuses_far_off_create_times(krab):
    import time
    from confluent_kafka import KafkaError, Producer
    b = krab()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    name = unique_topic("tsdiff")
    admin.create_topics([NewTopic(name, 1, 1, config={"message.timestamp.difference.max.ms": "60000"})])[
        name].result(15)
    results = []
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    now = int(time.time() * 1000)
    p.produce(name, b"now", timestamp=now, on_delivery=lambda e, m: results.append(e))
    p.flush(15)
    p.produce(name, b"an hour ago", timestamp=now - 3_600_000, on_delivery=lambda e, m: results.append(e))
    p.flush(15)
    assert results[0] is None
    assert results[1] is not None and results[1].code() == KafkaError.INVALID_TIMESTAMP, results[1]


def test_downconversion_disabled_refuses_old_fetch_versions(krab):
    from confluent_kafka import Producer
    from kwire import Conn, fetch_v2_error, fetch_v4
    b = krab()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    strict, plain = unique_topic("noconv"), unique_topic("conv")
    futures = admin.create_topics([NewTopic(strict, 1, 1, config={"message.downconversion.enable": "false"}),
                                   NewTopic(plain, 1, 1)])
    for f in futures.values():
        f.result(15)
    p = Producer({"bootstrap.servers": b.bootstrap})
    for t in (strict, plain):
        p.produce(t, b"record")
    p.flush(15)
    host, port = b.bootstrap.rsplit(":", 1)
    conn = Conn(host, int(port))
    try:
        err, _ = fetch_v2_error(conn, strict)
        assert err == 35, f"UNSUPPORTED_VERSION expected, got {err}"
        err, data = fetch_v2_error(conn, plain)
        assert err == 0 and data, "other topics still down-convert"
        err, data = fetch_v4(conn, strict, [0], 1 << 20, 1 << 20)[0]
        assert err == 0 and data, "v4+ needs no conversion"
    finally:
        conn.close()


def test_compression_type_recompresses_what_producers_send(krab):
    """compression.type=gzip: uncompressed and lz4 batches are stored (and served) as gzip;
    consumers read the same records."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from kwire import Conn, fetch_v4
    b = krab()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    name = unique_topic("gzip")
    admin.create_topics([NewTopic(name, 1, 1, config={"compression.type": "gzip"})])[name].result(15)
    sent = []
    for codec in ("none", "lz4"):
        p = Producer({"bootstrap.servers": b.bootstrap, "compression.type": codec, "linger.ms": 50})
        for i in range(20):
            value = b"%s-%02d " % (codec.encode(), i) * 20
            p.produce(name, value, key=b"k%d" % i)
            sent.append(value)
        p.flush(15)
    host, port = b.bootstrap.rsplit(":", 1)
    conn = Conn(host, int(port))
    try:
        err, data = fetch_v4(conn, name, [0], 10 << 20, 10 << 20)[0]
    finally:
        conn.close()
    assert err == 0
    codecs, pos = [], 0
    while pos + 23 <= len(data):
        length = int.from_bytes(data[pos + 8:pos + 12], "big")
        codecs.append(int.from_bytes(data[pos + 21:pos + 23], "big") & 7)
        pos += 12 + length
    assert codecs and set(codecs) == {1}, f"batch codecs {codecs} (1 = gzip)"
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": unique_topic("g"), "enable.auto.commit": False})
    c.assign([TopicPartition(name, 0, 0)])
    got = []
    import time
    deadline = time.monotonic() + 20
    while len(got) < len(sent) and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got.append(m.value())
    c.close()
    assert got == sent


def test_produce_v8_names_the_records_with_bad_timestamps(krab):
    """Produce v8+: a batch refused for some of its records reports each one's index and
    why (record_errors), with INVALID_TIMESTAMP for the partition; nothing is appended."""
    import time
    from kwire import Conn, list_offsets_latest_v1, produce_v8, record_batch
    b = krab()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    name = unique_topic("recerr")
    admin.create_topics([NewTopic(name, 1, 1, config={"message.timestamp.difference.max.ms": "60000"})])[
        name].result(15)
    host, port = b.bootstrap.rsplit(":", 1)
    conn = Conn(host, int(port))
    try:
        now = int(time.time() * 1000)
        bad = record_batch([b"ok", b"two hours ago", b"ok too", b"tomorrow"], base_timestamp=now,
                           timestamp_deltas=[0, -7_200_000, 0, 86_400_000])
        err, _, record_errors, message = produce_v8(conn, name, 0, bad)
        assert err == 32, f"INVALID_TIMESTAMP expected, got {err}"
        assert [i for i, _ in record_errors] == [1, 3], record_errors
        assert all("out of range" in m for _, m in record_errors)
        assert message and "timestamp" in message
        assert list_offsets_latest_v1(conn, name) == (0, 0), "nothing appended"
        err, base, record_errors, _ = produce_v8(conn, name, 0, record_batch([b"fine"], base_timestamp=now))
        assert (err, base, record_errors) == (0, 0, [])
    finally:
        conn.close()


def test_kafka_python_surfaces_the_per_record_errors(krab):
    """kafka-python 3 (Produce v8+) reads record_errors: the record with the far-off timestamp
    fails with INVALID_TIMESTAMP and the broker's message naming it, its batch mates fail as
    "part of a batch which had one or more invalid records" (as the Java client reports it)."""
    import time
    from kafka import KafkaProducer
    from kafka.errors import InvalidTimestampError
    b = krab()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    name = unique_topic("kp-recerr")
    admin.create_topics([NewTopic(name, 1, 1, config={"message.timestamp.difference.max.ms": "60000"})])[
        name].result(15)
    p = KafkaProducer(bootstrap_servers=b.bootstrap, retries=0, linger_ms=50)
    now = int(time.time() * 1000)
    futures = [p.send(name, b"v%d" % i, timestamp_ms=ts) for i, ts in enumerate([now, now - 7_200_000, now])]
    p.flush()
    outcomes = []
    for f in futures:
        try:
            f.get(10)
            outcomes.append(None)
        except Exception as e:  # noqa: BLE001 - the error classes are what is checked
            outcomes.append(e)
    assert isinstance(outcomes[1], InvalidTimestampError), outcomes
    assert "offset 1 is out of range" in str(outcomes[1]), outcomes[1]
    for mate in (outcomes[0], outcomes[2]):
        assert mate is not None and "part of a batch" in str(mate), mate
    p.close()


def test_file_delete_delay_renames_then_removes_segments(krab):
    """Retention renames deleted segments `*.deleted` and removes them file.delete.delay.ms
    later, as Kafka does; consumers see the new log start at once."""
    import time
    from confluent_kafka import Producer
    from krabtest import confluent_watermarks, wait_until
    b = krab(overrides={"log.retention.check.interval.ms": 200})
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    name = unique_topic("delay")
    admin.create_topics([NewTopic(name, 1, 1, config={
        "segment.bytes": "1024", "retention.ms": "60000", "file.delete.delay.ms": "3000"})])[name].result(15)
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "batch.num.messages": 1})
    old = int(time.time() * 1000) - 3_600_000
    for _ in range(12):
        p.produce(name, b"o" * 200, timestamp=old)
        p.flush(10)
    part = b.log_dir / f"{name}-0"
    wait_until(lambda: confluent_watermarks(b.bootstrap, name)[0] > 0, timeout=10, msg="retention ran")
    deleted = sorted(x.name for x in part.glob("*.deleted"))
    assert any(n.endswith(".log.deleted") for n in deleted), sorted(x.name for x in part.iterdir())
    wait_until(lambda: not list(part.glob("*.deleted")), timeout=10, msg="the delayed removal")


def test_segment_index_bytes_rolls_segments_when_the_index_is_full(krab):
    from confluent_kafka import Producer
    b = krab()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    name = unique_topic("smallindex")
    # an index entry for every batch, room for two: a new segment every two batches
    admin.create_topics([NewTopic(name, 1, 1, config={"segment.index.bytes": "16",
                                                      "index.interval.bytes": "0"})])[name].result(15)
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    for i in range(8):
        p.produce(name, b"v%d" % i)
        p.flush(10)
    logs = sorted((b.log_dir / f"{name}-0").glob("*.log"))
    assert len(logs) >= 4, [x.name for x in logs]
