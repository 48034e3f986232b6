"""Bad input to the admin tools and APIs: each is a one-line error naming the problem with a
non-zero exit from ``kafka-topics.sh`` (both modes), Kafka's error code from the APIs, and
nothing half-written in ZooKeeper."""
import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from admintools import failed, ok, topics
from krabtest import json_znode, unique_topic, wait_until

# (name, create args, words the error must contain, Kafka error name from the API)
CREATE_CASES = [
    ("space", "bad name", ["--partitions", "1", "--replication-factor", "1"],
     ["invalid topic name"], "TOPIC_EXCEPTION"),
    ("dotdot", "..", ["--partitions", "1", "--replication-factor", "1"],
     ["invalid topic name", "reserved"], "TOPIC_EXCEPTION"),
    ("long", "x" * 250, ["--partitions", "1", "--replication-factor", "1"],
     ["invalid topic name", "249"], "TOPIC_EXCEPTION"),
    ("zero-partitions", None, ["--partitions", "0", "--replication-factor", "1"],
     ["partitions", "got 0"], "INVALID_PARTITIONS"),
    ("negative-partitions", None, ["--partitions", "-3", "--replication-factor", "1"],
     ["partitions", "got -3"], "INVALID_PARTITIONS"),
    ("too-many-partitions", None, ["--partitions", "100001", "--replication-factor", "1"],
     ["100001", "limit"], "INVALID_PARTITIONS"),
    ("replication", None, ["--partitions", "1", "--replication-factor", "3"],
     ["replication factor 3", "1 live broker"], "INVALID_REPLICATION_FACTOR"),
    ("unknown-config", None, ["--partitions", "1", "--replication-factor", "1",
                              "--config", "retention.hours=5"],
     ["retention.hours", "unknown topic config"], "INVALID_CONFIG"),
    ("ill-typed", None, ["--partitions", "1", "--replication-factor", "1",
                         "--config", "retention.ms=soon"],
     ["retention.ms", "soon", "64-bit integer"], "INVALID_CONFIG"),
    ("out-of-range", None, ["--partitions", "1", "--replication-factor", "1",
                            "--config", "segment.bytes=10"],
     ["segment.bytes", "10", "at least 14"], "INVALID_CONFIG"),
    ("bad-policy", None, ["--partitions", "1", "--replication-factor", "1",
                          "--config", "cleanup.policy=shred"],
     ["cleanup.policy", "shred", "compact, delete"], "INVALID_CONFIG"),
    ("bad-format-version", None, ["--partitions", "1", "--replication-factor", "1",
                                  "--config", "message.format.version=0.7"],
     ["message.format.version", "0.7", "not a valid version"], "INVALID_CONFIG"),
    ("bad-assignment", None, ["--replica-assignment", "0:7"],
     ["replica assignment", "7"], "INVALID_REPLICA_ASSIGNMENT"),
]


def nothing_written(zk, name):
    if "/" in name or name in (".", ".."):
        return
    assert not zk.exists(f"/brokers/topics/{name}"), name
    assert not zk.exists(f"/config/topics/{name}"), name


@pytest.mark.parametrize("case", CREATE_CASES, ids=[c[0] for c in CREATE_CASES])
def test_bad_create(krab, zk, zookeeper, case):
    _, name, args, words, code = case
    b = krab(mode="zookeeper", broker_id=0)
    name = name or unique_topic("bad")
    before = sorted(zk.get_children("/brokers/topics"))
    failed(topics("--zookeeper", zookeeper.hosts, "--create", "--topic", name, *args), *words)
    nothing_written(zk, name)
    # through CreateTopics: the same words and Kafka's error code name
    failed(topics("--bootstrap-server", b.bootstrap, "--create", "--topic", name, *args),
           *words, code)
    nothing_written(zk, name)
    assert sorted(zk.get_children("/brokers/topics")) == before
    assert ok(topics("--zookeeper", zookeeper.hosts, "--list")).split() == before


def test_bad_create_api_error_codes(krab, zk):
    b = krab(mode="zookeeper", broker_id=0)
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    for case_id, name, args, _, code in CREATE_CASES:
        name = name or unique_topic("api")
        opts = dict(zip(args[::2], args[1::2]))
        kw = {}
        if "--replica-assignment" in opts:
            kw["replica_assignment"] = [[int(x) for x in opts["--replica-assignment"].split(":")]]
        else:
            kw["num_partitions"] = int(opts["--partitions"])
            kw["replication_factor"] = int(opts["--replication-factor"])
        if "--config" in opts:
            k, v = opts["--config"].split("=", 1)
            kw["config"] = {k: v}
        try:
            (f,) = admin.create_topics([NewTopic(name, **kw)], request_timeout=10).values()
        except (ValueError, KafkaException):
            continue  # librdkafka refuses it before sending (partitions < 1); the tool test covers it
        with pytest.raises(KafkaException) as e:
            f.result(15)
        err = e.value.args[0]
        assert code in err.name(), f"{case_id}: {err.name()} {err.str()}"
        nothing_written(zk, name)


def test_shrinking_and_unknown_topics(krab, zk, zookeeper):
    b = krab(mode="zookeeper", broker_id=0)
    t = unique_topic("shrink")
    ok(topics("--zookeeper", zookeeper.hosts, "--create", "--topic", t, "--partitions", "3",
              "--replication-factor", "1"))
    wait_until(lambda: zk.exists(f"/brokers/topics/{t}/partitions/2/state"), msg="state znodes")
    before, _ = json_znode(zk, f"/brokers/topics/{t}")
    for mode in (["--zookeeper", zookeeper.hosts], ["--bootstrap-server", b.bootstrap]):
        failed(topics(*mode, "--alter", "--topic", t, "--partitions", "2"), "only be increased")
        failed(topics(*mode, "--alter", "--topic", t, "--partitions", "3"), "only be increased")
        failed(topics(*mode, "--alter", "--topic", t, "--config", "retention.ms=x"), "retention.ms", "64-bit integer")
        failed(topics(*mode, "--delete", "--topic", "no-such-topic"), "does not exist")
        failed(topics(*mode, "--alter", "--topic", "no-such-topic", "--partitions", "9"), "does not exist")
        assert ok(topics(*mode, "--delete", "--topic", "no-such-topic", "--if-exists")) == ""
        failed(topics(*mode, "--create", "--topic", t, "--partitions", "1",
                      "--replication-factor", "1"), "already exists")
        assert ok(topics(*mode, "--create", "--topic", t, "--partitions", "1",
                         "--replication-factor", "1", "--if-not-exists")) == ""
    assert json_znode(zk, f"/brokers/topics/{t}")[0] == before
    assert json_znode(zk, f"/config/topics/{t}")[0]["config"] == {}

    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    (f,) = admin.create_partitions([NewPartitions(t, 2)]).values()
    with pytest.raises(KafkaException) as e:
        f.result(15)
    assert e.value.args[0].name() == "INVALID_PARTITIONS"
    assert json_znode(zk, f"/brokers/topics/{t}")[0] == before
