"""message.format.version (issue 14): a topic at a release before 0.11 stores its records as
that release wrote them, magic 1 (0.10.x) or magic 0 (0.8.x/0.9.x), whatever format producers
send; old consumers read it without down-conversion, new ones read it as stored, and it survives
kill -9 and replication. What the old format cannot hold is refused as Kafka refuses it."""
import subprocess
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from pykafka import KafkaClient

from clustertest import Cluster
from krabtest import KRAB_BIN, confluent_consume_all, unique_topic, wait_until
from test_metrics import scrape


def dump_lines(log_dir, topic, p=0):
    """`krab dump-log` batch lines of the partition's segments."""
    files = sorted(str(f) for f in (log_dir / f"{topic}-{p}").glob("*.log"))
    r = subprocess.run([str(KRAB_BIN), "dump-log", "--files", ",".join(files)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [line for line in r.stdout.splitlines() if line.startswith("baseOffset:")]


def field(line, name):
    words = line.split()
    return words[words.index(name + ":") + 1]


def produce_mixed(bootstrap, topic, prefix, t0):
    """20 records from confluent-kafka (v2 batches: 10 plain, 10 gzip) with CreateTimes t0+i."""
    sent = []
    for codec in ("none", "gzip"):
        p = Producer({"bootstrap.servers": bootstrap, "compression.type": codec, "linger.ms": 20})
        for i in range(10):
            n = len(sent)
            value = b"%s-%s-%02d" % (prefix, codec.encode(), n)
            p.produce(topic, value, key=b"k%d" % n, timestamp=t0 + n)
            sent.append((value, t0 + n))
        assert p.flush(15) == 0
    return sent


def consume_confluent(bootstrap, topic, n):
    return [(m.value(), m.timestamp()) for m in confluent_consume_all(bootstrap, topic, n)]


def consume_pykafka(bootstrap, topic, broker_version):
    """broker_version 0.9.0 fetches with v1 (magic 0), 0.10.0 with v2 (magic 1). pykafka caches
    the versions it picked process-wide; cleared so each call negotiates its own."""
    from pykafka.utils import VERSIONS_CACHE
    VERSIONS_CACHE.clear()
    client = KafkaClient(hosts=bootstrap, broker_version=broker_version)
    consumer = client.topics[topic.encode()].get_simple_consumer(consumer_timeout_ms=3000)
    try:
        return [(m.offset, m.value) for m in consumer if m is not None]
    finally:
        consumer.stop()
        VERSIONS_CACHE.clear()


def conversions(broker):
    m = scrape(broker)
    return (m.total("krab_fetch_message_conversions_total"),
            m.total("krab_produce_message_conversions_total"))


def test_old_format_topics_store_old_magic_and_old_consumers_read_it_as_stored(krab):
    b = krab(overrides={"monitor.listener": "127.0.0.1:0"})
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    v010, v09 = unique_topic("fmt010"), unique_topic("fmt09")
    futures = admin.create_topics([NewTopic(v010, 1, 1, config={"message.format.version": "0.10.2"}),
                                   NewTopic(v09, 1, 1, config={"message.format.version": "0.9.0"})])
    for f in futures.values():
        f.result(15)
    t0 = int(time.time() * 1000) - 60_000
    sent = {v010: produce_mixed(b.bootstrap, v010, b"ten", t0),
            v09: produce_mixed(b.bootstrap, v09, b"nine", t0)}
    # pykafka's own producer (Produce v0, magic 0 messages) into the 0.10 topic.
    from pykafka.utils import VERSIONS_CACHE
    VERSIONS_CACHE.clear()
    client = KafkaClient(hosts=b.bootstrap)
    with client.topics[v010.encode()].get_sync_producer(linger_ms=0) as producer:
        for i in range(5):
            producer.produce(b"pykafka-%d" % i)
    assert conversions(b) == (0, 45)

    # On disk: every entry is a magic 1 (resp. 0) message or gzip wrapper; none is v2.
    for topic, magic in ((v010, "1"), (v09, "0")):
        lines = dump_lines(b.log_dir, topic)
        assert lines and {field(l, "magic") for l in lines} == {magic}, lines[:3]
        assert {field(l, "compresscodec") for l in lines} == {"NONE", "GZIP"}, lines
        assert all(field(l, "isvalid") == "true" for l in lines)

    # Old consumers read the stored format as it is: no conversion counted.
    values010 = [v for v, _ in sent[v010]] + [b"pykafka-%d" % i for i in range(5)]
    assert consume_pykafka(b.bootstrap, v010, "0.10.0") == list(enumerate(values010))  # Fetch v2: magic 1
    assert consume_pykafka(b.bootstrap, v09, "0.9.0") == list(enumerate(v for v, _ in sent[v09]))  # Fetch v1: magic 0
    assert conversions(b)[0] == 0
    # A magic 0 reader of the magic 1 topic still needs (and gets) a conversion.
    assert consume_pykafka(b.bootstrap, v010, "0.9.0") == list(enumerate(values010))
    assert conversions(b)[0] == len(values010)

    # New clients read the old formats: magic 1 keeps CreateTimes, magic 0 has none.
    got010 = consume_confluent(b.bootstrap, v010, 25)
    assert [(v, ts[1]) for v, ts in got010[:20]] == sent[v010]
    assert all(ts[0] == 1 for _, ts in got010[:20])  # TIMESTAMP_CREATE_TIME
    got09 = consume_confluent(b.bootstrap, v09, 20)
    assert [v for v, _ in got09] == [v for v, _ in sent[v09]]
    assert all(ts[0] == 0 for _, ts in got09), got09[:2]  # TIMESTAMP_NOT_AVAILABLE

    # Record headers cannot be stored at magic 1: refused, nothing appended.
    errors = []
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "retries": 0})
    p.produce(v010, b"with-headers", headers=[("h", b"1")], on_delivery=lambda e, m: errors.append(e))
    p.flush(15)
    assert errors and errors[0] is not None and errors[0].code() == KafkaError.INVALID_RECORD, errors

    # kill -9, restart: the active segment is recovered entry by entry; appends continue.
    b.kill()
    b.restart()
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0})
    p.produce(v010, b"after-restart")
    assert p.flush(15) == 0
    got = consume_confluent(b.bootstrap, v010, 26)
    assert [v for v, _ in got] == values010 + [b"after-restart"]
    assert {field(l, "magic") for l in dump_lines(b.log_dir, v010)} == {"1"}


def test_old_format_partitions_replicate_entry_for_entry(krab, zk):
    """RF 2: the follower copies the leader's magic 1 entries as they are."""
    c = Cluster(krab, zk, 2)
    name = unique_topic("fmtrep")
    c.create_topic(name, 1, 2, configs={"message.format.version": "0.10.2"})
    sent = produce_mixed(c.bootstrap, name, b"rep", int(time.time() * 1000))
    wait_until(lambda: c.dump(0, name, 0) == c.dump(1, name, 0) and len(c.dump(0, name, 0)) >= 11,
               timeout=20, msg="the follower holds the leader's entries")
    lines = dump_lines(c.brokers[c.leader(name, 0)].log_dir, name)
    assert {field(l, "magic") for l in lines} == {"1"}
    assert [v for v, _ in consume_confluent(c.bootstrap, name, 20)] == [v for v, _ in sent]


def test_broker_file_log_synonyms_are_the_topic_defaults(krab):
    """log.message.format.version / log.message.timestamp.type in the broker's own config are
    the defaults of topics created without them: reported as STATIC_BROKER_CONFIG and applied."""
    from confluent_kafka.admin import ConfigResource, ConfigSource
    b = krab(overrides={"log.message.format.version": "0.10.2",
                        "log.message.timestamp.type": "LogAppendTime"})
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    name = unique_topic("static")
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(15)
    res = ConfigResource(ConfigResource.Type.TOPIC, name)
    described = admin.describe_configs([res])[res].result(15)
    for key, value in (("message.format.version", "0.10.2"), ("message.timestamp.type", "LogAppendTime")):
        assert described[key].value == value
        assert described[key].source == ConfigSource.STATIC_BROKER_CONFIG.value, (key, described[key].source)
    before = int(time.time() * 1000)
    p = Producer({"bootstrap.servers": b.bootstrap})
    p.produce(name, b"stamped", timestamp=1_000)
    assert p.flush(15) == 0
    (value, (ts_type, ts)), = consume_confluent(b.bootstrap, name, 1)
    assert value == b"stamped" and ts_type == 2 and ts >= before, (ts_type, ts)  # LOG_APPEND_TIME
    assert {field(l, "magic") for l in dump_lines(b.log_dir, name)} == {"1"}
