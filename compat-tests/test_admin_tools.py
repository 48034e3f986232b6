"""The user's Kafka 0.9 admin workflow through the scripts/kafka-*.sh wrappers, with the
document's commands verbatim but for the paths and hosts: create with single-dash options,
list (the document's ``–list`` with an en dash included), produce from stdin, consume via
--zookeeper (the old consumer, its znodes under /consumers) and via --bootstrap-server."""
import re
import subprocess

from admintools import Background, failed, ok, topics, wrapper
from krabtest import LISTENING_RE, KRAB_BIN, REPO, json_znode, unique_topic, wait_until


def two_brokers(krab):
    """The document's cluster, two brokers on one ZooKeeper (replication-factor 2)."""
    return krab(mode="zookeeper", broker_id=1), krab(mode="zookeeper", broker_id=2)


def test_document_workflow_verbatim(krab, zk, zookeeper):
    b1, b2 = two_brokers(krab)
    zkhosts = zookeeper.hosts
    wait_until(lambda: len(zk.get_children("/brokers/ids")) == 2, msg="both brokers registered")

    out = ok(topics("-zookeeper", zkhosts, "-topic", "test", "-replication-factor", "2",
                    "-partitions", "5", "--create"))
    assert "Created topic test" in out
    assignment, _ = json_znode(zk, "/brokers/topics/test")
    assert sorted(assignment["partitions"]) == [str(p) for p in range(5)]
    assert all(len(set(r)) == 2 and set(r) <= {1, 2} for r in assignment["partitions"].values())
    leaders = [r[0] for r in assignment["partitions"].values()]
    assert leaders.count(1) in (2, 3), leaders  # round-robin spreads the leaders

    assert ok(topics("-zookeeper", zkhosts, "\u2013list")).split() == ["test"]
    wait_until(lambda: all(zk.exists(f"/brokers/topics/test/partitions/{p}/state") for p in range(5)),
               msg="the controller created the state znodes")

    lines = [f"message {i}" for i in range(20)]
    ok(wrapper("kafka-console-producer.sh", "--broker-list", f"{b1.bootstrap},{b2.bootstrap}",
               "--topic", "test", input="\n".join(lines) + "\n"))

    # The old consumer, from the beginning: every message, and its znodes while it runs.
    old = Background("kafka-console-consumer.sh", "--zookeeper", zkhosts, "--topic", "test",
                     "--from-beginning")
    assert sorted(old.read(20)) == sorted(lines)
    (group,) = zk.get_children("/consumers")
    assert re.fullmatch(r"console-consumer-\d+", group), group
    (cid,) = zk.get_children(f"/consumers/{group}/ids")
    sub, _ = json_znode(zk, f"/consumers/{group}/ids/{cid}")
    assert sub["subscription"] == {"test": 1} and sub["pattern"] == "static"
    assert zk.exists(f"/consumers/{group}/ids/{cid}").ephemeralOwner != 0
    owners = zk.get_children(f"/consumers/{group}/owners/test")
    assert sorted(owners) == [str(p) for p in range(5)]
    wait_until(lambda: sum(int(zk.get(f"/consumers/{group}/offsets/test/{p}")[0])
                           for p in range(5) if zk.exists(f"/consumers/{group}/offsets/test/{p}")) == 20,
               msg="offsets committed to /consumers")
    assert old.stop() == 0
    assert not zk.exists(f"/consumers/{group}"), "a generated group is removed on exit"

    # The new consumer, from the beginning.
    new = Background("kafka-console-consumer.sh", "--bootstrap-server", b1.bootstrap,
                     "--topic", "test", "--from-beginning")
    assert sorted(new.read(20)) == sorted(lines)
    assert new.stop() == 0

    # Without --from-beginning: only what is produced after the consumer started.
    tail = Background("kafka-console-consumer.sh", "--zookeeper", zkhosts, "--topic", "test")
    # It commits its starting positions (the end of each partition) once it has them.
    def tail_positions():
        for g in zk.get_children("/consumers"):
            base = f"/consumers/{g}/offsets/test"
            if zk.exists(base) and len(zk.get_children(base)) == 5:
                return sum(int(zk.get(f"{base}/{p}")[0]) for p in range(5))
    assert wait_until(tail_positions, msg="the tailing consumer's start positions") == 20
    ok(wrapper("kafka-console-producer.sh", "--broker-list", b2.bootstrap, "--topic", "test",
               input="after 1\nafter 2\n"))
    assert sorted(tail.read(2)) == ["after 1", "after 2"]
    assert tail.stop() == 0
    assert not any(l.startswith("message") for l in tail.seen)


def test_describe_output_shape(krab, zk, zookeeper):
    b = krab(mode="zookeeper", broker_id=3)
    t = unique_topic("desc")
    ok(topics("--zookeeper", zookeeper.hosts, "--create", "--topic", t, "--partitions", "3",
              "--replication-factor", "1", "--config", "retention.ms=86400000",
              "--config", "segment.bytes=1048576"))
    wait_until(lambda: zk.exists(f"/brokers/topics/{t}/partitions/2/state"), msg="state znodes")
    for mode in (["--zookeeper", zookeeper.hosts], ["--bootstrap-server", b.bootstrap]):
        out = ok(topics(*mode, "--describe", "--topic", t)).splitlines()
        assert len(out) == 4, out
        assert re.fullmatch(rf"Topic: {t}\tPartitionCount: 3\tReplicationFactor: 1\t"
                            r"Configs: retention.ms=86400000,segment.bytes=1048576", out[0]), out[0]
        for p, line in enumerate(out[1:]):
            assert re.fullmatch(rf"\tTopic: {t}\tPartition: {p}\tLeader: 3\tReplicas: 3\tIsr: 3",
                                line), line
    # --describe without --topic lists every topic
    out = ok(topics("--bootstrap-server", b.bootstrap, "--describe"))
    assert f"Topic: {t}\tPartitionCount: 3" in out


def test_alter_partitions_both_modes(krab, zk, zookeeper):
    b = krab(mode="zookeeper", broker_id=0)
    t = unique_topic("alter")
    ok(topics("--zookeeper", zookeeper.hosts, "--create", "--topic", t, "--partitions", "2",
              "--replication-factor", "1"))
    assert "Adding partitions succeeded" in ok(
        topics("--zookeeper", zookeeper.hosts, "--alter", "--topic", t, "--partitions", "4"))
    assert len(json_znode(zk, f"/brokers/topics/{t}")[0]["partitions"]) == 4

    def partitions_served(n):
        out = ok(topics("--bootstrap-server", b.bootstrap, "--describe", "--topic", t))
        return f"PartitionCount: {n}\t" in out and f"Partition: {n - 1}\tLeader: 0" in out
    wait_until(lambda: partitions_served(4), msg="the broker serves the added partitions")
    ok(topics("--bootstrap-server", b.bootstrap, "--alter", "--topic", t, "--partitions", "6"))
    assert partitions_served(6)
    assert zk.exists(f"/brokers/topics/{t}/partitions/5/state")
    # a message lands in a new partition and is read back from it
    ok(wrapper("kafka-console-producer.sh", "--bootstrap-server", b.bootstrap, "--topic", t,
               "--property", "parse.key=true", "--property", "key.separator=:",
               input="k:v\n"))
    got = ok(wrapper("kafka-console-consumer.sh", "--bootstrap-server", b.bootstrap, "--topic", t,
                     "--from-beginning", "--max-messages", "1", "--property", "print.key=true",
                     "--property", "print.partition=true"))
    assert got.strip().endswith("k\tv"), got


def test_producer_keys_codecs_acks_and_partition_offset(krab):
    b = krab(mode="embedded")
    t = unique_topic("keys")
    ok(topics("--bootstrap-server", b.bootstrap, "--create", "--topic", t, "--partitions", "3",
              "--replication-factor", "1"))
    expected = []
    for codec, acks in (("gzip", "1"), ("snappy", "all"), ("lz4", "-1"), ("zstd", "1"), ("none", "0")):
        lines = [f"{codec}-{i}:value {codec} {i}" for i in range(5)]
        ok(wrapper("kafka-console-producer.sh", "--broker-list", b.bootstrap, "--topic", t,
                   "--property", "parse.key=true", "--property", "key.separator=:",
                   "--compression-codec", codec, "--request-required-acks", acks,
                   input="\n".join(lines) + "\n"))
        expected += [l.replace(":", "=", 1) for l in lines]
    out = ok(wrapper("kafka-console-consumer.sh", "--bootstrap-server", b.bootstrap, "--topic", t,
                     "--from-beginning", "--max-messages", len(expected),
                     "--property", "print.key=true", "--property", "key.separator=="))
    assert sorted(out.splitlines()) == sorted(expected)
    # a key always maps to the same partition (Kafka's murmur2 partitioner)
    ok(wrapper("kafka-console-producer.sh", "--broker-list", b.bootstrap, "--topic", t,
               "--property", "parse.key=true", input="same\tA\nsame\tB\n"))
    seen = {}
    for p in range(3):
        part = ok(wrapper("kafka-console-consumer.sh", "--bootstrap-server", b.bootstrap,
                          "--topic", t, "--partition", p, "--offset", "earliest",
                          "--timeout-ms", "1500"))
        seen[p] = part.splitlines()
    holders = [p for p, ls in seen.items() if "A" in ls]
    assert len(holders) == 1 and "B" in seen[holders[0]]
    assert sum(len(ls) for ls in seen.values()) == len(expected) + 2
    # --partition/--offset start exactly there
    first = seen[holders[0]]
    out = ok(wrapper("kafka-console-consumer.sh", "--bootstrap-server", b.bootstrap, "--topic", t,
                     "--partition", holders[0], "--offset", "1", "--max-messages", "1"))
    assert out.splitlines() == [first[1]]
    # a keyed line without the separator is an error, as in Kafka
    failed(wrapper("kafka-console-producer.sh", "--broker-list", b.bootstrap, "--topic", t,
                   "--property", "parse.key=true", input="no separator here\n"), "no key found")


def test_consumer_groups_keep_offsets(krab, zk, zookeeper):
    b = krab(mode="zookeeper", broker_id=0)
    t = unique_topic("grp")
    ok(topics("--zookeeper", zookeeper.hosts, "--create", "--topic", t, "--partitions", "1",
              "--replication-factor", "1"))
    ok(wrapper("kafka-console-producer.sh", "--broker-list", b.bootstrap, "--topic", t,
               input="".join(f"m{i}\n" for i in range(6))))
    for mode in (["--zookeeper", zookeeper.hosts], ["--bootstrap-server", b.bootstrap]):
        g = unique_topic("g")
        first = ok(wrapper("kafka-console-consumer.sh", *mode, "--topic", t, "--group", g,
                           "--from-beginning", "--max-messages", "4"))
        assert first.split() == ["m0", "m1", "m2", "m3"]
        assert zk.get(f"/consumers/{g}/offsets/{t}/0")[0] == b"4"
        rest = ok(wrapper("kafka-console-consumer.sh", *mode, "--topic", t, "--group", g,
                          "--timeout-ms", "1500"))
        assert rest.split() == ["m4", "m5"]
    # the old consumer refuses --from-beginning on a group with offsets, as Kafka's did
    failed(wrapper("kafka-console-consumer.sh", "--zookeeper", zookeeper.hosts, "--topic", t,
                   "--group", g, "--from-beginning", "--max-messages", "1"),
           "--delete-consumer-offsets")
    out = ok(wrapper("kafka-console-consumer.sh", "--zookeeper", zookeeper.hosts, "--topic", t,
                     "--group", g, "--from-beginning", "--delete-consumer-offsets",
                     "--max-messages", "1"))
    assert out.split() == ["m0"]


def test_topic_written_by_kazoo_is_served(krab, zk, zookeeper):
    b = krab(mode="zookeeper", broker_id=0)
    t = unique_topic("kazoo")
    zk.create(f"/config/topics/{t}", b'{"version":1,"config":{}}', makepath=True)
    zk.create(f"/brokers/topics/{t}", b'{"version":1,"partitions":{"0":[0],"1":[0]}}', makepath=True)
    wait_until(lambda: zk.exists(f"/brokers/topics/{t}/partitions/1/state"), msg="state znodes")
    st, _ = json_znode(zk, f"/brokers/topics/{t}/partitions/0/state")
    assert st["leader"] == 0 and st["isr"] == [0]
    ok(wrapper("kafka-console-producer.sh", "--broker-list", b.bootstrap, "--topic", t,
               input="x\ny\n"))
    out = ok(wrapper("kafka-console-consumer.sh", "--bootstrap-server", b.bootstrap, "--topic", t,
                     "--from-beginning", "--max-messages", "2"))
    assert sorted(out.split()) == ["x", "y"]
    assert (b.log_dir / f"{t}-0").is_dir() and (b.log_dir / f"{t}-1").is_dir()


def test_server_start_wrapper(tmp_path, zookeeper, zk):
    props = REPO / "config" / "server.properties"
    proc = subprocess.Popen(
        [str(REPO / "scripts" / "kafka-server-start.sh"), str(props),
         "--override", "listeners=PLAINTEXT://127.0.0.1:0", "--override", f"log.dirs={tmp_path}",
         "--override", f"zookeeper.connect={zookeeper.hosts}", "--override", "broker.id=7"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={"KRAB_BIN": str(KRAB_BIN), "PATH": "/usr/bin:/bin"})
    try:
        line = proc.stdout.readline()
        m = LISTENING_RE.search(line)
        assert m, line
        assert "broker 7" in line
        wait_until(lambda: zk.exists("/brokers/ids/7"), msg="registered in ZooKeeper")
    finally:
        proc.terminate()
        assert proc.wait(20) == 0
