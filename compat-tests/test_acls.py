"""ACLs (Kafka's AclAuthorizer) and kafka-acls.sh as clients and tools see them.

Most tests share one embedded-mode broker (module-scoped ``acl``) with
``authorizer.class.name=kafka.security.authorizer.AclAuthorizer`` and
``super.users=User:admin;User:ANONYMOUS`` and four listeners: PLAINTEXT (ANONYMOUS, a super
user: the unrestricted view the tests check results with), SASL_PLAINTEXT and SASL_SSL (PLAIN
users admin, alice, bob and carol from the listeners' JAAS config) and SSL with client
certificates required (principal ``User:CN=alice-client,O=krab-tests``).  Its ACLs are
managed with ``krab acls --bootstrap-server <SASL_PLAINTEXT> --command-config admin.properties``
(CreateAcls/DeleteAcls/DescribeAcls as User:admin).  Every test uses its own topics, groups
and transactional ids, so the ACLs one test adds do not reach another's.

The ZooKeeper tests (``krab acls --authorizer-properties zookeeper.connect=...`` through
scripts/kafka-acls.sh, the znodes it writes, the broker's reload on a change notification, a
malformed ACL znode) start their own broker; two brokers are in test_acls_cluster.py.  Each
test's comment says what Kafka 2.8 does (KafkaApis, AclAuthorizer, AclCommand;
EndToEndAuthorizationTest, AuthorizerIntegrationTest)."""
import json
import re
import time

import pytest
from confluent_kafka import (OFFSET_BEGINNING, OFFSET_STORED, Consumer, KafkaError,
                             KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient

import kwire
from admintools import ok, wrapper
from krabtest import (KrabExited, eventually, json_znode, run_krab_cli, unique_topic,
                      wait_until)
from sectest import (ACL_USERS, CLUSTER_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED,
                     TOPIC_AUTHORIZATION_FAILED, Auth, ace, acl_output, acl_overrides, block,
                     client_properties, create_topic, end_offset, produce_codes, produce_error,
                     rp, session)

LISTENERS = [("PLAINTEXT", "PLAINTEXT"), ("SASL_PLAINTEXT", "SASL_PLAINTEXT"),
             ("SASL_SSL", "SASL_SSL"), ("SSL", "SSL")]
ZK_LISTENERS = [("PLAINTEXT", "PLAINTEXT"), ("SASL_PLAINTEXT", "SASL_PLAINTEXT")]

# how long an ACL change may take to apply on the broker that made it / through ZooKeeper
APPLY_S = 3


# ---------------------------------------------------------------------------------------------
# the shared broker
# ---------------------------------------------------------------------------------------------
class AclBroker:
    def __init__(self, krab, certs, workdir):
        self.krab = krab
        self.certs = certs
        self.addr = {name: krab.listener(name) for name, _ in LISTENERS}
        assert self.addr["PLAINTEXT"] == krab.bootstrap
        self.workdir = workdir
        self.admin_config = client_properties(workdir / "admin.properties", self.user("admin"))

    @property
    def plaintext(self):
        return self.addr["PLAINTEXT"]

    @property
    def sasl(self):
        return self.addr["SASL_PLAINTEXT"]

    def user(self, name, protocol="SASL_PLAINTEXT", password=None):
        return Auth(protocol, "PLAIN", name, password or ACL_USERS[name],
                    ca=self.certs.ca_cert if protocol == "SASL_SSL" else None)

    def cert_client(self):
        c = self.certs
        return Auth("SSL", ca=c.ca_cert, cert=c.client_cert, key=c.client_key)

    def acls_run(self, *args, config=None):
        return run_krab_cli("acls", "--bootstrap-server", self.sasl, "--command-config",
                            config or self.admin_config, *args)

    def acls(self, *args):
        """``krab acls`` as User:admin through the Admin API; asserts success, returns stdout."""
        r = self.acls_run(*args)
        assert r.returncode == 0, f"krab acls {' '.join(args)} exited {r.returncode}\n" \
                                  f"stdout: {r.stdout}\nstderr: {r.stderr}"
        return r.stdout

    def produce_error(self, user, topic):
        return produce_error(self.sasl, self.user(user), topic)


@pytest.fixture(scope="module")
def acl(krab_module, certs, tmp_path_factory):
    b = krab_module(overrides=acl_overrides(certs, LISTENERS, {
        "listener.name.ssl.ssl.client.auth": "required"}))
    return AclBroker(b, certs, tmp_path_factory.mktemp("acl-clients"))


def topic_with(plaintext, prefix, n=3):
    """A new topic holding ``n`` records (written over PLAINTEXT); returns (name, values)."""
    t = create_topic(plaintext, unique_topic(prefix))
    values = [b"%s-%d" % (prefix.encode(), i) for i in range(n)]
    p = Producer({"bootstrap.servers": plaintext, "linger.ms": 0})
    for v in values:
        p.produce(t, v, partition=0)
    assert p.flush(15) == 0
    return t, values


# ---------------------------------------------------------------------------------------------
# confluent-kafka clients
# ---------------------------------------------------------------------------------------------
def consume(addr, auth, topic, group, want, assign_from=None, timeout=10, stop_on=(),
            commit=False):
    """A confluent consumer in ``group``: subscribe() (``assign_from`` None) or assign() of
    partition 0 at ``assign_from``.  Polls until ``want`` records, an error whose code is in
    ``stop_on``, or the timeout.  Returns (values, error codes seen, commit error code or None
    when ``commit``)."""
    c = Consumer({"bootstrap.servers": addr, "group.id": group, "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000, **auth.confluent()})
    values, errors, commit_error = [], [], None
    try:
        if assign_from is None:
            c.subscribe([topic])
        else:
            c.assign([TopicPartition(topic, 0, assign_from)])
        deadline = time.monotonic() + timeout
        while len(values) < want and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                errors.append(m.error().code())
                if m.error().code() in stop_on:
                    break
                continue
            values.append(m.value())
        if commit:
            try:
                c.commit(asynchronous=False)
            except KafkaException as e:
                commit_error = e.args[0].code()
    finally:
        c.close()
    return values, errors, commit_error


def fetch_error(addr, auth, topic):
    """Fetch v2 from offset 0 of partition 0 as ``auth``; returns the partition's error."""
    conn = session(addr, auth)
    try:
        return kwire.fetch_v2_error(conn, topic)[0]
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# group requests by hand (librdkafka waits ~45 s for a coordinator it may not find)
# ---------------------------------------------------------------------------------------------
def offset_commit_v2(conn, group, topic, offset, partition=0):
    """OffsetCommit v2 (generation -1, no member: a simple consumer); returns the error."""
    body = (kwire.string(group) + kwire.i32(-1) + kwire.string("") + kwire.i64(-1)
            + kwire.array([kwire.string(topic) + kwire.array([
                kwire.i32(partition) + kwire.i64(offset) + kwire.string("")])]))
    r = conn.call(8, 2, body)
    r.i32()
    r.string()
    r.i32()
    r.i32()
    return r.i16()


def offset_fetch_v1(conn, group, topic, partition=0):
    """OffsetFetch v1; returns (offset, error) of the partition."""
    body = kwire.string(group) + kwire.array([kwire.string(topic)
                                              + kwire.array([kwire.i32(partition)])])
    r = conn.call(9, 1, body)
    r.i32()
    r.string()
    r.i32()
    r.i32()
    offset = r.i64()
    r.string()
    return offset, r.i16()


def committed(plaintext, group, topic):
    c = Consumer({"bootstrap.servers": plaintext, "group.id": group, "enable.auto.commit": False})
    try:
        return c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    finally:
        c.close()


# ---------------------------------------------------------------------------------------------
# produce / consume
# ---------------------------------------------------------------------------------------------
def test_producer_denied_until_producer_acl(acl):
    # Kafka (EndToEndAuthorizationTest.testNoProduceWithoutDescribeAcl): without ACLs a
    # producer gets TOPIC_AUTHORIZATION_FAILED (29) for its records and nothing is written;
    # `kafka-acls --bootstrap-server B --command-config admin.properties --add
    # --allow-principal User:alice --producer --topic T` (Write, Describe and Create on T:
    # "Adding ACLs for resource ..." then the "Current ACLs" listing) lets alice write.  Only
    # alice: bob stays refused.
    t = create_topic(acl.plaintext, unique_topic("produce"))
    alice = acl.user("alice")
    assert produce_codes(acl.sasl, t, alice, [b"denied-1", b"denied-2"]) == \
        [TOPIC_AUTHORIZATION_FAILED] * 2
    assert acl.produce_error("alice", t) == TOPIC_AUTHORIZATION_FAILED
    assert end_offset(acl.plaintext, t) == 0

    out = acl.acls("--add", "--allow-principal", "User:alice", "--producer", "--topic", t)
    acls = [ace("User:alice", op) for op in ("WRITE", "DESCRIBE", "CREATE")]
    assert acl_output(out) == [block("Adding ACLs", rp("TOPIC", t), *acls),
                               block("Current ACLs", rp("TOPIC", t), *acls)]
    eventually(lambda: acl.produce_error("alice", t), lambda e: e == 0, APPLY_S,
               "alice's Produce accepted")
    assert produce_codes(acl.sasl, t, alice, [b"ok-%d" % i for i in range(5)]) == [None] * 5
    assert end_offset(acl.plaintext, t) == 6, "records of the refused attempts were written"
    assert acl.produce_error("bob", t) == TOPIC_AUTHORIZATION_FAILED


def test_acl_commands_need_alter_on_cluster(acl, tmp_path):
    # Kafka (KafkaApis): CreateAcls/DeleteAcls need Alter on the cluster, DescribeAcls needs
    # Describe on it; kafka-acls as a user without them fails ("Error while executing ACL
    # command: ...ClusterAuthorizationException: Cluster authorization failed.", exit 1) and
    # adds nothing.
    t = unique_topic("no-alter")
    alice = client_properties(tmp_path / "alice.properties", acl.user("alice"))
    for action in (["--add", "--allow-principal", "User:alice", "--operation", "Write",
                    "--topic", t], ["--list"]):
        r = acl.acls_run(*action, config=alice)
        assert r.returncode != 0, r.stdout
        assert "Cluster authorization failed" in r.stdout + r.stderr, (r.stdout, r.stderr)
    assert acl_output(acl.acls("--list", "--topic", t)) == []


def test_producer_shortcut_with_idempotent_and_transactional_id(acl):
    # Kafka 2.8 (AclCommand.getProducerResourceFilterToAcls): `--producer --idempotent
    # --topic T --transactional-id X` adds Write, Describe and Create on T, Write and
    # Describe on X, IdempotentWrite on the cluster (kafka-cluster); the listing afterwards
    # covers T, X and (for --idempotent) the cluster.
    t, txn = unique_topic("shortcut"), unique_topic("shortcut-txn")
    out = acl.acls("--add", "--allow-principal", "User:dave", "--producer", "--idempotent",
                   "--topic", t, "--transactional-id", txn)
    items = acl_output(out)
    adding = sorted(i for i in items if i[0] == "Adding ACLs")
    assert adding == sorted([
        block("Adding ACLs", rp("TOPIC", t),
              *[ace("User:dave", op) for op in ("WRITE", "DESCRIBE", "CREATE")]),
        block("Adding ACLs", rp("TRANSACTIONAL_ID", txn),
              *[ace("User:dave", op) for op in ("WRITE", "DESCRIBE")]),
        block("Adding ACLs", rp("CLUSTER", "kafka-cluster"), ace("User:dave", "IDEMPOTENT_WRITE"))])
    current = {r: acls for h, r, acls in items if h == "Current ACLs"}
    assert set(current) == {rp("TOPIC", t), rp("TRANSACTIONAL_ID", txn),
                            rp("CLUSTER", "kafka-cluster")}, items
    assert ace("User:dave", "IDEMPOTENT_WRITE") in current[rp("CLUSTER", "kafka-cluster")]


def test_consumer_denied_until_consumer_acl(acl):
    # Kafka (EndToEndAuthorizationTest.testProduceConsumeViaSubscribe): a group consumer
    # without ACLs fails at FindCoordinator with GROUP_AUTHORIZATION_FAILED (30: Describe on
    # the group); `--add --allow-principal User:alice --consumer --topic T --group G` (Read and
    # Describe on T, Read on G) lets it join, read and commit.
    t, values = topic_with(acl.plaintext, "consume")
    g = unique_topic("group")
    alice = acl.user("alice")
    got, errors, _ = consume(acl.sasl, alice, t, g, 3, timeout=8,
                             stop_on=(GROUP_AUTHORIZATION_FAILED,))
    assert got == [] and GROUP_AUTHORIZATION_FAILED in errors, errors

    out = acl.acls("--add", "--allow-principal", "User:alice", "--consumer", "--topic", t,
                   "--group", g)
    topic_acls = [ace("User:alice", "READ"), ace("User:alice", "DESCRIBE")]
    group_acl = ace("User:alice", "READ")
    assert sorted(acl_output(out)) == sorted([
        block("Adding ACLs", rp("TOPIC", t), *topic_acls),
        block("Adding ACLs", rp("GROUP", g), group_acl),
        block("Current ACLs", rp("TOPIC", t), *topic_acls),
        block("Current ACLs", rp("GROUP", g), group_acl)])

    def consumed():
        got, errors, commit_error = consume(acl.sasl, alice, t, g, 3, timeout=8, commit=True)
        return got, errors, commit_error
    got, errors, commit_error = eventually(consumed, lambda r: r[0] == values, APPLY_S + 8,
                                           "alice's group consumer reading the topic")
    assert commit_error is None and not errors, (errors, commit_error)
    assert committed(acl.plaintext, g, t) == 3


def test_topic_read_without_group_acl(acl):
    # Kafka (EndToEndAuthorizationTest.testNoGroupAcl; KafkaApis): with Read on the topic but
    # no ACL on the group, subscribe() fails with GROUP_AUTHORIZATION_FAILED, and so does
    # assign() without a position (the committed offset needs OffsetFetch: Describe on the
    # group); assign() at an explicit offset only Fetches (Read on the topic) and reads
    # everything; committing (OffsetCommit: Read on the group) or fetching offsets is refused
    # with 30.
    t, values = topic_with(acl.plaintext, "nogroup")
    g = unique_topic("nogroup-g")
    alice = acl.user("alice")
    acl.acls("--add", "--allow-principal", "User:alice", "--operation", "Read", "--topic", t)
    eventually(lambda: fetch_error(acl.sasl, alice, t), lambda e: e == 0, APPLY_S,
               "alice's Fetch allowed")

    got, errors, _ = consume(acl.sasl, alice, t, g, 3, timeout=8,
                             stop_on=(GROUP_AUTHORIZATION_FAILED,))
    assert got == [] and GROUP_AUTHORIZATION_FAILED in errors, ("subscribe", errors)
    got, errors, _ = consume(acl.sasl, alice, t, g, 3, assign_from=OFFSET_STORED, timeout=4,
                             stop_on=(GROUP_AUTHORIZATION_FAILED,))
    assert got == [] and GROUP_AUTHORIZATION_FAILED in errors, ("assign, stored offset", errors)
    got, errors, _ = consume(acl.sasl, alice, t, g, 3, assign_from=OFFSET_BEGINNING, timeout=10)
    assert got == values, ("assign from the beginning", got, errors)

    conn = session(acl.sasl, alice)
    try:
        assert offset_commit_v2(conn, g, t, 3) == GROUP_AUTHORIZATION_FAILED
        assert offset_fetch_v1(conn, g, t)[1] == GROUP_AUTHORIZATION_FAILED
    finally:
        conn.close()
    assert committed(acl.plaintext, g, t) < 0, "an offset was committed"


def test_deny_overrides_allow(acl):
    # Kafka (AclAuthorizer.authorizeAction): a matching Deny wins over any Allow.  Allow
    # User:* Read and Deny User:alice Read on T: alice's Fetch gets 29, bob and carol read.  A
    # deny for bob from another host does not apply to bob connecting from 127.0.0.1.  A Deny
    # Read does not deny Describe: alice still sees T in Metadata (Describe is implied by the
    # wildcard's Read allow).
    t, values = topic_with(acl.plaintext, "deny")
    acl.acls("--add", "--allow-principal", "User:*", "--operation", "Read", "--topic", t)
    out = acl.acls("--add", "--deny-principal", "User:alice", "--operation", "Read",
                   "--topic", t)
    assert acl_output(out)[0] == block("Adding ACLs", rp("TOPIC", t),
                                       ace("User:alice", "READ", "DENY"))
    acl.acls("--add", "--deny-principal", "User:bob", "--deny-host", "10.255.255.1",
             "--operation", "Read", "--topic", t)

    def fetch(user):
        return fetch_error(acl.sasl, acl.user(user), t)
    eventually(lambda: (fetch("alice"), fetch("bob"), fetch("carol")),
               lambda v: v == (TOPIC_AUTHORIZATION_FAILED, 0, 0), APPLY_S,
               "alice refused, bob and carol allowed")
    got, errors, _ = consume(acl.sasl, acl.user("bob"), t, unique_topic("g"), 3,
                             assign_from=OFFSET_BEGINNING)
    assert got == values, errors
    got, errors, _ = consume(acl.sasl, acl.user("alice"), t, unique_topic("g"), 3,
                             assign_from=OFFSET_BEGINNING, timeout=5,
                             stop_on=(TOPIC_AUTHORIZATION_FAILED,))
    assert got == [] and TOPIC_AUTHORIZATION_FAILED in errors, errors
    conn = session(acl.sasl, acl.user("alice"))
    try:
        assert kwire.metadata_v1(conn, [t]) == {t: (0, 1)}
    finally:
        conn.close()


def test_prefixed_acl(acl):
    # Kafka (2.0+, KIP-290): `--resource-pattern-type prefixed --topic pre-` applies to every
    # topic whose name starts with "pre-" and to no other; it is listed as
    # patternType=PREFIXED, and `--list --topic pre-x --resource-pattern-type match` finds it.
    prefix = unique_topic("pre") + "-"
    inside = create_topic(acl.plaintext, prefix + "x")
    outside = create_topic(acl.plaintext, unique_topic("other"))
    near = create_topic(acl.plaintext, prefix[:-1])  # the prefix without its last character
    out = acl.acls("--add", "--allow-principal", "User:alice", "--operation", "Write",
                   "--resource-pattern-type", "prefixed", "--topic", prefix)
    pattern = rp("TOPIC", prefix, "PREFIXED")
    assert acl_output(out) == [block("Adding ACLs", pattern, ace("User:alice", "WRITE")),
                               block("Current ACLs", pattern, ace("User:alice", "WRITE"))]
    eventually(lambda: acl.produce_error("alice", inside), lambda e: e == 0, APPLY_S,
               f"alice writing to {inside}")
    assert acl.produce_error("alice", outside) == TOPIC_AUTHORIZATION_FAILED
    assert acl.produce_error("alice", near) == TOPIC_AUTHORIZATION_FAILED
    assert end_offset(acl.plaintext, outside) == 0 and end_offset(acl.plaintext, near) == 0
    out = acl.acls("--list", "--topic", inside, "--resource-pattern-type", "match")
    assert acl_output(out) == [block("Current ACLs", pattern, ace("User:alice", "WRITE"))]


def test_metadata_hides_undescribable_topics(acl):
    # Kafka (KafkaApis.handleTopicMetadataRequest): an all-topics Metadata request leaves out
    # the topics the principal may not Describe; naming one answers TOPIC_AUTHORIZATION_FAILED
    # (29) without partitions, also for a topic that does not exist (and nothing is
    # auto-created without Create).  A super user sees everything.  Describe alone allows
    # neither Produce nor Fetch.
    hidden = create_topic(acl.plaintext, unique_topic("hidden"))
    visible = create_topic(acl.plaintext, unique_topic("visible"))
    acl.acls("--add", "--allow-principal", "User:alice", "--operation", "Describe",
             "--topic", visible)
    alice_admin = AdminClient({"bootstrap.servers": acl.sasl, **acl.user("alice").confluent()})
    md = eventually(lambda: alice_admin.list_topics(timeout=10), lambda m: visible in m.topics,
                    APPLY_S, "alice's metadata listing the topic she may Describe")
    assert hidden not in md.topics, sorted(md.topics)
    admin = AdminClient({"bootstrap.servers": acl.sasl, **acl.user("admin").confluent()})
    assert {hidden, visible} <= set(admin.list_topics(timeout=10).topics)
    named = alice_admin.list_topics(topic=hidden, timeout=10).topics[hidden]
    assert named.error is not None and named.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    assert not named.partitions

    # Describe alone neither writes nor reads (EndToEndAuthorizationTest
    # .testNoProduceWithDescribeAcl, testNoConsumeWithDescribeAclViaAssign)
    assert acl.produce_error("alice", visible) == TOPIC_AUTHORIZATION_FAILED
    assert fetch_error(acl.sasl, acl.user("alice"), visible) == TOPIC_AUTHORIZATION_FAILED

    missing = unique_topic("never-created")
    conn = session(acl.sasl, acl.user("alice"))
    try:
        listed = kwire.metadata_v1(conn, None)
        assert visible in listed and hidden not in listed, listed
        assert kwire.metadata_v1(conn, [hidden, visible]) == {
            hidden: (TOPIC_AUTHORIZATION_FAILED, 0), visible: (0, 1)}
        assert kwire.metadata_v1(conn, [missing]) == {missing: (TOPIC_AUTHORIZATION_FAILED, 0)}
    finally:
        conn.close()
    time.sleep(0.5)
    assert missing not in admin.list_topics(timeout=10).topics


def test_certificate_principal(acl, tmp_path):
    # Kafka (DefaultKafkaPrincipalBuilder): with ssl.client.auth=required the principal is
    # User:<the certificate's subject as X500Principal.getName(), RFC 2253: most specific
    # first>, here User:CN=alice-client,O=krab-tests.  An ACL for that principal lets the
    # client write; one for the same RDNs in the other order is another principal.  Tools
    # take the certificate from ssl.keystore.location (type PEM) in --command-config.
    t = create_topic(acl.plaintext, unique_topic("mtls"))
    ssl_addr, cert = acl.addr["SSL"], acl.cert_client()
    assert acl.certs.client_dn == "CN=alice-client,O=krab-tests"
    assert produce_error(ssl_addr, cert, t) == TOPIC_AUTHORIZATION_FAILED
    acl.acls("--add", "--allow-principal", "User:O=krab-tests,CN=alice-client",
             "--operation", "Write", "--topic", t)
    # bob's ACL, added after the reversed one, shows when the broker has both
    acl.acls("--add", "--allow-principal", "User:bob", "--operation", "Write", "--topic", t)
    eventually(lambda: acl.produce_error("bob", t), lambda e: e == 0, APPLY_S, "bob's ACL")
    assert produce_error(ssl_addr, cert, t) == TOPIC_AUTHORIZATION_FAILED

    out = acl.acls("--add", "--allow-principal", f"User:{acl.certs.client_dn}",
                   "--operation", "Write", "--topic", t)
    assert acl_output(out)[0] == block("Adding ACLs", rp("TOPIC", t),
                                       ace("User:CN=alice-client,O=krab-tests", "WRITE"))
    eventually(lambda: produce_error(ssl_addr, cert, t), lambda e: e == 0, APPLY_S,
               "the certificate's principal allowed")
    assert produce_codes(ssl_addr, t, cert, [b"m-%d" % i for i in range(3)]) == [None] * 3
    assert end_offset(acl.plaintext, t) == 5
    # a tool with the certificate as a PEM keystore in --command-config is that principal:
    # it lists the topic it may Describe (Write implies it), and not the others
    config = client_properties(tmp_path / "cert.properties", cert)
    r = run_krab_cli("topics", "--bootstrap-server", ssl_addr, "--command-config", config,
                     "--list")
    assert r.returncode == 0, r.stderr
    assert t in r.stdout.split(), r.stdout
    other = create_topic(acl.plaintext, unique_topic("mtls-other"))
    r = run_krab_cli("topics", "--bootstrap-server", ssl_addr, "--command-config", config,
                     "--list")
    assert r.returncode == 0 and other not in r.stdout.split(), (r.stdout, r.stderr)


def test_tools_over_sasl_ssl(acl, tmp_path):
    # Kafka's tools take client settings from --command-config (kafka-topics,
    # kafka-consumer-groups, kafka-acls), --producer.config and --consumer.config (console
    # tools): here SASL_SSL with PLAIN (and SCRAM-SHA-512) as admin and the CA as a PEM
    # truststore.  With a wrong
    # password they stop with the broker's authentication error and a non-zero exit.  A user
    # without Create gets "Authorization failed." from kafka-topics --create.
    addr = acl.addr["SASL_SSL"]
    admin = client_properties(tmp_path / "admin-ssl.properties", acl.user("admin", "SASL_SSL"))
    wrong = client_properties(tmp_path / "wrong.properties",
                              acl.user("admin", "SASL_SSL", password="not-the-password"))
    alice = client_properties(tmp_path / "alice-ssl.properties", acl.user("alice", "SASL_SSL"))
    t, g = unique_topic("tools"), unique_topic("tools-g")

    def cli(*args, input=None):
        return wrapper(*args, input=input, timeout=40)

    out = ok(cli("kafka-topics.sh", "--bootstrap-server", addr, "--command-config", admin,
                 "--create", "--topic", t, "--partitions", "1", "--replication-factor", "1"))
    assert f"Created topic {t}." in out
    assert t in ok(cli("kafka-topics.sh", "--bootstrap-server", addr, "--command-config", admin,
                       "--list")).split()
    ok(cli("kafka-console-producer.sh", "--bootstrap-server", addr, "--topic", t,
           "--producer.config", admin, input="one\ntwo\nthree\n"))
    assert end_offset(acl.plaintext, t) == 3
    out = ok(cli("kafka-console-consumer.sh", "--bootstrap-server", addr, "--topic", t,
                 "--from-beginning", "--max-messages", "3", "--group", g,
                 "--consumer.config", admin))
    assert out.splitlines() == ["one", "two", "three"], out
    assert g in ok(cli("kafka-consumer-groups.sh", "--bootstrap-server", addr,
                       "--command-config", admin, "--list")).split()
    out = ok(cli("kafka-acls.sh", "--bootstrap-server", addr, "--command-config", admin,
                 "--list", "--topic", t))
    assert acl_output(out) == []

    for args in (["kafka-topics.sh", "--bootstrap-server", addr, "--command-config", wrong,
                  "--list"],
                 ["kafka-consumer-groups.sh", "--bootstrap-server", addr, "--command-config",
                  wrong, "--list"],
                 ["kafka-acls.sh", "--bootstrap-server", addr, "--command-config", wrong,
                  "--list"],
                 ["kafka-console-consumer.sh", "--bootstrap-server", addr, "--topic", t,
                  "--from-beginning", "--max-messages", "1", "--consumer.config", wrong]):
        r = cli(*args)
        assert r.returncode != 0, f"{args[0]} with a wrong password exited 0: {r.stdout}"
        assert re.search(r"(?i)authentication failed", r.stdout + r.stderr), \
            f"{args[0]}: no authentication error in\n{r.stdout}\n{r.stderr}"
    r = cli("kafka-console-producer.sh", "--bootstrap-server", addr, "--topic", t,
            "--producer.config", wrong, input="must-not-arrive\n")
    assert r.returncode != 0 and re.search(r"(?i)authentication failed", r.stdout + r.stderr), \
        (r.returncode, r.stdout, r.stderr)
    assert end_offset(acl.plaintext, t) == 3

    # SCRAM (ScramLoginModule in sasl.jaas.config): credentials for admin added over PLAINTEXT
    ok(wrapper("kafka-configs.sh", "--bootstrap-server", acl.plaintext, "--alter",
               "--add-config", "SCRAM-SHA-512=[password=admin-secret]", "--entity-type",
               "users", "--entity-name", "admin"))
    scram = client_properties(tmp_path / "admin-scram.properties",
                              Auth("SASL_SSL", "SCRAM-SHA-512", "admin", "admin-secret",
                                   ca=acl.certs.ca_cert))
    assert "ScramLoginModule" in scram.read_text()
    listed = eventually(lambda: cli("kafka-topics.sh", "--bootstrap-server", addr,
                                    "--command-config", scram, "--list"),
                        lambda r: r.returncode == 0, 10, "kafka-topics --list with SCRAM",
                        show=lambda r: r and (r.returncode, r.stderr))
    assert t in listed.stdout.split()

    r = cli("kafka-topics.sh", "--bootstrap-server", addr, "--command-config", alice,
            "--create", "--topic", unique_topic("alice-create"))
    assert r.returncode != 0 and "Authorization failed." in r.stdout + r.stderr, \
        (r.stdout, r.stderr)


def test_transactional_and_idempotent_producers(acl):
    # Kafka (KafkaApis.handleInitProducerIdRequest, 2.8): a transactional producer needs Write
    # on its TransactionalId, else TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53, fatal to the
    # client); with it and Write on the topic the transaction commits.  An idempotent producer
    # (no transactional id) needs IdempotentWrite on the cluster or Write on any topic (KIP-679),
    # else CLUSTER_AUTHORIZATION_FAILED (31).
    t = create_topic(acl.plaintext, unique_topic("txn"))
    txn = unique_topic("txn-id")
    conf = {"bootstrap.servers": acl.sasl, "transactional.id": txn,
            "transaction.timeout.ms": 10000, **acl.user("alice").confluent()}
    p = Producer(conf)
    with pytest.raises(KafkaException) as e:
        p.init_transactions(10)
    assert e.value.args[0].code() == KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, e.value
    del p

    out = acl.acls("--add", "--allow-principal", "User:alice", "--operation", "Write",
                   "--transactional-id", txn)
    assert acl_output(out)[0] == block("Adding ACLs", rp("TRANSACTIONAL_ID", txn),
                                       ace("User:alice", "WRITE"))
    acl.acls("--add", "--allow-principal", "User:alice", "--operation", "Write", "--topic", t)
    eventually(lambda: acl.produce_error("alice", t), lambda err: err == 0, APPLY_S,
               "alice's topic Write")

    p = Producer(conf)
    p.init_transactions(15)
    p.begin_transaction()
    for i in range(3):
        p.produce(t, b"txn-%d" % i, partition=0)
    p.commit_transaction(15)
    # TxnOffsetCommit's AddOffsetsToTxn needs Read on the group as well (30, abortable)
    group = unique_topic("txn-g")
    c = Consumer({"bootstrap.servers": acl.plaintext, "group.id": group})
    p.begin_transaction()
    p.produce(t, b"aborted", partition=0)
    with pytest.raises(KafkaException) as e:
        p.send_offsets_to_transaction([TopicPartition(t, 0, 1)], c.consumer_group_metadata(),
                                      10)
    c.close()
    assert e.value.args[0].code() == KafkaError.GROUP_AUTHORIZATION_FAILED, e.value
    p.abort_transaction(15)
    del p
    c = Consumer({"bootstrap.servers": acl.plaintext, "group.id": unique_topic("rc"),
                  "isolation.level": "read_committed", "enable.auto.commit": False})
    try:
        c.assign([TopicPartition(t, 0, OFFSET_BEGINNING)])
        got, deadline = [], time.monotonic() + 10
        while len(got) < 4 and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                got.append(m.value())
    finally:
        c.close()
    assert got[1:] == [b"txn-0", b"txn-1", b"txn-2"], got

    # idempotence: carol, who may write nowhere yet
    t2 = create_topic(acl.plaintext, unique_topic("idem"))

    def init_pid():
        conn = session(acl.sasl, acl.user("carol"))
        try:
            return kwire.init_producer_id_v0(conn)[0]
        finally:
            conn.close()
    assert init_pid() == CLUSTER_AUTHORIZATION_FAILED
    acl.acls("--add", "--allow-principal", "User:carol", "--operation", "Write", "--topic", t2)
    eventually(init_pid, lambda err: err == 0, APPLY_S, "carol's InitProducerId")
    assert produce_codes(acl.sasl, t2, acl.user("carol"), [b"i-0", b"i-1"],
                         extra={"enable.idempotence": True}) == [None, None]


def admin_error(future, timeout=15):
    """None when an AdminClient future succeeds, else the Kafka error code it fails with."""
    try:
        future.result(timeout)
        return None
    except KafkaException as e:
        return e.args[0].code()


def test_admin_requests_need_their_acls(acl):
    # Kafka (KafkaApis; AuthorizerIntegrationTest.requestKeysToAcls): ListOffsets needs
    # Describe on the topic (as does librdkafka's metadata lookup before DeleteRecords),
    # CreateTopics Create on the cluster or the topic, CreatePartitions Alter,
    # DescribeConfigs DescribeConfigs (implied by AlterConfigs), IncrementalAlterConfigs
    # AlterConfigs, DeleteRecords and DeleteTopics Delete; refused topics answer
    # TOPIC_AUTHORIZATION_FAILED (29).  A broker's configs need DescribeConfigs on the cluster
    # (CLUSTER_AUTHORIZATION_FAILED, 31).
    from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource,
                                       NewPartitions, NewTopic)
    t, _ = topic_with(acl.plaintext, "admin-ops", n=2)
    new = unique_topic("alice-new")
    alice = AdminClient({"bootstrap.servers": acl.sasl, **acl.user("alice").confluent()})
    superuser = AdminClient({"bootstrap.servers": acl.plaintext})
    broker_id = next(iter(superuser.list_topics(timeout=10).brokers))
    topic_res = ConfigResource("TOPIC", t)
    broker_res = ConfigResource("BROKER", str(broker_id))
    tp = TopicPartition(t, 0, 1)

    def list_offsets():
        conn = session(acl.sasl, acl.user("alice"))
        try:
            return kwire.list_offsets_latest_v1(conn, t)
        finally:
            conn.close()
    assert list_offsets()[0] == TOPIC_AUTHORIZATION_FAILED
    assert admin_error(alice.create_topics([NewTopic(new, 1, 1)])[new]) == \
        TOPIC_AUTHORIZATION_FAILED
    assert admin_error(alice.create_partitions([NewPartitions(t, 2)])[t]) == \
        TOPIC_AUTHORIZATION_FAILED
    assert admin_error(alice.describe_configs([topic_res])[topic_res]) == \
        TOPIC_AUTHORIZATION_FAILED
    assert admin_error(alice.describe_configs([broker_res])[broker_res]) == \
        CLUSTER_AUTHORIZATION_FAILED
    assert admin_error(alice.delete_topics([t])[t]) == TOPIC_AUTHORIZATION_FAILED
    assert new not in superuser.list_topics(timeout=10).topics

    # with Describe (librdkafka needs the topic's metadata to send DeleteRecords at all)
    acl.acls("--add", "--allow-principal", "User:alice", "--operation", "Describe", "--topic", t)
    eventually(list_offsets, lambda r: r == (0, 2), APPLY_S, "alice's ListOffsets")
    assert admin_error(next(iter(alice.delete_records([tp]).values()))) == \
        TOPIC_AUTHORIZATION_FAILED
    assert admin_error(alice.create_partitions([NewPartitions(t, 2)])[t]) == \
        TOPIC_AUTHORIZATION_FAILED
    assert admin_error(alice.delete_topics([t])[t]) == TOPIC_AUTHORIZATION_FAILED

    acl.acls("--add", "--allow-principal", "User:alice", "--operation", "Create", "--topic", new)
    acl.acls("--add", "--allow-principal", "User:alice", "--operation", "Alter", "--operation",
             "AlterConfigs", "--operation", "Delete", "--topic", t)
    eventually(lambda: admin_error(alice.create_topics([NewTopic(new, 1, 1)])[new]),
               lambda err: err is None, APPLY_S, "alice's CreateTopics with Create on the topic")
    assert admin_error(alice.create_partitions([NewPartitions(t, 2)])[t]) is None
    wait_until(lambda: len(superuser.list_topics(t, timeout=5).topics[t].partitions) == 2,
               timeout=10, msg=f"{t} with 2 partitions")
    configs = alice.describe_configs([topic_res])[topic_res].result(15)
    assert "retention.ms" in configs
    change = ConfigResource("TOPIC", t, incremental_configs=[ConfigEntry(
        "retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET)])
    assert admin_error(alice.incremental_alter_configs([change])[change]) is None
    assert superuser.describe_configs([topic_res])[topic_res].result(15)["retention.ms"].value \
        == "3600000"
    assert admin_error(alice.describe_configs([broker_res])[broker_res]) == \
        CLUSTER_AUTHORIZATION_FAILED
    assert admin_error(next(iter(alice.delete_records([tp]).values()))) is None
    assert admin_error(alice.delete_topics([t])[t]) is None
    wait_until(lambda: t not in superuser.list_topics(timeout=5).topics, timeout=10,
               msg=f"{t} deleted")


def test_group_admin_requests(acl):
    # Kafka (KafkaApis): ListGroups answers every group to a principal with Describe on the
    # cluster and otherwise only the groups it may Describe; DescribeGroups needs Describe on
    # the group (GROUP_AUTHORIZATION_FAILED, 30, in that group's entry); DeleteGroups needs
    # Delete on the group.  A simple consumer's OffsetCommit (generation -1) needs Read on the
    # group and the topic.
    t = create_topic(acl.plaintext, unique_topic("groups"))
    g1, g2 = unique_topic("g-described"), unique_topic("g-hidden")
    conn = session(acl.sasl, acl.user("admin"))
    try:
        for g in (g1, g2):
            assert offset_commit_v2(conn, g, t, 0) == 0
    finally:
        conn.close()
    acl.acls("--add", "--allow-principal", "User:alice", "--operation", "Describe", "--group", g1)

    def groups(user):
        client = AdminClient({"bootstrap.servers": acl.sasl, **acl.user(user).confluent()})
        return {x.group_id for x in client.list_consumer_groups().result(15).valid}
    seen = eventually(lambda: groups("alice"), lambda s: g1 in s, APPLY_S,
                      "alice listing the group she may Describe")
    assert g2 not in seen, seen
    assert {g1, g2} <= groups("admin")
    assert not {g1, g2} & groups("carol")
    acl.acls("--add", "--allow-principal", "User:carol", "--operation", "Describe", "--cluster")
    eventually(lambda: groups("carol"), lambda s: {g1, g2} <= s, APPLY_S,
               "carol, with Describe on the cluster, listing every group")

    alice = AdminClient({"bootstrap.servers": acl.sasl, **acl.user("alice").confluent()})
    assert admin_error(alice.describe_consumer_groups([g2])[g2]) == GROUP_AUTHORIZATION_FAILED
    assert admin_error(alice.describe_consumer_groups([g1])[g1]) is None
    assert admin_error(alice.delete_consumer_groups([g1])[g1]) == GROUP_AUTHORIZATION_FAILED
    acl.acls("--add", "--allow-principal", "User:alice", "--operation", "Delete", "--group", g1)
    eventually(lambda: admin_error(alice.delete_consumer_groups([g1])[g1]), lambda e: e is None,
               APPLY_S, "alice deleting the group")
    assert g1 not in groups("admin")

    # a simple consumer's commit
    conn = session(acl.sasl, acl.user("bob"))
    try:
        assert offset_commit_v2(conn, g2, t, 0) == GROUP_AUTHORIZATION_FAILED
    finally:
        conn.close()
    acl.acls("--add", "--allow-principal", "User:bob", "--operation", "Read", "--group", g2)

    def bob_commits():
        conn = session(acl.sasl, acl.user("bob"))
        try:
            return offset_commit_v2(conn, g2, t, 0)
        finally:
            conn.close()
    eventually(bob_commits, lambda e: e == TOPIC_AUTHORIZATION_FAILED, APPLY_S,
               "bob's commit refused for the topic once the group is his")
    acl.acls("--add", "--allow-principal", "User:bob", "--operation", "Read", "--topic", t)
    eventually(bob_commits, lambda e: e == 0, APPLY_S, "bob's commit")


def test_authorized_operations(acl):
    # Kafka (KIP-430): Metadata v8+ and DescribeGroups v3+ report the operations the
    # principal may perform: with `--consumer` ACLs alice has READ and DESCRIBE on the topic
    # and on the group; a super user has every operation the resource type supports.
    from confluent_kafka import TopicCollection
    t = create_topic(acl.plaintext, unique_topic("ops"))
    g = unique_topic("ops-g")
    acl.acls("--add", "--allow-principal", "User:alice", "--consumer", "--topic", t,
             "--group", g)

    def commit():
        conn = session(acl.sasl, acl.user("alice"))
        try:
            return offset_commit_v2(conn, g, t, 0)
        finally:
            conn.close()
    eventually(commit, lambda e: e == 0, APPLY_S, "alice's commit (the group exists after it)")

    def ops(user):
        client = AdminClient({"bootstrap.servers": acl.sasl, **acl.user(user).confluent()})
        topic = client.describe_topics(TopicCollection([t]),
                                       include_authorized_operations=True)[t].result(15)
        group = client.describe_consumer_groups([g],
                                                include_authorized_operations=True)[g].result(15)
        return ({o.name for o in topic.authorized_operations or []},
                {o.name for o in group.authorized_operations or []})
    assert ops("alice") == ({"READ", "DESCRIBE"}, {"READ", "DESCRIBE"})
    assert ops("admin") == ({"READ", "WRITE", "CREATE", "DESCRIBE", "DELETE", "ALTER",
                             "DESCRIBE_CONFIGS", "ALTER_CONFIGS"}, {"READ", "DESCRIBE", "DELETE"})


def fetch_as_replica(conn, topic, replica_id):
    """Fetch v4 of partition 0 from offset 0 with ``replica_id``; returns the partition error."""
    body = (kwire.i32(replica_id) + kwire.i32(100) + kwire.i32(1) + kwire.i32(1 << 20)
            + kwire.i8(0) + kwire.array([kwire.string(topic) + kwire.array([
                kwire.i32(0) + kwire.i64(0) + kwire.i32(1 << 20)])]))
    r = conn.call(1, 4, body)
    r.i32()
    r.i32()
    r.string()
    r.i32()
    r.i32()
    return r.i16()


def test_follower_fetch_needs_cluster_action(acl):
    # Kafka (KafkaApis.handleFetchRequest, CVE-2018-1288): a Fetch with a replica id (a
    # follower's) needs ClusterAction on the cluster, whatever the topic ACLs: alice, who may
    # Read the topic, gets TOPIC_AUTHORIZATION_FAILED for it and no data.
    t, _ = topic_with(acl.plaintext, "follower", n=2)
    alice = acl.user("alice")
    acl.acls("--add", "--allow-principal", "User:alice", "--operation", "Read", "--topic", t)
    eventually(lambda: fetch_error(acl.sasl, alice, t), lambda e: e == 0, APPLY_S,
               "alice's consumer Fetch")
    conn = session(acl.sasl, alice)
    try:
        assert fetch_as_replica(conn, t, 7) == TOPIC_AUTHORIZATION_FAILED
    finally:
        conn.close()


def test_auto_create_needs_create(acl):
    # Kafka (KafkaApis.handleTopicMetadataRequest, auto.create.topics.enable=true): a
    # Metadata request naming a missing topic creates it only for a principal with Create on
    # the cluster or the topic (the reason `--producer` grants Create on the topic:
    # EndToEndAuthorizationTest.testProduceConsumeTopicAutoCreateTopicCreateAcl); with only
    # Describe the answer is TOPIC_AUTHORIZATION_FAILED and nothing is created.
    no, yes = unique_topic("auto-no"), unique_topic("auto-yes")
    acl.acls("--add", "--allow-principal", "User:alice", "--operation", "Describe", "--topic", no)
    acl.acls("--add", "--allow-principal", "User:alice", "--producer", "--topic", yes)
    alice = acl.user("alice")

    def metadata(topic):
        conn = session(acl.sasl, alice)
        try:
            return kwire.metadata_v1(conn, [topic])[topic][0]
        finally:
            conn.close()
    eventually(lambda: metadata(yes), lambda e: e in (0, 5), APPLY_S,
               "alice's Metadata auto-creating the topic she may Create")
    assert metadata(no) == TOPIC_AUTHORIZATION_FAILED
    topics = AdminClient({"bootstrap.servers": acl.plaintext}).list_topics(timeout=10).topics
    assert yes in topics and no not in topics
    wait_until(lambda: produce_error(acl.sasl, alice, yes) == 0, timeout=10,
               msg="alice producing to the auto-created topic")


def elect_leaders_v1(conn, topic):
    """ElectLeaders v1 (preferred) for partition 0 of ``topic``; returns the top-level error."""
    body = (kwire.i8(0) + kwire.array([kwire.string(topic) + kwire.array([kwire.i32(0)])])
            + kwire.i32(10000))
    r = conn.call(43, 1, body)
    r.i32()
    return r.i16()


def write_txn_markers_v0(conn, topic, producer_id=424242):
    """WriteTxnMarkers v0 (an abort marker for partition 0); returns the partition's error."""
    body = kwire.array([kwire.i64(producer_id) + kwire.i16(0) + kwire.i8(0) + kwire.array([
        kwire.string(topic) + kwire.array([kwire.i32(0)])]) + kwire.i32(0)])
    r = conn.call(27, 0, body)
    r.i32()
    r.i64()
    r.i32()
    r.string()
    r.i32()
    r.i32()
    return r.i16()


def test_cluster_operations_need_cluster_acls(acl, tmp_path):
    # Kafka (KafkaApis): ElectLeaders needs Alter on the cluster (v1+: top-level
    # CLUSTER_AUTHORIZATION_FAILED), WriteTxnMarkers ClusterAction (every partition 31),
    # DescribeConfigs of a broker DescribeConfigs on the cluster, CreateAcls Alter on the
    # cluster and DescribeAcls Describe on it (implied by Alter).  Alter does not imply
    # ClusterAction.
    from confluent_kafka.admin import ConfigResource
    t = create_topic(acl.plaintext, unique_topic("cluster-ops"))
    broker_id = next(iter(AdminClient({"bootstrap.servers": acl.plaintext})
                          .list_topics(timeout=10).brokers))
    broker_res = ConfigResource("BROKER", str(broker_id))

    def raw(user, fn):
        conn = session(acl.sasl, acl.user(user))
        try:
            return fn(conn)
        finally:
            conn.close()

    def broker_configs(user):
        client = AdminClient({"bootstrap.servers": acl.sasl, **acl.user(user).confluent()})
        return admin_error(client.describe_configs([broker_res])[broker_res])
    for user in ("alice", "carol"):
        assert raw(user, lambda c: elect_leaders_v1(c, t)) == CLUSTER_AUTHORIZATION_FAILED
        assert raw(user, lambda c: write_txn_markers_v0(c, t)) == CLUSTER_AUTHORIZATION_FAILED
    assert broker_configs("carol") == CLUSTER_AUTHORIZATION_FAILED
    assert raw("admin", lambda c: elect_leaders_v1(c, t)) == 0

    acl.acls("--add", "--allow-principal", "User:carol", "--operation", "Alter", "--operation",
             "DescribeConfigs", "--cluster")
    eventually(lambda: raw("carol", lambda c: elect_leaders_v1(c, t)), lambda e: e == 0,
               APPLY_S, "carol's ElectLeaders with Alter on the cluster")
    assert broker_configs("carol") is None
    assert raw("carol", lambda c: write_txn_markers_v0(c, t)) == CLUSTER_AUTHORIZATION_FAILED
    assert raw("alice", lambda c: elect_leaders_v1(c, t)) == CLUSTER_AUTHORIZATION_FAILED
    carol = client_properties(tmp_path / "carol.properties", acl.user("carol"))
    r = acl.acls_run("--add", "--allow-principal", "User:bob", "--operation", "Read",
                     "--topic", t, config=carol)
    assert r.returncode == 0, r.stderr
    assert acl_output(r.stdout)[-1] == block("Current ACLs", rp("TOPIC", t),
                                             ace("User:bob", "READ"))


@pytest.mark.parametrize("authorizer", ["kafka.security.auth.SimpleAclAuthorizer",
                                        "kafka.security.authorizer.AclAuthorizer"])
def test_authorizer_class_names(krab, authorizer):
    # Kafka: both the 2.4+ AclAuthorizer and the 0.9-2.3 SimpleAclAuthorizer enforce ACLs;
    # without super.users and ACLs even PLAINTEXT (User:ANONYMOUS) may not write or create.
    b = krab(overrides={"authorizer.class.name": authorizer, "num.partitions": 1})
    t = unique_topic("class")
    conn = session(b.bootstrap, Auth("PLAINTEXT"))
    try:
        assert kwire.metadata_v1(conn, [t]) == {t: (TOPIC_AUTHORIZATION_FAILED, 0)}
        assert kwire.produce_v3(conn, t, 0, kwire.record_batch([b"x"]))[0] == \
            TOPIC_AUTHORIZATION_FAILED
    finally:
        conn.close()


def test_unknown_authorizer_class_refuses_to_start(krab):
    # Kafka: an authorizer.class.name it cannot load stops the broker at start-up
    # (ClassNotFoundException); krab implements only Kafka's two ACL authorizers.
    k = krab(overrides={"authorizer.class.name": "com.example.RangerKafkaAuthorizer"},
             start=False)
    with pytest.raises(KrabExited) as e:
        k.start(timeout=20)
    assert "authorizer.class.name" in str(e.value), str(e.value)


@pytest.mark.parametrize("args, message", [
    (["--add", "--topic", "t"],
     "You must specify one of: --allow-principal, --deny-principal when trying to add ACLs."),
    (["--add", "--allow-principal", "User:a", "--operation", "ClusterAction", "--topic", "t"],
     "ResourceType TOPIC only supports operations "),
    (["--add", "--allow-principal", "User:a", "--resource-pattern-type", "any", "--topic", "t"],
     "A '--resource-pattern-type' value of 'ANY' is not valid when adding acls."),
    (["--add", "--allow-principal", "User:a", "--producer"],
     "With --producer you must specify a --topic"),
    (["--add", "--allow-principal", "User:a", "--consumer", "--topic", "t"],
     "With --consumer you must specify a --topic and a --group and no --cluster or "
     "--transactional-id option should be specified."),
    (["--add", "--allow-principal", "User:a", "--idempotent", "--topic", "t"],
     "The --idempotent option is only available if --producer is set"),
    (["--add", "--allow-principal", "User:a", "--principal", "User:a", "--topic", "t"],
     "The --principal option is only available if --list is set"),
    (["--list", "--allow-principal", "User:a"],
     'Option "[list]" can\'t be used with option "[allow-principal]"'),
    (["--add", "--allow-principal", "alice", "--topic", "t"],
     "expected a string in format principalType:principalName but got alice"),
], ids=["no-principal", "op-for-type", "pattern-any", "producer-no-topic", "consumer-no-group",
        "idempotent", "principal-not-list", "list-with-principal", "bad-principal"])
def test_acl_command_argument_errors(acl, args, message):
    # Kafka (AclCommand.checkArgs, getResourceToAcls, validateOperation,
    # KafkaPrincipal.fromString): these are refused with these messages and exit code 1,
    # before anything is written.
    r = acl.acls_run(*args)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert message.lower() in (r.stdout + r.stderr).lower(), (r.stdout, r.stderr)
    assert acl_output(acl.acls("--list", "--topic", "t")) == []


def test_without_authorizer_acl_requests_are_security_disabled(krab):
    # Kafka (KafkaApis): without authorizer.class.name, DescribeAcls, CreateAcls and DeleteAcls
    # answer SECURITY_DISABLED (54) "No Authorizer is configured on the broker", which
    # kafka-acls reports (SecurityDisabledException) with a non-zero exit.
    b = krab()
    for args in (["--list"], ["--add", "--allow-principal", "User:a", "--topic", "t"],
                 ["--remove", "--force", "--topic", "t"]):
        r = run_krab_cli("acls", "--bootstrap-server", b.bootstrap, *args)
        assert r.returncode != 0, (args, r.stdout)
        assert "No Authorizer is configured on the broker" in r.stdout + r.stderr, \
            (args, r.stdout, r.stderr)


def test_allow_everyone_wildcards_and_hosts(krab, certs):
    # Kafka (AclAuthorizer): with allow.everyone.if.no.acl.found=true a resource no ACL
    # matches is open to everyone; once one matches (its own, or a wildcard `*` one) only the
    # ACLs decide.  An ACL's host is `*` or must equal the client's address.
    b = krab(overrides=acl_overrides(certs, ZK_LISTENERS, {"allow.everyone.if.no.acl.found":
                                                           "true"}))
    addr = b.listener("SASL_PLAINTEXT")
    admin = client_properties(b.workdir / "admin.properties",
                              Auth("SASL_PLAINTEXT", "PLAIN", "admin", ACL_USERS["admin"]))

    def acls(*args):
        r = run_krab_cli("acls", "--bootstrap-server", addr, "--command-config", admin, *args)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def who(user):
        return Auth("SASL_PLAINTEXT", "PLAIN", user, ACL_USERS[user])
    t, u = (create_topic(b.bootstrap, unique_topic(p)) for p in ("everyone-t", "everyone-u"))
    assert produce_error(addr, who("alice"), t) == 0
    assert produce_error(addr, who("alice"), u) == 0

    acls("--add", "--allow-principal", "User:bob", "--operation", "Write", "--topic", t)
    eventually(lambda: produce_error(addr, who("alice"), t), lambda e: e != 0, APPLY_S,
               "alice refused once the topic has an ACL")
    assert produce_error(addr, who("alice"), t) == TOPIC_AUTHORIZATION_FAILED
    assert produce_error(addr, who("bob"), t) == 0
    assert produce_error(addr, who("alice"), u) == 0

    out = acls("--add", "--allow-principal", "User:carol", "--operation", "Read", "--topic", "*")
    assert acl_output(out)[0] == block("Adding ACLs", rp("TOPIC", "*"), ace("User:carol", "READ"))
    eventually(lambda: produce_error(addr, who("alice"), u), lambda e: e != 0, APPLY_S,
               "alice refused on every topic once a wildcard ACL exists")
    assert produce_error(addr, who("alice"), u) == TOPIC_AUTHORIZATION_FAILED

    acls("--add", "--allow-principal", "User:bob", "--allow-host", "10.1.2.3", "--operation",
         "Write", "--topic", u)
    acls("--add", "--allow-principal", "User:alice", "--allow-host", "127.0.0.1", "--operation",
         "Write", "--topic", u)
    eventually(lambda: produce_error(addr, who("alice"), u), lambda e: e == 0, APPLY_S,
               "alice allowed from 127.0.0.1")
    assert produce_error(addr, who("bob"), u) == TOPIC_AUTHORIZATION_FAILED
    out = acls("--list", "--topic", u)
    assert acl_output(out) == [block("Current ACLs", rp("TOPIC", u),
                                     ace("User:bob", "WRITE", host="10.1.2.3"),
                                     ace("User:alice", "WRITE", host="127.0.0.1"))]


# ---------------------------------------------------------------------------------------------
# ZooKeeper: the tool on the znodes, the broker's reload
# ---------------------------------------------------------------------------------------------
def zk_tool(zookeeper, *args, input=None):
    return wrapper("kafka-acls.sh", "--authorizer-properties",
                   f"zookeeper.connect={zookeeper.hosts}", *args, input=input)


def change_nodes(zk, root):
    """[data] of root/acl_changes_* in sequence order."""
    if not zk.exists(root):
        return []
    names = sorted(c for c in zk.get_children(root) if c.startswith("acl_changes_"))
    for n in names:
        assert re.fullmatch(r"acl_changes_\d{10}", n), n
    return [zk.get(f"{root}/{n}")[0].decode() for n in names]


def test_producer_acl_added_and_removed_through_zookeeper(krab, zk, zookeeper, certs):
    # Kafka (AclCommand with --authorizer-properties zookeeper.connect=..., AclAuthorizer):
    # the tool writes /kafka-acl/Topic/<t> and a /kafka-acl-changes notification; the broker's
    # watch on the change node reloads that resource at once.  `--remove` without --force
    # asks "Are you sure you want to remove ACLs: ... (y/n)" and keeps them on "n"; with
    # --force they go, and the principal's very next requests are refused (the tool returns
    # after writing ZooKeeper; the watch fires within milliseconds).  `--remove --topic T`
    # asks "Are you sure you want to delete all ACLs for resource filter `...`? (y/n)" and on
    # "y" removes them all; the resource's znode is deleted.
    b = krab(mode="zookeeper", overrides=acl_overrides(certs, ZK_LISTENERS))
    addr = b.listener("SASL_PLAINTEXT")
    alice = Auth("SASL_PLAINTEXT", "PLAIN", "alice", ACL_USERS["alice"])
    t = create_topic(b.bootstrap, unique_topic("zk-produce"))
    assert produce_codes(addr, t, alice, [b"denied"]) == [TOPIC_AUTHORIZATION_FAILED]
    assert produce_error(addr, alice, t) == TOPIC_AUTHORIZATION_FAILED

    out = ok(zk_tool(zookeeper, "--add", "--allow-principal", "User:alice", "--producer",
                     "--topic", t))
    acls = [ace("User:alice", op) for op in ("WRITE", "DESCRIBE", "CREATE")]
    assert acl_output(out) == [block("Adding ACLs", rp("TOPIC", t), *acls),
                               block("Current ACLs", rp("TOPIC", t), *acls)]
    added = time.monotonic()
    eventually(lambda: produce_error(addr, alice, t), lambda e: e == 0, 3,
               "alice allowed after the ZooKeeper-written ACL")
    took = time.monotonic() - added
    assert took < 1.5, f"the broker applied the ACL {took:.2f}s after the tool returned"
    assert produce_codes(addr, t, alice, [b"a", b"b"]) == [None, None]
    assert end_offset(b.bootstrap, t) == 3

    r = zk_tool(zookeeper, "--remove", "--allow-principal", "User:alice", "--operation",
                "Write", "--topic", t, input="n\n")
    assert r.returncode == 0, r.stderr
    prompt = (f"Are you sure you want to remove ACLs: \n \t{ace('User:alice', 'WRITE')} \n from "
              f"resource filter `{rp('TOPIC', t)}`? (y/n)\n")
    assert r.stdout.startswith(prompt), r.stdout
    assert produce_error(addr, alice, t) == 0

    conn = session(addr, alice)  # an established connection: every request is authorized
    assert kwire.produce_v3(conn, t, 0, kwire.record_batch([b"before"]))[0] == 0
    r = zk_tool(zookeeper, "--remove", "--force", "--allow-principal", "User:alice",
                "--operation", "Write", "--topic", t)
    removed = time.monotonic()
    assert r.returncode == 0, r.stderr
    left = [ace("User:alice", op) for op in ("DESCRIBE", "CREATE")]
    assert acl_output(r.stdout) == [block("Current ACLs", rp("TOPIC", t), *left)]
    attempts = 0
    try:
        while True:
            err = kwire.produce_v3(conn, t, 0, kwire.record_batch([b"racing"]))[0]
            attempts += 1
            if err != 0:
                break
            assert time.monotonic() - removed < 5, "alice still writes 5 s after the removal"
            time.sleep(0.05)
    finally:
        conn.close()
    took = time.monotonic() - removed
    assert err == TOPIC_AUTHORIZATION_FAILED
    assert took < 1.5, f"alice was refused only {took:.2f}s ({attempts} attempts) after --remove"
    # Describe is still hers: the topic is in her metadata
    conn = session(addr, alice)
    try:
        assert kwire.metadata_v1(conn, [t]) == {t: (0, 1)}
    finally:
        conn.close()
    # --remove without principals removes every ACL of the resource, after asking; the znode
    # goes with the last one
    r = zk_tool(zookeeper, "--remove", "--topic", t, input="y\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("Are you sure you want to delete all ACLs for resource filter "
                        f"`{rp('TOPIC', t)}`? (y/n)\n"), r.stdout
    assert not zk.exists(f"/kafka-acl/Topic/{t}")
    assert change_nodes(zk, "/kafka-acl-changes")[-1] == f"TOPIC:{t}"


def test_list_output_and_znodes(krab, zk, zookeeper, certs, tmp_path):
    # Kafka (AclCommand 2.8, ZkAclStore/ZkAclChangeStore, AclAuthorizer):
    # * each resource's ACLs are /kafka-acl/<Topic|Group>/<name> (prefixed:
    #   /kafka-acl-extended/prefixed/Topic/<prefix>) = {"version":1,"acls":[{"principal",
    #   "permissionType" (Allow/Deny), "operation" (Read/Write...), "host"}]};
    # * each resource changed by one command gets one persistent-sequential
    #   /kafka-acl-changes/acl_changes_NNNNNNNNNN = "TOPIC:<name>" ("GROUP:<name>"), prefixed
    #   ones /kafka-acl-extended-changes/acl_changes_N = {"version":1,"resourceType":"TOPIC",
    #   "name":...,"patternType":"PREFIXED"};
    # * `--list` prints every resource's block (a blank line after each, the last too);
    #   `--list --principal User:alice` heads with "ACLs for principal `User:alice`" and keeps
    #   only alice's entries; the same text through a broker's DescribeAcls.
    t, g, prefix = unique_topic("zk-list"), unique_topic("zk-group"), unique_topic("zkpre") + "-"
    ok(zk_tool(zookeeper, "--add", "--allow-principal", "User:alice", "--allow-principal",
               "User:bob", "--operation", "Read", "--topic", t))
    ok(zk_tool(zookeeper, "--add", "--deny-principal", "User:bob", "--deny-host", "10.0.0.9",
               "--operation", "Write", "--topic", t))
    ok(zk_tool(zookeeper, "--add", "--allow-principal", "User:alice", "--operation", "Read",
               "--group", g))
    ok(zk_tool(zookeeper, "--add", "--allow-principal", "User:alice", "--operation", "Write",
               "--resource-pattern-type", "prefixed", "--topic", prefix))
    topic_acls = [ace("User:alice", "READ"), ace("User:bob", "READ"),
                  ace("User:bob", "WRITE", "DENY", "10.0.0.9")]
    expected = sorted([block("Current ACLs", rp("TOPIC", t), *topic_acls),
                       block("Current ACLs", rp("GROUP", g), ace("User:alice", "READ")),
                       block("Current ACLs", rp("TOPIC", prefix, "PREFIXED"),
                             ace("User:alice", "WRITE"))])
    listed = ok(zk_tool(zookeeper, "--list"))
    assert sorted(acl_output(listed)) == expected, listed

    by_alice = ok(zk_tool(zookeeper, "--list", "--principal", "User:alice"))
    items = acl_output(by_alice)
    assert items[0] == ("ACLs for principal", "User:alice", None), by_alice
    assert sorted(items[1:]) == sorted([
        block("Current ACLs", rp("TOPIC", t), ace("User:alice", "READ")),
        block("Current ACLs", rp("GROUP", g), ace("User:alice", "READ")),
        block("Current ACLs", rp("TOPIC", prefix, "PREFIXED"), ace("User:alice", "WRITE"))])
    one = ok(zk_tool(zookeeper, "--list", "--group", g))
    single = ("Current ACLs for resource `" + rp("GROUP", g) + "`: \n \t"
              + ace("User:alice", "READ") + " \n")

    def entries(path):
        data, _ = json_znode(zk, path)
        assert set(data) == {"version", "acls"} and data["version"] == 1, data
        return sorted(json.dumps(a, sort_keys=True) for a in data["acls"])

    def entry(principal, op, perm="Allow", host="*"):
        return json.dumps({"principal": principal, "permissionType": perm, "operation": op,
                           "host": host}, sort_keys=True)
    assert entries(f"/kafka-acl/Topic/{t}") == sorted([
        entry("User:alice", "Read"), entry("User:bob", "Read"),
        entry("User:bob", "Write", "Deny", "10.0.0.9")])
    assert entries(f"/kafka-acl/Group/{g}") == [entry("User:alice", "Read")]
    assert entries(f"/kafka-acl-extended/prefixed/Topic/{prefix}") == \
        [entry("User:alice", "Write")]
    literal = change_nodes(zk, "/kafka-acl-changes")
    extended = [json.loads(d) for d in change_nodes(zk, "/kafka-acl-extended-changes")]
    assert set(literal) == {f"TOPIC:{t}", f"GROUP:{g}"}, literal
    assert extended and all(e == {"version": 1, "resourceType": "TOPIC", "name": prefix,
                                  "patternType": "PREFIXED"} for e in extended), extended

    # the same listing through a broker on this ZooKeeper (DescribeAcls)
    b = krab(mode="zookeeper", overrides=acl_overrides(certs, ZK_LISTENERS))
    admin = client_properties(tmp_path / "admin.properties",
                              Auth("SASL_PLAINTEXT", "PLAIN", "admin", ACL_USERS["admin"]))
    r = run_krab_cli("acls", "--bootstrap-server", b.listener("SASL_PLAINTEXT"),
                     "--command-config", admin, "--list")
    assert r.returncode == 0, r.stderr
    assert sorted(acl_output(r.stdout)) == expected, r.stdout

    problems = []
    # Kafka's exact bytes: println(s"... $Newline") ends every block with " \n\n", the last
    # one included
    if one != single + "\n":
        problems.append(f"--list --group {g} printed {one!r}; Kafka prints {single + chr(10)!r}")
    # one notification per resource and command (AclAuthorizer.createAcls groups the
    # bindings by resource): 2 commands on the topic, 1 on the group, 1 prefixed
    if sorted(literal) != sorted([f"TOPIC:{t}", f"TOPIC:{t}", f"GROUP:{g}"]) \
            or len(extended) != 1:
        problems.append(f"change notifications: {literal} and {len(extended)} extended; Kafka "
                        f"writes one per resource and command: TOPIC:{t} twice, GROUP:{g} "
                        f"once, 1 extended")
    assert not problems, "\n".join(problems)
    acl_output(listed, exact=True)


def test_malformed_acl_znode_is_ignored(krab, zk, zookeeper, certs):
    # Kafka (AclEntry.fromBytes via Json.parseBytes): a resource znode that is not JSON reads
    # as no ACLs, so it grants nothing and breaks nothing: the broker keeps serving, starts
    # with it, and the other resources' ACLs (and ones added later) apply.  krab reports the
    # znode in its log (Kafka is silent about it).
    b = krab(mode="zookeeper", overrides=acl_overrides(certs, ZK_LISTENERS))
    addr = b.listener("SASL_PLAINTEXT")
    alice = Auth("SASL_PLAINTEXT", "PLAIN", "alice", ACL_USERS["alice"])
    good, bad, later = (create_topic(b.bootstrap, unique_topic(p))
                        for p in ("good", "bad", "later"))
    ok(zk_tool(zookeeper, "--add", "--allow-principal", "User:alice", "--operation", "Write",
               "--topic", good))
    eventually(lambda: produce_error(addr, alice, good), lambda e: e == 0, 3, "alice on good")

    zk.create(f"/kafka-acl/Topic/{bad}",
              b'{"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow",',
              makepath=True)
    zk.create("/kafka-acl-changes/acl_changes_", f"TOPIC:{bad}".encode(), sequence=True,
              makepath=True)
    wait_until(lambda: re.search(rf"(?i)malformed.*{re.escape(bad)}|{re.escape(bad)}.*malformed",
                                 b.stdout_path.read_text(errors="replace")
                                 + b.stderr_path.read_text(errors="replace")),
               timeout=8, msg=f"the broker reporting /kafka-acl/Topic/{bad}")
    assert produce_error(addr, alice, good) == 0
    assert produce_error(addr, alice, bad) == TOPIC_AUTHORIZATION_FAILED
    ok(zk_tool(zookeeper, "--add", "--allow-principal", "User:alice", "--operation", "Write",
               "--topic", later))
    eventually(lambda: produce_error(addr, alice, later), lambda e: e == 0, 3,
               "an ACL added after the malformed znode")
    b.check_alive()

    b.restart()
    addr = b.listener("SASL_PLAINTEXT")
    eventually(lambda: (produce_error(addr, alice, good), produce_error(addr, alice, later),
                        produce_error(addr, alice, bad)),
               lambda v: v == (0, 0, TOPIC_AUTHORIZATION_FAILED), 10,
               "the restarted broker applying the good ACLs")
