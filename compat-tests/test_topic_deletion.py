"""Topic deletion as the user's notes describe it: ``kafka-topics.sh --delete`` writes
/admin/delete_topics/<t>; with delete.topic.enable=false the topic stays, listed as
"marked for deletion", data kept; with true the controller removes the znodes and every
broker's partition directories and the name can be used again; removing
/brokers/topics/<t> by hand in zkCli (the notes' ``rmr``, ``deleteall`` in ZooKeeper 3.8)
makes the brokers drop the topic too."""
import subprocess
from pathlib import Path

import pytest

from admintools import failed, ok, topics, wrapper
from krabtest import confluent_watermarks, unique_topic, wait_until

ZKCLI = Path("/usr/share/zookeeper/bin/zkCli.sh")


def produce(bootstrap, topic, lines):
    ok(wrapper("kafka-console-producer.sh", "--broker-list", bootstrap, "--topic", topic,
               input="".join(f"{l}\n" for l in lines)))


def consume_all(bootstrap, topic, n):
    return ok(wrapper("kafka-console-consumer.sh", "--bootstrap-server", bootstrap, "--topic",
                      topic, "--from-beginning", "--max-messages", n)).split()


def wait_for_sync(zk, controller_id):
    """Evidence that the brokers' metadata sync has run once more: a topic written with
    kazoo gets its state znode from the controller."""
    probe = unique_topic("probe")
    zk.create(f"/brokers/topics/{probe}",
              b'{"version":1,"partitions":{"0":[%d]}}' % controller_id, makepath=True)
    wait_until(lambda: zk.exists(f"/brokers/topics/{probe}/partitions/0/state"),
               msg="a metadata sync cycle")


def test_delete_disabled_marks_and_keeps(krab, zk, zookeeper):
    b = krab(mode="zookeeper", broker_id=0, overrides={"delete.topic.enable": "false"})
    t = unique_topic("keep")
    ok(topics("--zookeeper", zookeeper.hosts, "--create", "--topic", t, "--partitions", "2",
              "--replication-factor", "1"))
    produce(b.bootstrap, t, ["a", "b", "c"])

    out = ok(topics("--delete", "--zookeeper", zookeeper.hosts, "--topic", t))
    assert f"Topic {t} is marked for deletion." in out
    assert "delete.topic.enable" in out
    assert zk.exists(f"/admin/delete_topics/{t}")
    wait_for_sync(zk, 0)

    listed = ok(topics("--zookeeper", zookeeper.hosts, "--list")).splitlines()
    assert f"{t} - marked for deletion" in listed
    assert zk.exists(f"/brokers/topics/{t}") and zk.exists(f"/config/topics/{t}")
    assert (b.log_dir / f"{t}-0").is_dir() and (b.log_dir / f"{t}-1").is_dir()
    assert sorted(consume_all(b.bootstrap, t, 3)) == ["a", "b", "c"]
    # marking twice is reported, not an error
    assert "already marked for deletion" in ok(
        topics("--delete", "--zookeeper", zookeeper.hosts, "--topic", t))
    # through the API, deletion is refused with Kafka's error
    failed(topics("--bootstrap-server", b.bootstrap, "--delete", "--topic", t),
           "TOPIC_DELETION_DISABLED")
    # the notes: deleting the marker by hand clears "marked for deletion"
    zk.delete(f"/admin/delete_topics/{t}")
    assert t in ok(topics("--zookeeper", zookeeper.hosts, "--list")).splitlines()


def test_delete_enabled_removes_everything_and_name_is_reusable(krab, zk, zookeeper):
    b1 = krab(mode="zookeeper", broker_id=1)
    b2 = krab(mode="zookeeper", broker_id=2)
    wait_until(lambda: len(zk.get_children("/brokers/ids")) == 2, msg="two brokers")
    t = unique_topic("gone")
    ok(topics("--zookeeper", zookeeper.hosts, "--create", "--topic", t, "--partitions", "4",
              "--replication-factor", "2", "--config", "retention.ms=3600000"))
    wait_until(lambda: all((b.log_dir / f"{t}-{p}").is_dir() for b in (b1, b2) for p in range(4)),
               msg="both brokers opened their replicas")
    produce(b1.bootstrap, t, [f"old{i}" for i in range(8)])

    ok(topics("--zookeeper", zookeeper.hosts, "--delete", "--topic", t))
    for path in (f"/brokers/topics/{t}", f"/config/topics/{t}", f"/admin/delete_topics/{t}"):
        wait_until(lambda: not zk.exists(path), msg=f"{path} removed")
    wait_until(lambda: not any((b.log_dir / f"{t}-{p}").exists() for b in (b1, b2) for p in range(4)),
               msg="partition directories removed on every broker")
    assert t not in ok(topics("--zookeeper", zookeeper.hosts, "--list")).split()

    # the name can be created again at once, and starts empty
    ok(topics("--bootstrap-server", b1.bootstrap, "--create", "--topic", t, "--partitions", "1",
              "--replication-factor", "1"))
    assert f"PartitionCount: 1\t" in ok(topics("--bootstrap-server", b1.bootstrap, "--describe",
                                               "--topic", t))
    produce(b1.bootstrap, t, ["new"])
    assert consume_all(b1.bootstrap, t, 1) == ["new"]


def test_zkcli_removal_drops_the_topic(krab, zk, zookeeper):
    if not ZKCLI.exists():
        pytest.fail(f"{ZKCLI} missing (Debian zookeeper package)")
    b = krab(mode="zookeeper", broker_id=0, overrides={"delete.topic.enable": "false"})
    t = unique_topic("rmr")
    ok(topics("--zookeeper", zookeeper.hosts, "--create", "--topic", t, "--partitions", "2",
              "--replication-factor", "1"))
    produce(b.bootstrap, t, ["x"])
    assert (b.log_dir / f"{t}-0").is_dir()
    p = subprocess.run([str(ZKCLI), "-server", zookeeper.hosts, "deleteall", f"/brokers/topics/{t}"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr[-2000:]
    assert not zk.exists(f"/brokers/topics/{t}")
    wait_until(lambda: not (b.log_dir / f"{t}-0").exists() and not (b.log_dir / f"{t}-1").exists(),
               msg="the broker dropped the topic's directories")
    failed(topics("--bootstrap-server", b.bootstrap, "--describe", "--topic", t), "does not exist")


def test_recreated_behind_a_brokers_back_starts_empty(krab, zk, zookeeper):
    """Deleted and created again in ZooKeeper faster than a broker's sync round: the broker
    notices the new znode (its creation id) and serves the new, empty topic."""
    b = krab(mode="zookeeper", broker_id=0)
    t = unique_topic("again")
    ok(topics("--zookeeper", zookeeper.hosts, "--create", "--topic", t, "--partitions", "1",
              "--replication-factor", "1"))
    produce(b.bootstrap, t, ["old1", "old2", "old3"])
    assert consume_all(b.bootstrap, t, 3) == ["old1", "old2", "old3"]
    tx = zk.transaction()
    tx.delete(f"/brokers/topics/{t}/partitions/0/state")
    tx.delete(f"/brokers/topics/{t}/partitions/0")
    tx.delete(f"/brokers/topics/{t}/partitions")
    tx.delete(f"/brokers/topics/{t}")
    tx.create(f"/brokers/topics/{t}", b'{"version":1,"partitions":{"0":[0]}}')
    assert all(r is True or isinstance(r, str) for r in tx.commit())
    wait_until(lambda: zk.exists(f"/brokers/topics/{t}/partitions/0/state"),
               msg="the new topic's state znode")
    wait_until(lambda: confluent_watermarks(b.bootstrap, t) == (0, 0), msg="the new topic is empty")
    produce(b.bootstrap, t, ["new"])
    assert consume_all(b.bootstrap, t, 1) == ["new"]


def test_delete_then_create_200ms_apart_through_zookeeper(krab, zk, zookeeper):
    """Brokers follow ZooKeeper by watches (issue 14): after `kafka-topics.sh --delete`, within
    200 ms every broker's Metadata has dropped the topic and a create of the same name works."""
    import time
    from clustertest import Cluster
    from kwire import Conn, metadata_v1
    c = Cluster(krab, zk, 2)
    name = unique_topic("again")
    create = ("--zookeeper", zookeeper.hosts, "--create", "--topic", name, "--partitions", "2",
              "--replication-factor", "2")
    ok(topics(*create))
    c.wait_metadata(name, 2)
    ok(topics("--zookeeper", zookeeper.hosts, "--delete", "--topic", name))
    time.sleep(0.2)
    for b in c.brokers:
        host, port = b.bootstrap.rsplit(":", 1)
        conn = Conn(host, int(port))
        try:
            listed = metadata_v1(conn, None)  # all topics: a named request would auto-create
        finally:
            conn.close()
        assert name not in listed, f"broker {b.name} still lists {name} 200 ms after the delete"
    ok(topics(*create))
    c.wait_metadata(name, 2)


def test_partitions_added_through_zookeeper_reach_every_broker_by_watch(krab, zk, zookeeper):
    """`kafka-topics.sh --zookeeper --alter --partitions` rewrites /brokers/topics/<t>; every
    broker's data watch on that znode brings the new partitions (the periodic re-read is set to
    a minute here, so only the watch can) and they take writes."""
    from clustertest import Cluster
    from kwire import Conn, metadata_v1
    c = Cluster(krab, zk, 2, overrides={"metadata.sync.interval.ms": 60_000})
    name = unique_topic("grow")
    ok(topics("--zookeeper", zookeeper.hosts, "--create", "--topic", name, "--partitions", "1",
              "--replication-factor", "2"))
    c.wait_metadata(name, 1)
    ok(topics("--zookeeper", zookeeper.hosts, "--alter", "--topic", name, "--partitions", "3"))

    def partitions_everywhere():
        counts = []
        for b in c.brokers:
            host, port = b.bootstrap.rsplit(":", 1)
            conn = Conn(host, int(port))
            try:
                counts.append(metadata_v1(conn, None).get(name, (0, 0))[1])
            finally:
                conn.close()
        return counts
    wait_until(lambda: partitions_everywhere() == [3, 3], timeout=10,
               msg="both brokers list 3 partitions")
    produce(c.bootstrap, name, ["p%d" % i for i in range(30)])
    assert sorted(consume_all(c.bootstrap, name, 30)) == sorted("p%d" % i for i in range(30))
