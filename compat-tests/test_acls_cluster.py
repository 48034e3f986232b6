"""ACLs on two brokers sharing ZooKeeper (Kafka's AclAuthorizer with ZooKeeper storage).

* an ACL added or removed through one broker's Admin API (CreateAcls/DeleteAcls) applies on
  the other within about a second: the writer adds a /kafka-acl-changes notification and
  every broker's watch on that node reloads the resource (ZkNodeChangeNotificationListener);
* replication under an authorizer: followers fetch as the inter-broker listener's principal,
  which needs ClusterAction (a super user here): over PLAINTEXT that is User:ANONYMOUS, over
  SASL_PLAINTEXT the broker's own login from the listener's JAAS config (User:admin), with
  ANONYMOUS no longer a super user.

Single-broker ACL behaviour is in test_acls.py."""
import json
import time

from confluent_kafka import Consumer, TopicPartition

from krabtest import run_krab_cli, unique_topic, wait_until
from sectest import (ACL_USERS, TOPIC_AUTHORIZATION_FAILED, Auth, acl_output, acl_overrides,
                     client_properties, end_offset, produce_codes, produce_error, rp)

LISTENERS = [("PLAINTEXT", "PLAINTEXT"), ("SASL_PLAINTEXT", "SASL_PLAINTEXT")]
CLUSTER = {"num.partitions": 1, "default.replication.factor": 1,
           "zookeeper.session.timeout.ms": 3000, "replica.lag.time.max.ms": 2500,
           "group.initial.rebalance.delay.ms": 0}


def user(name):
    return Auth("SASL_PLAINTEXT", "PLAIN", name, ACL_USERS[name])


def start_pair(krab, zk, certs, extra=None, super_users=None):
    ov = acl_overrides(certs, LISTENERS, {**CLUSTER, **(extra or {})},
                       **({"super_users": super_users} if super_users else {}))
    brokers = [krab(mode="zookeeper", broker_id=i, overrides=ov, start=False) for i in (1, 2)]
    for b in brokers:
        b.start()
    wait_until(lambda: sorted(zk.get_children("/brokers/ids")) == ["1", "2"], timeout=20,
               msg="brokers 1 and 2 registered")
    return brokers


def create_replicated(bootstrap, command_config, name, assignment, zk):
    """Create ``name`` with ``--replica-assignment`` through ``bootstrap`` and wait for the
    full ISR."""
    args = ["topics", "--bootstrap-server", bootstrap, "--create", "--topic", name,
            "--replica-assignment", assignment]
    if command_config:
        args += ["--command-config", command_config]
    r = run_krab_cli(*args)
    assert r.returncode == 0, r.stderr
    replicas = {int(x) for x in assignment.split(":")}

    def full_isr():
        path = f"/brokers/topics/{name}/partitions/0/state"
        if not zk.exists(path):
            return False
        state = json.loads(zk.get(path)[0])
        return set(state["isr"]) == replicas and state["leader"] == int(assignment.split(":")[0])
    wait_until(full_isr, timeout=20, msg=f"{name}'s full ISR")
    return name


def until(fn, pred, timeout):
    """Poll ``fn`` every 50 ms until ``pred`` holds; returns the seconds it took (fails after
    ``timeout``)."""
    t0 = time.monotonic()
    while True:
        v = fn()
        if pred(v):
            return time.monotonic() - t0
        assert time.monotonic() - t0 < timeout, f"still {v!r} after {timeout}s"
        time.sleep(0.05)


def test_acl_through_one_broker_applies_on_the_other(krab, zk, certs, tmp_path):
    # Kafka: CreateAcls/DeleteAcls on broker 1 write /kafka-acl/Topic/<t> and a
    # /kafka-acl-changes node; broker 2's notification listener reloads at once (not at some
    # periodic refresh), so alice's Produce to broker 2 (the partition's leader) is accepted
    # within ~1 s of the tool returning, and refused within ~1 s of the removal.  Broker 2's
    # DescribeAcls lists what broker 1 added.  Followers fetch as User:ANONYMOUS (the
    # PLAINTEXT inter-broker listener), a super user, so acks=all writes replicate.
    b1, b2 = start_pair(krab, zk, certs)
    admin = client_properties(tmp_path / "admin.properties", user("admin"))
    t = create_replicated(b1.bootstrap, None, unique_topic("acl-cluster"), "2:1", zk)
    on1, on2 = b1.listener("SASL_PLAINTEXT"), b2.listener("SASL_PLAINTEXT")
    alice = user("alice")
    assert produce_error(on2, alice, t) == TOPIC_AUTHORIZATION_FAILED

    def tool(addr, *args):
        r = run_krab_cli("acls", "--bootstrap-server", addr, "--command-config", admin, *args)
        assert r.returncode == 0, r.stderr
        return r.stdout

    acl_args = ["--allow-principal", "User:alice", "--operation", "Write", "--topic", t]
    took = []
    for round_ in range(2):
        tool(on1, "--add", *acl_args)
        took.append(until(lambda: produce_error(on2, alice, t), lambda e: e == 0, 6))
        tool(on1, "--remove", "--force", *acl_args)
        took.append(until(lambda: produce_error(on2, alice, t),
                          lambda e: e == TOPIC_AUTHORIZATION_FAILED, 6))
    assert max(took) < 1.5, f"broker 2 applied broker 1's ACL changes after {took} s"

    tool(on1, "--add", *acl_args)
    until(lambda: produce_error(on2, alice, t), lambda e: e == 0, 6)
    listed = acl_output(tool(on2, "--list", "--topic", t))
    assert [(h, r) for h, r, _ in listed] == [("Current ACLs", rp("TOPIC", t))]
    before = end_offset(b2.bootstrap, t)
    assert produce_codes(on2, t, alice, [b"r-%d" % i for i in range(4)],
                         extra={"acks": "all"}) == [None] * 4
    wait_until(lambda: end_offset(b1.bootstrap, t) == before + 4, timeout=10,
               msg="broker 1's replica caught up")
    for b in (b1, b2):
        b.check_alive()
    for b in (b1, b2):  # SIGKILL: the second's controlled shutdown would wait for the first
        b.kill()


def test_sasl_inter_broker_principal(krab, zk, certs, tmp_path):
    # Kafka: with inter.broker.listener.name=SASL_PLAINTEXT and
    # sasl.mechanism.inter.broker.protocol=PLAIN the brokers log in to each other with the
    # username/password of that listener's JAAS config (User:admin, the only super user), so
    # replication and controller requests pass the authorizer while PLAINTEXT clients
    # (User:ANONYMOUS) get nothing.
    b1, b2 = start_pair(krab, zk, certs, extra={
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "sasl.mechanism.inter.broker.protocol": "PLAIN"}, super_users="User:admin")
    admin = client_properties(tmp_path / "admin.properties", user("admin"))
    on1, on2 = b1.listener("SASL_PLAINTEXT"), b2.listener("SASL_PLAINTEXT")
    t = create_replicated(on1, admin, unique_topic("sasl-ib"), "2:1", zk)
    assert produce_codes(on2, t, user("admin"), [b"a-%d" % i for i in range(3)],
                         extra={"acks": "all"}) == [None] * 3
    anonymous = Auth("PLAINTEXT")
    assert produce_error(b2.bootstrap, anonymous, t) == TOPIC_AUTHORIZATION_FAILED

    # acks=all came back with the ISR still full: the follower (broker 1, logged in to
    # broker 2 as admin) fetched all three
    c = Consumer({"bootstrap.servers": on2, "group.id": "hw", **user("admin").confluent()})
    try:
        assert c.get_watermark_offsets(TopicPartition(t, 0), timeout=10)[1] == 3
    finally:
        c.close()
    state = json.loads(zk.get(f"/brokers/topics/{t}/partitions/0/state")[0])
    assert sorted(state["isr"]) == [1, 2], state
    for b in (b1, b2):
        b.check_alive()
    for b in (b1, b2):
        b.kill()
