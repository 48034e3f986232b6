"""Per-topic configs: /config/topics/<t> and /config/changes as Kafka writes them, honoured by
the log (retention.ms deleting old segments, segment.bytes rolling, max.message.bytes), and
the config / partition / records APIs driven by confluent-kafka's AdminClient."""
import json
import time

from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewPartitions)

from admintools import ok, topics, wrapper
from krabtest import confluent_watermarks, json_znode, unique_topic, wait_until

FAST_RETENTION = {"log.retention.check.interval.ms": "200"}
HOUR_MS = 3_600_000


def produce_old(bootstrap, topic, n, age_ms, size=200):
    """n records whose CreateTime is age_ms in the past."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0, "batch.num.messages": 1})
    ts = int(time.time() * 1000) - age_ms
    for i in range(n):
        p.produce(topic, value=b"o" * size, key=str(i).encode(), timestamp=ts)
        p.flush(10)
    assert len(p) == 0


def segment_files(log_dir, topic):
    return sorted((log_dir / f"{topic}-0").glob("*.log"))


def test_retention_ms_and_segment_bytes(krab, zk, zookeeper):
    b = krab(mode="zookeeper", broker_id=0, overrides=FAST_RETENTION)
    # created with the override: old segments go as soon as retention runs
    t1 = unique_topic("ret")
    ok(topics("--zookeeper", zookeeper.hosts, "--create", "--topic", t1, "--partitions", "1",
              "--replication-factor", "1", "--config", f"retention.ms={HOUR_MS}",
              "--config", "segment.bytes=1024"))
    assert json_znode(zk, f"/config/topics/{t1}")[0] == {
        "version": 1, "config": {"retention.ms": str(HOUR_MS), "segment.bytes": "1024"}}
    wait_until(lambda: zk.exists(f"/brokers/topics/{t1}/partitions/0/state"), msg="state znode")
    produce_old(b.bootstrap, t1, 20, age_ms=2 * HOUR_MS)
    assert len(segment_files(b.log_dir, t1)) >= 3, "segment.bytes=1024 rolls segments"
    ok(wrapper("kafka-console-producer.sh", "--broker-list", b.bootstrap, "--topic", t1,
               input="fresh 1\nfresh 2\n"))
    wait_until(lambda: confluent_watermarks(b.bootstrap, t1)[0] > 0, msg="old segments deleted")
    low, high = confluent_watermarks(b.bootstrap, t1)
    assert high == 22 and low <= 20
    out = ok(wrapper("kafka-console-consumer.sh", "--bootstrap-server", b.bootstrap, "--topic", t1,
                     "--from-beginning", "--max-messages", high - low))
    assert out.splitlines()[-2:] == ["fresh 1", "fresh 2"]

    # set later with --alter --config: a /config/changes notification reaches the broker
    t2 = unique_topic("ret2")
    ok(topics("--zookeeper", zookeeper.hosts, "--create", "--topic", t2, "--partitions", "1",
              "--replication-factor", "1", "--config", "segment.bytes=1024"))
    wait_until(lambda: zk.exists(f"/brokers/topics/{t2}/partitions/0/state"), msg="state znode")
    produce_old(b.bootstrap, t2, 12, age_ms=2 * HOUR_MS)
    ok(wrapper("kafka-console-producer.sh", "--broker-list", b.bootstrap, "--topic", t2,
               input="fresh\n"))
    assert confluent_watermarks(b.bootstrap, t2)[0] == 0  # the 7-day default keeps them
    before = set(zk.get_children("/config/changes"))
    assert "Updated config" in ok(topics("--zookeeper", zookeeper.hosts, "--alter", "--topic", t2,
                                         "--config", f"retention.ms={HOUR_MS}"))
    (note,) = set(zk.get_children("/config/changes")) - before
    assert note.startswith("config_change_")
    assert json_znode(zk, f"/config/changes/{note}")[0] == {"version": 2, "entity_path": f"topics/{t2}"}
    wait_until(lambda: confluent_watermarks(b.bootstrap, t2)[0] > 0,
               msg="retention after the config change")
    # --delete-config returns to the broker default
    ok(topics("--zookeeper", zookeeper.hosts, "--alter", "--topic", t2, "--delete-config",
              "retention.ms"))
    assert "retention.ms" not in json_znode(zk, f"/config/topics/{t2}")[0]["config"]


def test_max_message_bytes_per_topic(krab):
    b = krab(mode="embedded")
    t = unique_topic("max")
    ok(topics("--bootstrap-server", b.bootstrap, "--create", "--topic", t, "--partitions", "1",
              "--replication-factor", "1", "--config", "max.message.bytes=600"))
    ok(wrapper("kafka-console-producer.sh", "--broker-list", b.bootstrap, "--topic", t,
               input="small\n"))
    r = wrapper("kafka-console-producer.sh", "--broker-list", b.bootstrap, "--topic", t,
                input="x" * 2000 + "\n")
    assert r.returncode != 0 and "MESSAGE_TOO_LARGE" in r.stderr, r.stderr
    assert confluent_watermarks(b.bootstrap, t) == (0, 1)


def test_config_partition_and_records_apis(krab, zk):
    b = krab(mode="zookeeper", broker_id=0)
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    t = unique_topic("api")
    ok(topics("--bootstrap-server", b.bootstrap, "--create", "--topic", t, "--partitions", "2",
              "--replication-factor", "1", "--config", "retention.bytes=1000000"))

    (res,) = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, t)]).values()
    configs = res.result(10)
    assert configs["retention.bytes"].value == "1000000"
    assert configs["retention.bytes"].source == 1  # DYNAMIC_TOPIC_CONFIG
    assert configs["cleanup.policy"].value == "delete"
    assert configs["segment.bytes"].is_default

    # IncrementalAlterConfigs: SET one key, DELETE another
    r = ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=[
        ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("retention.bytes", None, incremental_operation=AlterConfigOpType.DELETE)])
    for f in admin.incremental_alter_configs([r]).values():
        f.result(10)
    assert json_znode(zk, f"/config/topics/{t}")[0]["config"] == {"retention.ms": "7200000"}
    # AlterConfigs replaces the whole set
    r = ConfigResource(ConfigResource.Type.TOPIC, t, set_config={"segment.ms": "600000"})
    for f in admin.alter_configs([r]).values():
        f.result(10)
    assert json_znode(zk, f"/config/topics/{t}")[0]["config"] == {"segment.ms": "600000"}
    assert "segment.ms=600000" in ok(topics("--bootstrap-server", b.bootstrap, "--describe",
                                            "--topic", t))

    # CreatePartitions
    for f in admin.create_partitions([NewPartitions(t, 5)]).values():
        f.result(10)
    assert len(json_znode(zk, f"/brokers/topics/{t}")[0]["partitions"]) == 5
    md = admin.list_topics(t, timeout=10)
    assert sorted(md.topics[t].partitions) == list(range(5))

    # DeleteRecords moves the low watermark
    ok(wrapper("kafka-console-producer.sh", "--broker-list", b.bootstrap, "--topic", t,
               "--property", "parse.key=true", input="".join(f"k\tv{i}\n" for i in range(6))))
    part = next(p for p in range(5) if confluent_watermarks(b.bootstrap, t, p)[1] == 6)
    (f,) = admin.delete_records([TopicPartition(t, part, 4)]).values()
    assert f.result(10).low_watermark == 4
    assert confluent_watermarks(b.bootstrap, t, part) == (4, 6)
    out = ok(wrapper("kafka-console-consumer.sh", "--bootstrap-server", b.bootstrap, "--topic", t,
                     "--partition", part, "--offset", "earliest", "--max-messages", "2"))
    assert out.split() == ["v4", "v5"]
