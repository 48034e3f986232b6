"""ZooKeeper mode: the znodes Kafka tooling (kafka-topics.sh, KafkaOffsetMonitor, Burrow,
pykafka, zkCli) reads must look like a Kafka broker wrote them."""
import base64
import json
import re
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from krabtest import json_znode, run_krab_cli, unique_topic, wait_until

BROKER_ID = 7
ZKCLI = Path("/usr/share/zookeeper/bin/zkCli.sh")


def produce(bootstrap, topic, n=3):
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(n):
        p.produce(topic, value=b"z%d" % i)
    assert p.flush(15) == 0


def test_broker_registration_and_topic_znodes(krab, zk, topic):
    broker = krab(mode="zookeeper", broker_id=BROKER_ID)
    produce(broker.bootstrap, topic)

    # /brokers/ids/<id>: ephemeral, JSON with top-level host/port (pykafka, OffsetMonitor)
    assert zk.get_children("/brokers/ids") == [str(BROKER_ID)]
    reg, stat = json_znode(zk, f"/brokers/ids/{BROKER_ID}")
    assert stat.ephemeralOwner != 0, "/brokers/ids/<id> must be ephemeral"
    assert reg["host"] == "127.0.0.1"
    assert reg["port"] == broker.port
    assert isinstance(reg["version"], int) and reg["version"] >= 2, reg
    assert f"PLAINTEXT://127.0.0.1:{broker.port}" in reg["endpoints"], reg
    if "jmx_port" in reg:
        assert isinstance(reg["jmx_port"], int)
    if "timestamp" in reg:
        assert str(reg["timestamp"]).isdigit()

    # /brokers/topics/<t>: assignment
    assignment, _ = json_znode(zk, f"/brokers/topics/{topic}")
    assert assignment["partitions"] == {"0": [BROKER_ID]}, assignment
    assert isinstance(assignment["version"], int)

    # partition state
    state, _ = json_znode(zk, f"/brokers/topics/{topic}/partitions/0/state")
    assert state["leader"] == BROKER_ID
    assert state["isr"] == [BROKER_ID]
    assert state["version"] == 1
    assert isinstance(state["leader_epoch"], int) and state["leader_epoch"] >= 0
    assert isinstance(state["controller_epoch"], int) and state["controller_epoch"] >= 1

    # topic config
    cfg, _ = json_znode(zk, f"/config/topics/{topic}")
    assert cfg["version"] == 1 and isinstance(cfg["config"], dict), cfg

    # controller (ephemeral) + epoch
    ctrl, cstat = json_znode(zk, "/controller")
    assert ctrl["brokerid"] == BROKER_ID and ctrl["version"] == 1, ctrl
    assert cstat.ephemeralOwner != 0, "/controller must be ephemeral"
    epoch = zk.get("/controller_epoch")[0].decode()
    assert epoch.isdigit() and int(epoch) >= 1, epoch
    assert state["controller_epoch"] <= int(epoch)

    # cluster id: {"version":"1","id":"<22 char url-safe base64 uuid>"}
    cid, _ = json_znode(zk, "/cluster/id")
    assert str(cid["version"]) == "1"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cid["id"]), cid
    assert len(base64.urlsafe_b64decode(cid["id"] + "==")) == 16

    # KafkaOffsetMonitor / Burrow list the children of /consumers: it must exist
    assert zk.exists("/consumers"), "/consumers missing"

    # SIGTERM -> ephemeral registration and controller go away, persistent data stays
    assert broker.stop() == 0
    wait_until(lambda: not zk.exists(f"/brokers/ids/{BROKER_ID}"), timeout=10,
               msg="/brokers/ids/<id> removed after SIGTERM")
    wait_until(lambda: not zk.exists("/controller"), timeout=10, msg="/controller removed")
    assert zk.exists(f"/brokers/topics/{topic}")
    assert json_znode(zk, "/cluster/id")[0]["id"] == cid["id"]

    # restart: same cluster id, registration and controller back
    broker.restart()
    wait_until(lambda: zk.exists(f"/brokers/ids/{BROKER_ID}"), msg="re-registration")
    assert json_znode(zk, f"/brokers/ids/{BROKER_ID}")[0]["port"] == broker.port
    assert json_znode(zk, "/cluster/id")[0]["id"] == cid["id"]
    wait_until(lambda: zk.exists("/controller"), msg="/controller re-created")
    assert int(zk.get("/controller_epoch")[0]) >= int(epoch)


def test_topics_cli(broker, metadata_mode, request):
    topic = unique_topic("cli")
    bs = broker.bootstrap

    r = run_krab_cli("topics", "--bootstrap-server", bs, "--create", "--topic", topic,
                     "--partitions", 3, "--replication-factor", 1)
    assert r.returncode == 0, r.stderr
    r = run_krab_cli("topics", "--bootstrap-server", bs, "--list")
    assert r.returncode == 0, r.stderr
    assert topic in r.stdout.split(), r.stdout

    # creating it again fails with a non-zero exit and says why
    r = run_krab_cli("topics", "--bootstrap-server", bs, "--create", "--topic", topic,
                     "--partitions", 1, "--replication-factor", 1)
    assert r.returncode != 0
    assert "exist" in (r.stdout + r.stderr).lower()

    if metadata_mode == "zookeeper":
        zk = request.getfixturevalue("zk")
        assignment, _ = json_znode(zk, f"/brokers/topics/{topic}")
        ids = zk.get_children("/brokers/ids")
        (bid,) = ids
        assert assignment["partitions"] == {str(p): [int(bid)] for p in range(3)}
        for p in range(3):
            st, _ = json_znode(zk, f"/brokers/topics/{topic}/partitions/{p}/state")
            assert st["leader"] == int(bid) and st["isr"] == [int(bid)]
        assert zk.exists(f"/config/topics/{topic}")

    # the topic really has 3 partitions for clients
    md = Producer({"bootstrap.servers": bs}).list_topics(topic, timeout=10)
    assert md.topics[topic].error is None
    assert sorted(md.topics[topic].partitions) == [0, 1, 2]

    r = run_krab_cli("topics", "--bootstrap-server", bs, "--delete", "--topic", topic)
    assert r.returncode == 0, r.stderr
    wait_until(lambda: topic not in run_krab_cli("topics", "--bootstrap-server", bs,
                                                  "--list").stdout.split(),
               timeout=15, msg="topic gone from --list")
    if metadata_mode == "zookeeper":
        wait_until(lambda: not zk.exists(f"/brokers/topics/{topic}"), timeout=15,
                   msg="/brokers/topics/<t> deleted")
        wait_until(lambda: not zk.exists(f"/config/topics/{topic}"), timeout=15,
                   msg="/config/topics/<t> deleted")
        wait_until(lambda: not zk.exists(f"/admin/delete_topics/{topic}"), timeout=15,
                   msg="/admin/delete_topics/<t> marker cleared")


def test_zkcli_sees_broker(krab, zookeeper):
    if not ZKCLI.exists():
        pytest.fail(f"{ZKCLI} missing (Debian zookeeper package)")
    broker = krab(mode="zookeeper", broker_id=BROKER_ID)

    def zkcli(*cmd):
        p = subprocess.run([str(ZKCLI), "-server", zookeeper.hosts, *cmd], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stderr[-2000:]
        return p.stdout

    out = zkcli("ls", "/brokers/ids")
    assert f"[{BROKER_ID}]" in out, out
    out = zkcli("get", f"/brokers/ids/{BROKER_ID}")
    line = next(l for l in out.splitlines() if l.startswith("{"))
    assert json.loads(line)["port"] == broker.port


def test_broker_started_before_zookeeper_registers_moments_after_it_comes_up(tmp_path):
    """A broker whose ZooKeeper is not up yet keeps trying at a steady pace (not the client
    library's growing back-off) within zookeeper.connection.timeout.ms, and registers soon
    after ZooKeeper accepts clients: Kafka-style start-up ordering does not matter."""
    import threading
    from krabtest import Krab, ZooKeeperServer
    zk_server = ZooKeeperServer(tmp_path / "late-zk")  # port chosen, not started yet
    broker = Krab("late", tmp_path / "late", "zookeeper", {"zookeeper.connection.timeout.ms": 60000,
                                                          "zookeeper.session.timeout.ms": 6000},
                  0, zk_server.hosts, None, None)
    started = threading.Thread(target=broker.start, kwargs={"timeout": 60}, daemon=True)
    started.start()
    try:
        time.sleep(6.5)  # the client library alone would next retry at ~12.7 s
        assert broker.running(), "the broker must wait for ZooKeeper, not exit"
        zk_server.start()
        up = time.monotonic()
        client = zk_server.client()
        try:
            wait_until(lambda: client.exists("/brokers/ids/0"), timeout=20, interval=0.05,
                       msg="registration")
            assert time.monotonic() - up < 2.5, f"registered {time.monotonic() - up:.1f}s after ZooKeeper came up"
        finally:
            client.stop()
            client.close()
        started.join(30)
    finally:
        if broker.running():
            broker.stop()
        broker.close_files()
        zk_server.stop()
