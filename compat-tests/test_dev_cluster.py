"""`krab dev --brokers 3` (issue 13): a replicated cluster in one process, on a shared
embedded store or on ZooKeeper, and the replication faults a failover test needs —
`krab fault move-leader` and `--isolate` — with nothing acknowledged lost."""
import json

from confluent_kafka import Producer

from devbroker import control_request, dev_broker  # noqa: F401
from krabtest import confluent_consume_all, run_krab_cli, unique_topic, wait_until


def describe(b, topic):
    """{partition: (leader, replicas, isr)} from `krab topics --describe`."""
    out = run_krab_cli("topics", "--bootstrap-server", b.bootstrap, "--describe", "--topic", topic)
    assert out.returncode == 0, out.stderr
    parts = {}
    for line in out.stdout.splitlines():
        fields = dict(zip(line.split()[::2], line.split()[1::2]))
        if "Partition:" in fields:
            ids = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
            parts[int(fields["Partition:"])] = (int(fields["Leader:"]), ids(fields["Replicas:"]),
                                                ids(fields["Isr:"]))
    return parts


def control_of(b, broker_id):
    return next(x["control"] for x in b.ready["brokers"] if x["id"] == broker_id)


def produce(b, topic, values):
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "enable.idempotence": True,
                  "retry.backoff.ms": 50})
    failed = []
    for v in values:
        p.produce(topic, value=v, partition=0, on_delivery=lambda err, msg: err and failed.append(err))
        p.poll(0)
    assert p.flush(60) == 0
    assert failed == []


def test_three_brokers_replicate_and_survive_a_leadership_move(dev_broker):
    b = dev_broker(extra_args=["--brokers", "3"], control=True)
    assert [x["id"] for x in b.ready["brokers"]] == [0, 1, 2]
    assert len(set(b.bootstrap.split(","))) == 3
    topic = unique_topic("devc")
    out = run_krab_cli("topics", "--bootstrap-server", b.bootstrap, "--create", "--topic", topic, "--partitions", "1")
    assert out.returncode == 0, out.stderr
    leader, replicas, _ = wait_until(lambda: (lambda p: p if len(p[2]) == 3 else None)(describe(b, topic)[0]),
                                     timeout=15, msg="a fully replicated partition")
    assert sorted(replicas) == [0, 1, 2], "default.replication.factor is the cluster size"
    produce(b, topic, [b"a%03d" % i for i in range(100)])
    target = next(r for r in replicas if r != leader)
    out = run_krab_cli("fault", "--control", control_of(b, target), "move-leader", "--topic", topic,
                       "--partition", "0", "--to", str(target))
    assert out.returncode == 0, out.stderr
    wait_until(lambda: describe(b, topic)[0][0] == target, timeout=10, msg="the new leader")
    produce(b, topic, [b"b%03d" % i for i in range(100)])
    got = [m.value() for m in confluent_consume_all(b.bootstrap, topic, 200)]
    assert got == [b"a%03d" % i for i in range(100)] + [b"b%03d" % i for i in range(100)]
    # A move to a non-replica is refused with a reason, and changes nothing.
    bad = run_krab_cli("fault", "--control", control_of(b, 0), "move-leader", "--topic", topic,
                       "--partition", "0", "--to", "7")
    assert bad.returncode != 0 and "not a live in-sync replica" in bad.stderr
    assert describe(b, topic)[0][0] == target


def test_isolated_leader_shrinks_the_isr_and_loses_nothing(dev_broker):
    b = dev_broker(extra_args=["--brokers", "3"], control=True,
                   overrides={"replica.lag.time.max.ms": "1500"})
    topic = unique_topic("devi")
    out = run_krab_cli("topics", "--bootstrap-server", b.bootstrap, "--create", "--topic", topic,
                       "--partitions", "1", "--replication-factor", "3")
    assert out.returncode == 0, out.stderr
    leader, replicas, _ = wait_until(lambda: (lambda p: p if len(p[2]) == 3 else None)(describe(b, topic)[0]),
                                     timeout=15, msg="a fully replicated partition")
    produce(b, topic, [b"before-%03d" % i for i in range(50)])
    reply = control_request(control_of(b, leader), {"op": "add", "fault": {"action": "isolate"}})
    assert reply["ok"], reply
    wait_until(lambda: describe(b, topic)[0][2] == [leader], timeout=15, msg="the ISR to shrink to the leader")
    produce(b, topic, [b"during-%03d" % i for i in range(50)])  # acks=all with ISR {leader}
    out = run_krab_cli("fault", "--control", control_of(b, leader), "remove", str(reply["id"]))
    assert out.returncode == 0, out.stderr
    wait_until(lambda: len(describe(b, topic)[0][2]) == 3, timeout=20, msg="the followers to catch up")
    # Leadership to a former follower: everything acknowledged is there.
    target = next(r for r in replicas if r != leader)
    out = run_krab_cli("fault", "--control", control_of(b, target), "move-leader", "--topic", topic,
                       "--partition", "0", "--to", str(target))
    assert out.returncode == 0, out.stderr
    wait_until(lambda: describe(b, topic)[0][0] == target, timeout=10, msg="the new leader")
    got = [m.value() for m in confluent_consume_all(b.bootstrap, topic, 100)]
    assert got == [b"before-%03d" % i for i in range(50)] + [b"during-%03d" % i for i in range(50)]


def test_cluster_on_zookeeper_registers_and_leaves(dev_broker, zookeeper, zk):
    b = dev_broker(extra_args=["--brokers", "3", "--zookeeper", zookeeper.hosts])
    assert sorted(zk.get_children("/brokers/ids")) == ["0", "1", "2"]
    registration = json.loads(zk.get("/brokers/ids/1")[0])
    assert f'{registration["host"]}:{registration["port"]}' == b.ready["brokers"][1]["bootstrap"]
    topic = unique_topic("devz")
    produce(b, topic, [b"z%02d" % i for i in range(20)])
    assert [m.value() for m in confluent_consume_all(b.bootstrap, topic, 20)] == [b"z%02d" % i for i in range(20)]
    assert b.stop() == 0
    assert zk.get_children("/brokers/ids") == [], "every broker unregistered on exit"
    assert not b.data_dir.exists()


def test_emulated_old_release_cluster_still_replicates(dev_broker):
    # Clients see Kafka 2.0's versions; krab's own replica fetchers keep theirs.
    b = dev_broker(extra_args=["--brokers", "3", "--emulate-kafka-version", "2.0"])
    topic = unique_topic("deve")
    produce(b, topic, [b"e%02d" % i for i in range(20)])  # auto-created, replication factor 3
    wait_until(lambda: len(describe_via_metadata(b, topic)) == 3, timeout=15, msg="a full ISR")
    assert [m.value() for m in confluent_consume_all(b.bootstrap, topic, 20)] == [b"e%02d" % i for i in range(20)]


def describe_via_metadata(b, topic):
    """The ISR of partition 0 from a Metadata request (CreateTopics v4, which `krab topics`
    sends, is newer than Kafka 2.0)."""
    from confluent_kafka.admin import AdminClient
    md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(topic, timeout=10)
    return md.topics[topic].partitions[0].isrs
