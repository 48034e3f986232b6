"""Group and admin answers that clients check against Kafka's (issue 15): committed leader
epochs across a restart, Empty groups still listed as consumer groups, OffsetDelete (KIP-496)
through kafka-python and `krab consumer-groups --delete-offsets`, authorized operations
(KIP-430) without an authorizer, DescribeCluster, session expiry at the deadline, and every
refusal answered at once with a non-retriable error.

confluent-kafka's Python AdminClient (2.16) has no delete_consumer_group_offsets, so
OffsetDelete is driven through kafka-python's KafkaAdminClient.delete_group_offsets (a real
client sending OffsetDelete v0) and krab's own tool."""
import json
import time

import pytest
from confluent_kafka import (ConsumerGroupState, KafkaException, Producer, TopicCollection,
                             TopicPartition)
from confluent_kafka.admin import AclOperation, AdminClient
from kafka import KafkaAdminClient
from kafka import TopicPartition as KTopicPartition
from kafka.errors import GroupSubscribedToTopicError, NoError

import kwire
from admintools import ok, wrapper
from krabtest import unique_topic, wait_until
from test_groups import GROUP_BROKER, consumer, parts, pump

# Kafka's AclEntry.supportedOperations, what a broker without an authorizer grants.
TOPIC_OPS = {AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE, AclOperation.DESCRIBE,
             AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE_CONFIGS,
             AclOperation.ALTER_CONFIGS}
GROUP_OPS = {AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE}
CLUSTER_OPS = {AclOperation.CREATE, AclOperation.CLUSTER_ACTION, AclOperation.DESCRIBE_CONFIGS,
               AclOperation.ALTER_CONFIGS, AclOperation.IDEMPOTENT_WRITE, AclOperation.ALTER,
               AclOperation.DESCRIBE}


def produce(bootstrap, topic, n, partitions=2):
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(n):
        p.produce(topic, b"v%d" % i, partition=i % partitions)
    assert p.flush(30) == 0


def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


def committed(bootstrap, group, topic, partitions=(0, 1)):
    c = consumer(bootstrap, group, "reader")
    try:
        got = c.committed([TopicPartition(topic, p) for p in partitions], timeout=20)
    finally:
        c.close()
    return {tp.partition: (tp.offset, tp.leader_epoch, tp.metadata) for tp in got}


def listed(bootstrap, group):
    a = admin(bootstrap)  # held: a collected client fails its futures with _DESTROY
    result = a.list_consumer_groups().result(20)
    found = [g for g in result.valid if g.group_id == group]
    assert len(found) == 1, f"{group} not listed in {[g.group_id for g in result.valid]} {result.errors}"
    return found[0]


def test_committed_leader_epoch_and_metadata_survive_a_restart(krab, metadata_mode, zk):
    b = krab(mode=metadata_mode, overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("g")
    produce(b.bootstrap, topic, 10)
    c = consumer(b.bootstrap, group, "committer")
    c.commit(offsets=[TopicPartition(topic, 0, 5, leader_epoch=1, metadata="m-five"),
                      TopicPartition(topic, 1, 3)], asynchronous=False)
    c.close()
    assert committed(b.bootstrap, group, topic) == {0: (5, 1, "m-five"), 1: (3, None, None)}
    b.restart()
    assert committed(b.bootstrap, group, topic) == {0: (5, 1, "m-five"), 1: (3, None, None)}
    if metadata_mode == "zookeeper":
        # The offset znode stays a plain decimal; the epoch lives in krab's sibling tree.
        assert zk.get(f"/consumers/{group}/offsets/{topic}/0")[0] == b"5"
        details = json.loads(zk.get(f"/consumers/{group}/krab/offsets/{topic}/0")[0])
        assert details["offset"] == 5 and details["leader_epoch"] == 1
        # An offset set by hand does not come back with the old epoch.
        zk.set(f"/consumers/{group}/offsets/{topic}/0", b"7")
        assert committed(b.bootstrap, group, topic)[0] == (7, None, None)


def test_empty_group_stays_a_consumer_group(krab, metadata_mode):
    b = krab(mode=metadata_mode, overrides=GROUP_BROKER)
    topic, group, simple = unique_topic(), unique_topic("g"), unique_topic("simple")
    produce(b.bootstrap, topic, 6)
    c = consumer(b.bootstrap, group, "member", **{"enable.auto.commit": False})
    c.subscribe([topic])
    seen = []
    pump({"c": c}, seen, lambda: len(seen) == 6, msg="all six records")
    c.commit(asynchronous=False)
    g = listed(b.bootstrap, group)
    assert g.is_simple_consumer_group is False and g.state == ConsumerGroupState.STABLE
    c.close()
    s = consumer(b.bootstrap, simple, "simple")
    s.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
    s.close()
    for restart in (False, True):
        if restart:
            b.restart()
        g = listed(b.bootstrap, group)
        assert g.is_simple_consumer_group is False, "an Empty group keeps protocol type consumer"
        assert g.state == ConsumerGroupState.EMPTY
        a = admin(b.bootstrap)
        d = a.describe_consumer_groups([group])[group].result(20)
        assert d.is_simple_consumer_group is False and d.state == ConsumerGroupState.EMPTY
        assert d.members == []
        assert listed(b.bootstrap, simple).is_simple_consumer_group is True


def test_offset_delete_refused_while_subscribed(krab, metadata_mode, zk):
    b = krab(mode=metadata_mode, overrides=GROUP_BROKER)
    topic, other, group = unique_topic(), unique_topic("other"), unique_topic("g")
    produce(b.bootstrap, topic, 4)
    produce(b.bootstrap, other, 4)
    c = consumer(b.bootstrap, group, "member", **{"enable.auto.commit": False})
    c.subscribe([topic])
    pump({"c": c}, [], lambda: len(parts(c)) == 4, msg="assignment")
    c.commit(offsets=[TopicPartition(topic, 0, 2), TopicPartition(topic, 1, 2),
                      TopicPartition(other, 0, 1), TopicPartition(other, 1, 1)],
             asynchronous=False)
    ka = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    try:
        result = ka.delete_group_offsets(group, [KTopicPartition(topic, 0),
                                                 KTopicPartition(other, 0)])
        assert result[KTopicPartition(topic, 0)] is GroupSubscribedToTopicError
        assert result[KTopicPartition(other, 0)] is NoError, "no member consumes it"
        out = wrapper("kafka-consumer-groups.sh", "--bootstrap-server", b.bootstrap,
                      "--delete-offsets", "--group", group, "--topic", f"{topic}:1")
        assert out.returncode != 0 and "actively subscribed" in out.stderr, out
        c.close()
        result = ka.delete_group_offsets(group, [KTopicPartition(topic, 0)])
        assert result == {KTopicPartition(topic, 0): NoError}
    finally:
        ka.close()
    got = committed(b.bootstrap, group, topic)
    assert got[0][0] < 0 and got[1][0] == 2, got
    assert committed(b.bootstrap, group, other)[0][0] < 0
    if metadata_mode == "zookeeper":
        assert not zk.exists(f"/consumers/{group}/offsets/{topic}/0")
        assert zk.get(f"/consumers/{group}/offsets/{topic}/1")[0] == b"2"
    out = ok(wrapper("kafka-consumer-groups.sh", "--bootstrap-server", b.bootstrap,
                     "--delete-offsets", "--group", group, "--topic", f"{topic}:1"))
    assert out.startswith(f"Request succeed for deleting offsets with topic {topic} group {group}")
    assert "Successful" in out
    assert committed(b.bootstrap, group, topic)[1][0] < 0
    if metadata_mode == "zookeeper":
        assert not zk.exists(f"/consumers/{group}/offsets/{topic}/1")


def test_delete_offsets_tool_on_zookeeper(krab, zk, zookeeper):
    b = krab(mode="zookeeper", overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("g")
    produce(b.bootstrap, topic, 4)
    c = consumer(b.bootstrap, group, "committer")
    c.commit(offsets=[TopicPartition(topic, 0, 2, leader_epoch=0),
                      TopicPartition(topic, 1, 2)], asynchronous=False)
    c.close()
    out = ok(wrapper("kafka-consumer-groups.sh", "--zookeeper", zookeeper.hosts,
                     "--delete-offsets", "--group", group, "--topic", f"{topic}:0"))
    assert "Successful" in out
    assert not zk.exists(f"/consumers/{group}/offsets/{topic}/0")
    assert not zk.exists(f"/consumers/{group}/krab/offsets/{topic}/0")
    assert zk.get(f"/consumers/{group}/offsets/{topic}/1")[0] == b"2"
    missing = wrapper("kafka-consumer-groups.sh", "--bootstrap-server", b.bootstrap,
                      "--delete-offsets", "--group", unique_topic("nogroup"), "--topic", topic)
    assert missing.returncode != 0 and "does not exist" in missing.stderr, missing


def test_authorized_operations_without_an_authorizer(krab):
    b = krab(overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("g")
    produce(b.bootstrap, topic, 2)
    a = admin(b.bootstrap)
    t = a.describe_topics(TopicCollection([topic]),
                          include_authorized_operations=True)[topic].result(20)
    assert set(t.authorized_operations) == TOPIC_OPS
    plain = a.describe_topics(TopicCollection([topic]))[topic].result(20)
    assert not plain.authorized_operations
    cluster = a.describe_cluster(include_authorized_operations=True).result(20)
    assert set(cluster.authorized_operations) == CLUSTER_OPS
    assert [n.id for n in cluster.nodes] == [0] and cluster.controller.id == 0
    assert cluster.cluster_id
    c = consumer(b.bootstrap, group, "member")
    c.subscribe([topic])
    pump({"c": c}, [], lambda: len(parts(c)) == 4, msg="assignment")
    try:
        d = a.describe_consumer_groups([group], include_authorized_operations=True)[group].result(20)
        assert set(d.authorized_operations) == GROUP_OPS
    finally:
        c.close()


def test_kafka_python_describe_cluster(krab, metadata_mode):
    b = krab(mode=metadata_mode)
    ka = KafkaAdminClient(bootstrap_servers=b.bootstrap)
    try:
        cluster = ka.describe_cluster()
    finally:
        ka.close()
    assert cluster["controller_id"] == 0
    assert [br["broker_id"] for br in cluster["brokers"]] == [0]
    assert cluster["brokers"][0]["port"] == b.port
    a = admin(b.bootstrap)
    assert cluster["cluster_id"] == a.describe_cluster().result(20).cluster_id


def test_static_members_expire_exactly_at_the_session_timeout(krab):
    b = krab(overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("g")
    produce(b.bootstrap, topic, 6, partitions=4)
    session_ms = 2000
    members = {n: consumer(b.bootstrap, group, n, **{"group.instance.id": f"inst-{n}",
                                                     "session.timeout.ms": session_ms})
               for n in ("a", "b", "c")}
    for c in members.values():
        c.subscribe([topic])
    # Every member holds partitions: the group is Stable with all three (closing members
    # held in a rebalance would be kept alive by it, as in Kafka).
    pump(members, [], lambda: all(parts(c) for c in members.values())
         and sum(len(parts(c)) for c in members.values()) == 4, msg="all three members assigned")
    for c in members.values():
        c.close()  # static members do not leave: only their sessions can end them
    last_close = time.monotonic()
    a = admin(b.bootstrap)
    time.sleep(session_ms / 2000)
    early = a.delete_consumer_groups([group])[group]
    with pytest.raises(KafkaException) as refused:
        early.result(20)
    assert "NON_EMPTY_GROUP" in str(refused.value)
    time.sleep(max(0.0, last_close + session_ms / 1000 - time.monotonic()))
    a.delete_consumer_groups([group])[group].result(20)  # raises unless the group is empty


def test_refusals_answer_at_once_with_non_retriable_errors(krab):
    b = krab()
    host, port = b.bootstrap.split(":")
    conn = kwire.Conn(host, int(port))
    try:
        _, versions = kwire.api_versions_v0(conn)
        assert versions[47] == (0, 0) and versions[60] == (0, 1), "OffsetDelete, DescribeCluster"
        # FindCoordinator v1: a transactional id (key type 1) has a coordinator (this broker);
        # an unknown key type gets INVALID_REQUEST at once.
        for key_type, code in ((1, 0), (2, 42)):
            start = time.monotonic()
            r = conn.call(10, 1, kwire.string("my-txn") + kwire.i8(key_type))
            r.i32()  # throttle
            assert r.i16() == code, f"key type {key_type}"
            assert time.monotonic() - start < 1
        # InitProducerId with a transactional id but a timeout above transaction.max.timeout.ms:
        # INVALID_TRANSACTION_TIMEOUT (50), not a retriable error.
        r = conn.call(22, 0, kwire.string("my-txn") + kwire.i32(2_000_000_000))
        r.i32()
        assert r.i16() == 50
        # A control batch (attributes bits 4 and 5) from a client: INVALID_RECORD.
        err, pid, epoch = kwire.init_producer_id_v0(conn)
        assert err == 0
        produce(b.bootstrap, "refusals", 1, partitions=1)
        batch = kwire.record_batch([b"tx"], producer_id=pid, producer_epoch=epoch,
                                   base_sequence=0, attributes=0x30)
        assert kwire.produce_v3(conn, "refusals", 0, batch)[0] == 87
        # ListOffsets for the max timestamp (-3, a v7 feature): UNSUPPORTED_VERSION.
        body = kwire.i32(-1) + kwire.i8(0) + kwire.array(
            [kwire.string("refusals") + kwire.array([kwire.i32(0) + kwire.i32(-1) + kwire.i64(-3)])])
        r = conn.call(2, 4, body)
        r.i32()
        r.i32()
        r.string()
        r.i32()
        r.i32()
        assert r.i16() == 35
    finally:
        conn.close()
    # APIs krab does not offer (not in ApiVersions): the connection is closed at once, as
    # Kafka closes it for a disabled API; no client is left waiting for an answer.
    for api_key in sorted(set(range(0, 75)) - set(versions)):
        c = kwire.Conn(host, int(port))
        try:
            data, _ = c.request_bytes(api_key, 0, b"\x00" * 16)
            c.send_raw(data)
            start = time.monotonic()
            assert c.closed_by_peer(timeout=2.0), f"api {api_key}: no answer and no close"
            assert c.leftover == b"", f"api {api_key}: unexpected bytes"
            assert time.monotonic() - start < 1, f"api {api_key}: slow refusal"
        finally:
            c.close()
    # librdkafka's init_transactions() succeeds against the transaction coordinator.
    p = Producer({"bootstrap.servers": b.bootstrap, "transactional.id": "my-txn"})
    p.init_transactions(30)
    # And the broker is still serving.
    a = admin(b.bootstrap)
    assert "refusals" in a.list_topics(timeout=10).topics
