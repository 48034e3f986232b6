"""SCRAM credentials kept in ZooKeeper, and listeners as the cluster sees them.

* ``krab configs --zookeeper ... --entity-type users`` writes /config/users/<user> and a
  /config/changes notification exactly as Kafka's ConfigCommand does (the stored keys are
  recomputed here from the password), and a broker reading that ZooKeeper serves the user
  over SASL_SSL to confluent-kafka, kcat and kafka-python;
* two brokers (ids 1 and 2) on one ZooKeeper both accept a user, pick up users added and
  credentials deleted while they run, and answer Metadata with each other's endpoint for the
  listener the request came in on;
* /brokers/ids/<id> lists every listener (Kafka's v4 registration JSON).

Single-broker TLS/SASL behaviour is in test_security.py."""
import base64

import pytest
from confluent_kafka.admin import AdminClient

from admintools import wrapper
from krabtest import confluent_consume_all, json_znode, run_krab_cli, unique_topic, wait_until
from sectest import (ROUNDTRIPS, SCRAM, Auth, create_topic, login_ok, scram_keys,
                     security_overrides, split_addr)

LISTENERS = [("PLAINTEXT", "PLAINTEXT"), ("SASL_SSL", "SASL_SSL")]


def users_tool(zookeeper, *args):
    r = run_krab_cli("configs", "--zookeeper", zookeeper.hosts, *args)
    assert r.returncode == 0, f"krab configs {' '.join(args)} failed ({r.returncode}):\n" \
                              f"{r.stdout}\n{r.stderr}"
    return r.stdout


def add_user(zookeeper, user, config):
    return users_tool(zookeeper, "--alter", "--add-config", config, "--entity-type", "users",
                      "--entity-name", user)


def check_credential(text, mechanism, password, iterations):
    """``salt=..,stored_key=..,server_key=..,iterations=N`` (ScramCredentialUtils: exactly
    these keys in this order, padded base64) and the keys really derive from ``password``."""
    items = [kv.split("=", 1) for kv in text.split(",")]
    assert [k for k, _ in items] == ["salt", "stored_key", "server_key", "iterations"], text
    d = dict(items)
    assert d["iterations"] == str(iterations), text
    salt = base64.b64decode(d["salt"], validate=True)
    stored = base64.b64decode(d["stored_key"], validate=True)
    server = base64.b64decode(d["server_key"], validate=True)
    assert salt, text
    assert (stored, server) == scram_keys(mechanism, password, salt, iterations), \
        f"{mechanism} keys in {text!r} do not derive from the password"


def change_notifications(zk):
    """[(data, stat)] of /config/changes/config_change_* in sequence order."""
    if not zk.exists("/config/changes"):
        return []
    names = sorted(c for c in zk.get_children("/config/changes") if c.startswith("config_change_"))
    return [json_znode(zk, f"/config/changes/{n}") for n in names]


@pytest.mark.parametrize("mechanism", SCRAM)
def test_scram_user_created_in_zookeeper(krab, zk, zookeeper, certs, mechanism):
    # Kafka: `kafka-configs --zookeeper ZK --alter --add-config
    # 'SCRAM-SHA-256=[iterations=8192,password=alice-secret]' --entity-type users
    # --entity-name alice` writes /config/users/alice =
    # {"version":1,"config":{"SCRAM-SHA-256":"salt=<b64>,stored_key=<b64>,server_key=<b64>,
    # iterations=8192"}} and then (AdminZkClient.changeEntityConfig) the sequential
    # /config/changes/config_change_N = {"version":2,"entity_path":"users/alice"}.  Brokers on
    # that ZooKeeper authenticate alice with it; the mechanism not added does not log in.
    add_user(zookeeper, "alice", f"{mechanism}=[iterations=8192,password=alice-secret]")
    user, stat = json_znode(zk, "/config/users/alice")
    assert set(user) == {"version", "config"} and user["version"] == 1, user
    assert list(user["config"]) == [mechanism], user
    check_credential(user["config"][mechanism], mechanism, "alice-secret", 8192)
    notes = [(data, st) for data, st in change_notifications(zk)
             if data == {"version": 2, "entity_path": "users/alice"}]
    assert len(notes) == 1, change_notifications(zk)
    assert notes[0][1].czxid > stat.mzxid, "notification written before the config"

    b = krab(mode="zookeeper", overrides=security_overrides(certs, LISTENERS))
    addr = b.listener("SASL_SSL")
    auth = Auth("SASL_SSL", mechanism, "alice", "alice-secret", ca=certs.ca_cert)
    for client, roundtrip in ROUNDTRIPS.items():
        roundtrip(addr, create_topic(b.bootstrap, unique_topic(f"zk-{client}")), auth)
    tls = Auth("SSL", ca=certs.ca_cert)
    other = next(m for m in SCRAM if m != mechanism)
    assert not login_ok(addr, other, "alice", "alice-secret", tls)
    assert not login_ok(addr, mechanism, "alice", "wrong", tls)


def test_scram_users_on_two_brokers(krab, zk, zookeeper, certs):
    # Kafka: SCRAM credentials live in ZooKeeper, so every broker of the cluster accepts them;
    # a user added or changed while the brokers run is announced under /config/changes and
    # every broker re-reads /config/users/<user> (ZkNodeChangeNotificationListener ->
    # ConfigHandler), within moments; after --delete-config of a mechanism the znode keeps
    # the rest (an empty "config" when nothing is left) and new logins with it fail.
    add_user(zookeeper, "alice", "SCRAM-SHA-256=[iterations=8192,password=alice-secret],"
                                 "SCRAM-SHA-512=[password=alice-secret]")
    ov = security_overrides(certs, LISTENERS)
    brokers = [krab(mode="zookeeper", broker_id=i, overrides=ov, start=False) for i in (1, 2)]
    for b in brokers:
        b.start()
    wait_until(lambda: sorted(zk.get_children("/brokers/ids")) == ["1", "2"], timeout=20,
               msg="brokers 1 and 2 registered")
    tls = Auth("SSL", ca=certs.ca_cert)
    sasl = {b.broker_id: b.listener("SASL_SSL") for b in brokers}
    for addr in sasl.values():
        for mech in SCRAM:
            assert login_ok(addr, mech, "alice", "alice-secret", tls), f"{mech} on {addr}"

    # a client bootstrapped on broker 2 only, writing to partitions led by both brokers
    t = create_topic(brokers[0].bootstrap, unique_topic("two-brokers"), partitions=2, rf=2)
    auth = Auth("SASL_SSL", "SCRAM-SHA-512", "alice", "alice-secret", ca=certs.ca_cert)
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": sasl[2], "acks": "all", "linger.ms": 5, **auth.confluent()})
    acked = []
    values = {part: [b"p%d-%d" % (part, i) for i in range(5)] for part in (0, 1)}
    for part, vs in values.items():
        for v in vs:
            p.produce(t, v, partition=part, on_delivery=lambda err, msg: acked.append(err))
    assert p.flush(20) == 0
    del p
    assert len(acked) == 10 and not [e for e in acked if e is not None], acked
    msgs = confluent_consume_all(sasl[2], t, 10, partitions=(0, 1), timeout=20,
                                 extra_conf=auth.confluent())
    got = {part: [m.value() for m in msgs if m.partition() == part] for part in (0, 1)}
    assert got == values

    # Metadata names each broker's endpoint of the listener the request came in on
    for name, bootstrap, conf in (("SASL_SSL", sasl[1], auth.confluent()),
                                  ("PLAINTEXT", brokers[1].bootstrap, {})):
        md = AdminClient({"bootstrap.servers": bootstrap, **conf}).list_topics(timeout=10)
        got = {b.id: (b.host, b.port) for b in md.brokers.values()}
        assert got == {b.broker_id: split_addr(b.listener(name)) for b in brokers}, (name, got)

    # a user added while both run
    add_user(zookeeper, "bob", "SCRAM-SHA-512=[iterations=4096,password=bob-secret]")
    for addr in sasl.values():
        wait_until(lambda: login_ok(addr, "SCRAM-SHA-512", "bob", "bob-secret", tls),
                   timeout=5, msg=f"bob's login on {addr}")
    out = wrapper("kafka-configs.sh", "--zookeeper", zookeeper.hosts, "--describe",
                  "--entity-type", "users", "--entity-name", "bob")
    assert out.returncode == 0, out.stderr
    assert "SCRAM-SHA-512" in out.stdout and "bob" in out.stdout, out.stdout

    # and deleted again
    users_tool(zookeeper, "--alter", "--delete-config", "SCRAM-SHA-512", "--entity-type",
               "users", "--entity-name", "bob")
    bob, _ = json_znode(zk, "/config/users/bob")
    assert bob == {"version": 1, "config": {}}, bob
    notes = [d for d, _ in change_notifications(zk) if d == {"version": 2, "entity_path": "users/bob"}]
    assert len(notes) == 2, change_notifications(zk)
    for addr in sasl.values():
        wait_until(lambda: not login_ok(addr, "SCRAM-SHA-512", "bob", "bob-secret", tls),
                   timeout=5, msg=f"bob refused on {addr} after --delete-config")
        assert login_ok(addr, "SCRAM-SHA-256", "alice", "alice-secret", tls)
    for b in brokers:
        b.check_alive()
    # SIGKILL: with both gone one after the other the second's controlled shutdown would wait
    # ~10 s for a partner that is already down (shutdown is not what this test is about)
    for b in brokers:
        b.kill()


def test_broker_registration_lists_every_listener(krab, zk, certs):
    # Kafka (BrokerIdZNode, version 4): "endpoints" lists every listener as NAME://host:port
    # in `listeners` order, "listener_security_protocol_map" gives each name's protocol (only
    # the registered listeners), top-level host/port are the PLAINTEXT listener's (what
    # pykafka and other ZooKeeper readers use).  A custom listener name (CLIENT, mapped to
    # SASL_SSL) is registered under its own name.
    listeners = [("PLAINTEXT", "PLAINTEXT"), ("SSL", "SSL"), ("CLIENT", "SASL_SSL")]
    b = krab(mode="zookeeper", broker_id=7, overrides=security_overrides(certs, listeners))
    wait_until(lambda: zk.exists("/brokers/ids/7"), timeout=15, msg="/brokers/ids/7")
    reg, stat = json_znode(zk, "/brokers/ids/7")
    assert stat.ephemeralOwner != 0
    assert reg["version"] == 4, reg
    assert reg["endpoints"] == [f"{name}://{b.listener(name)}" for name, _ in listeners], reg
    assert reg["listener_security_protocol_map"] == dict(listeners), reg
    assert (reg["host"], reg["port"]) == split_addr(b.bootstrap), reg
    assert reg["jmx_port"] == -1 and str(reg["timestamp"]).isdigit(), reg
    # the custom-named SASL_SSL listener answers Metadata with its own address
    auth = Auth("SASL_SSL", "PLAIN", "alice", "alice-secret", ca=certs.ca_cert)
    md = AdminClient({"bootstrap.servers": b.listener("CLIENT"),
                      **auth.confluent()}).list_topics(timeout=10)
    assert [(x.host, x.port) for x in md.brokers.values()] == [split_addr(b.listener("CLIENT"))]
