"""Consumer groups against krab in ZooKeeper mode, with a real ZooKeeper: offsets in
/consumers/<group>/offsets/<topic>/<partition> as plain decimals, an offset set with kazoo
being where the next consumer starts, pykafka's ZooKeeper-balanced consumers beside the
broker's groups, `krab consumer-groups` in both modes, commit coalescing, and bad input."""
import re
import subprocess
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

import kwire
from krabtest import KRAB_BIN, Krab, ZooKeeperServer, unique_topic, wait_until

GROUP_BROKER = {"group.min.session.timeout.ms": 1000, "group.initial.rebalance.delay.ms": 0}


@pytest.fixture(autouse=True)
def fresh_pykafka_version_cache():
    from pykafka.utils import VERSIONS_CACHE
    VERSIONS_CACHE.clear()
    yield
    VERSIONS_CACHE.clear()


def produce(bootstrap, topic, n, partitions=1, prefix=b"m"):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(n):
        p.produce(topic, b"%s-%04d" % (prefix, i), partition=i % partitions)
    assert p.flush(30) == 0


def create_topic(broker, topic, partitions):
    out = run_cli("topics", "--bootstrap-server", broker.bootstrap, "--create", "--topic", topic,
                  "--partitions", partitions, "--replication-factor", 1)
    assert out.returncode == 0, out.stderr


def run_cli(*args):
    return subprocess.run([str(KRAB_BIN), *map(str, args)], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def group_consumer(bootstrap, group, **extra):
    conf = {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
            "session.timeout.ms": 3000, "heartbeat.interval.ms": 200,
            "enable.auto.commit": False, "enable.partition.eof": False}
    conf.update(extra)
    return Consumer(conf)


def consume(c, n, timeout=30):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            out.append(m)
    return out


def test_commits_land_in_znodes_and_a_kazoo_edit_is_where_the_group_resumes(krab, zk):
    broker = krab(mode="zookeeper", overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("g")
    produce(broker.bootstrap, topic, 100)
    c = group_consumer(broker.bootstrap, group)
    c.subscribe([topic])
    got = consume(c, 30)
    assert len(got) == 30
    c.commit(message=got[-1], asynchronous=False)
    path = f"/consumers/{group}/offsets/{topic}/0"
    data, _ = zk.get(path)
    assert data == b"30", "a plain decimal: the next offset to read"
    c.close()

    zk.set(path, b"77")  # as a person would with zkCli: set /consumers/.../0 77
    c = group_consumer(broker.bootstrap, group)
    c.subscribe([topic])
    first = consume(c, 1)[0]
    assert first.offset() == 77, "the group resumes from the offset written into the znode"
    assert c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset == 77
    c.close()


def test_commit_metadata_round_trips(krab):
    from kafka import KafkaConsumer, TopicPartition as KTP
    from kafka.structs import OffsetAndMetadata
    broker = krab(mode="zookeeper", overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("g")
    produce(broker.bootstrap, topic, 5)
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group, enable_auto_commit=False)
    tp = KTP(topic, 0)
    c.assign([tp])
    c.commit({tp: OffsetAndMetadata(3, "checkpoint-a", -1)})
    committed = c._coordinator.fetch_committed_offsets([tp])[tp]
    assert (committed.offset, committed.metadata) == (3, "checkpoint-a")
    c.close()


def pykafka_balanced(bootstrap, zk_hosts, topic, group):
    from pykafka import KafkaClient
    client = KafkaClient(hosts=bootstrap)
    return client.topics[topic.encode()].get_balanced_consumer(
        consumer_group=group.encode(), zookeeper_connect=zk_hosts, auto_commit_enable=True,
        auto_commit_interval_ms=100, consumer_timeout_ms=200, num_consumer_fetchers=1)


def owned(consumer):
    # BalancedConsumer.partitions: the held partitions keyed by id (empty while rebalancing).
    return sorted(p if isinstance(p, int) else p.id for p in (consumer.partitions or ()))


def test_pykafka_balanced_consumers_split_partitions_through_zookeeper(krab, zk, zookeeper):
    broker = krab(mode="zookeeper", overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("zg")
    create_topic(broker, topic, 4)
    produce(broker.bootstrap, topic, 80, partitions=4)
    a = pykafka_balanced(broker.bootstrap, zookeeper.hosts, topic, group)
    b = pykafka_balanced(broker.bootstrap, zookeeper.hosts, topic, group)
    try:
        wait_until(lambda: len(owned(a)) == 2 and len(owned(b)) == 2, timeout=60,
                   msg="pykafka's ZooKeeper rebalance to split 2+2")
        assert sorted(owned(a) + owned(b)) == [0, 1, 2, 3]
        ids = zk.get_children(f"/consumers/{group}/ids")
        assert len(ids) == 2
        # pykafka on Python 3 names the directory b'<topic>' (it formats bytes into the path).
        owner_dirs = zk.get_children(f"/consumers/{group}/owners")
        owners = [n for d in owner_dirs for n in zk.get_children(f"/consumers/{group}/owners/{d}")]
        assert len(owners) == 4, (owner_dirs, owners)

        values = set()
        deadline = time.monotonic() + 30
        while len(values) < 80 and time.monotonic() < deadline:
            for c in (a, b):
                m = c.consume(block=False)
                if m is not None:
                    values.add(m.value)
        assert len(values) == 80
        wait_until(lambda: sum(int(zk.get(f"/consumers/{group}/offsets/{topic}/{p}")[0])
                               for p in range(4)) == 80 if zk.exists(f"/consumers/{group}/offsets/{topic}/3") else False,
                   timeout=30, msg="committed offsets in the znodes")

        # The broker reports the ZooKeeper-coordinated group, members from ids, owners from owners.
        listed = run_cli("consumer-groups", "--bootstrap-server", broker.bootstrap, "--list")
        assert group in listed.stdout.split()
        for mode in (["--bootstrap-server", broker.bootstrap], ["--zookeeper", zookeeper.hosts]):
            out = run_cli("consumer-groups", *mode, "--describe", "--group", group)
            assert out.returncode == 0, out.stderr
            rows = [line.split() for line in out.stdout.splitlines()[1:] if line.strip()]
            assert len(rows) == 4, out.stdout
            assert {r[5] for r in rows} == set(ids), "each partition's CONSUMER-ID is its owner"
            assert all(r[4] == "0" for r in rows), out.stdout
        # A group with live ZooKeeper members cannot be deleted, and its znodes are untouched.
        out = run_cli("consumer-groups", "--bootstrap-server", broker.bootstrap, "--delete",
                      "--group", group)
        assert out.returncode != 0 and "NON_EMPTY_GROUP" in out.stderr
        assert sorted(zk.get_children(f"/consumers/{group}/ids")) == sorted(ids)
    finally:
        a.stop()
        b.stop()


def test_consumer_groups_tool_lag_reset_and_delete(krab, zookeeper):
    broker = krab(mode="zookeeper", overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("g")
    produce(broker.bootstrap, topic, 100)
    c = group_consumer(broker.bootstrap, group, **{"client.id": "lag-client"})
    c.subscribe([topic])
    got = consume(c, 60)
    c.commit(message=got[-1], asynchronous=False)

    out = run_cli("consumer-groups", "--bootstrap-server", broker.bootstrap, "--describe",
                  "--group", group)
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.strip().splitlines()[-2:]
    assert header.split() == ["TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                              "CONSUMER-ID", "HOST", "CLIENT-ID"]
    cols = row.split()
    assert cols[:5] == [topic, "0", "60", "100", "40"], out.stdout
    assert cols[5] == c.memberid() and cols[6] == "/127.0.0.1" and cols[7] == "lag-client"

    out = run_cli("consumer-groups", "--zookeeper", zookeeper.hosts, "--reset-offsets",
                  "--group", group, "--topic", topic, "--to-earliest", "--execute")
    assert out.returncode != 0 and "inactive" in out.stderr, "refused while the group is active"
    c.close()
    out = run_cli("consumer-groups", "--bootstrap-server", broker.bootstrap, "--describe",
                  "--group", group)
    assert "has no active members" in out.stdout

    out = run_cli("consumer-groups", "--zookeeper", zookeeper.hosts, "--reset-offsets",
                  "--group", group, "--topic", topic, "--to-offset", "10", "--execute")
    assert out.returncode == 0, out.stderr
    out = run_cli("consumer-groups", "--zookeeper", zookeeper.hosts, "--describe", "--group", group)
    assert re.search(rf"{re.escape(topic)}\s+0\s+10\s+100\s+90\b", out.stdout), out.stdout
    c = group_consumer(broker.bootstrap, group)
    c.subscribe([topic])
    assert consume(c, 1)[0].offset() == 10
    c.close()

    out = run_cli("consumer-groups", "--bootstrap-server", broker.bootstrap, "--reset-offsets",
                  "--group", group, "--topic", topic, "--to-latest", "--execute")
    assert out.returncode == 0, out.stderr
    out = run_cli("consumer-groups", "--bootstrap-server", broker.bootstrap, "--delete",
                  "--group", group)
    assert out.returncode == 0 and "successful" in out.stdout, out.stderr
    out = run_cli("consumer-groups", "--zookeeper", zookeeper.hosts, "--list")
    assert group not in out.stdout.split()


def test_seed_style_commits_are_coalesced(krab, zk):
    """The seed's consumer commits every millisecond (auto_commit_interval_ms=1).  Re-commits
    of an unchanged position must not each become a ZooKeeper write."""
    from pykafka import KafkaClient
    broker = krab(mode="zookeeper", overrides=GROUP_BROKER)
    topic = unique_topic()
    produce(broker.bootstrap, topic, 10)
    client = KafkaClient(hosts=broker.bootstrap)
    consumer = client.topics[topic.encode()].get_simple_consumer(
        consumer_group=b"test1", auto_commit_enable=True, auto_commit_interval_ms=1,
        consumer_id=b"test1")
    got = [consumer.consume() for _ in range(10)]
    assert [m.offset for m in got] == list(range(10))
    calls = 0
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        consumer.consume(block=False)  # idle: each call commits the same position again
        calls += 1
    consumer.stop()
    data, stat = zk.get(f"/consumers/test1/offsets/{topic}/0")
    assert data == b"10"
    assert calls > 50, "the loop should have committed many times"
    assert stat.version < 10, f"{calls} commits became {stat.version + 1} ZooKeeper writes"


def test_bad_group_input(krab, zk):
    broker = krab(mode="zookeeper", overrides=GROUP_BROKER)
    topic = unique_topic()
    produce(broker.bootstrap, topic, 3)
    conn = kwire.Conn("127.0.0.1", broker.port)

    def commit_v2(group, partition):
        body = (kwire.string(group) + kwire.i32(-1) + kwire.string("") + kwire.i64(-1)
                + kwire.array([kwire.string(topic) + kwire.array(
                    [kwire.i32(partition) + kwire.i64(1) + kwire.string("")])]))
        r = conn.call(8, 2, body)
        assert r.i32() == 1
        r.string()
        assert r.i32() == 1
        r.i32()
        return r.i16()

    assert commit_v2("g-bad", 7) == 3, "UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist"
    assert not zk.exists(f"/consumers/g-bad/offsets/{topic}/7"), "nothing stored"
    assert commit_v2("", 0) == 24, "INVALID_GROUP_ID for an empty group id"
    assert commit_v2("a/b", 0) == 24, "INVALID_GROUP_ID for an id that is not a znode name"
    assert commit_v2("g-good", 0) == 0

    # JoinGroup v0 with no protocols: INCONSISTENT_GROUP_PROTOCOL.
    body = (kwire.string("g-join") + kwire.i32(6000) + kwire.string("") + kwire.string("consumer")
            + kwire.array([]))
    r = conn.call(11, 0, body)
    assert r.i16() == 23
    # A session timeout below group.min.session.timeout.ms: INVALID_SESSION_TIMEOUT.
    body = (kwire.string("g-join") + kwire.i32(10) + kwire.string("") + kwire.string("consumer")
            + kwire.array([kwire.string("range") + kwire.nbytes(b"")]))
    r = conn.call(11, 0, body)
    assert r.i16() == 26
    conn.close()


def test_commit_while_zookeeper_is_down_is_retriable_not_dropped(tmp_path):
    server = ZooKeeperServer(tmp_path / "zk").start()
    k = Krab(name="zk-down", workdir=tmp_path / "krab", mode="zookeeper", overrides=GROUP_BROKER,
             broker_id=None, zk_connect=server.hosts, config_file=None, extra_args=None)
    try:
        k.start()
        topic = unique_topic()
        produce(k.bootstrap, topic, 3)
        conn = kwire.Conn("127.0.0.1", k.port, timeout=30)
        body = (kwire.string("g-down") + kwire.i32(-1) + kwire.string("") + kwire.i64(-1)
                + kwire.array([kwire.string(topic) + kwire.array(
                    [kwire.i32(0) + kwire.i64(2) + kwire.string("")])]))
        r = conn.call(8, 2, body)
        r.i32(), r.string(), r.i32(), r.i32()
        assert r.i16() == 0
        server.stop()
        r = conn.call(8, 2, body.replace(kwire.i64(2), kwire.i64(3)))
        r.i32(), r.string(), r.i32(), r.i32()
        assert r.i16() == 15, "COORDINATOR_NOT_AVAILABLE: retriable, and nothing acknowledged"
        conn.close()
    finally:
        if k.running():
            k.proc.kill()
            k.proc.wait()
        k.close_files()
        server.stop()
