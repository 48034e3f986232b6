"""TLS listeners and SASL (PLAIN, SCRAM-SHA-256/512) as real clients and raw sockets see them.

Most tests share one embedded-mode broker (module-scoped ``sec``) with one listener of each
kind: PLAINTEXT; SSL with client certificates required (``listener.name.ssl.ssl.client.auth``);
TLS_OPEN and TLS_REQ, SSL listeners under other names (``listener.security.protocol.map``)
with client certificates not asked for / requested; SASL_PLAINTEXT and SASL_SSL with PLAIN
users from the listeners' JAAS configs and SCRAM users added through
AlterUserScramCredentials (``krab configs --bootstrap-server``).

Covered: produce/consume with confluent-kafka, kcat and kafka-python over each protocol and
pykafka over TLS; mutual TLS refusing missing and foreign certificates; failed logins (wrong
password, unknown user) refused alike, late and with nothing written; the SASL state machine
byte by byte (Kafka's SaslServerAuthenticator: what may come before authentication, handshake
v0 raw tokens and v1 SaslAuthenticate, ILLEGAL_SASL_STATE, frame cap, garbage); the wrong
protocol on a port; Metadata answering with the listener the request came in on;
re-authentication (KIP-368, a second broker with ``connections.max.reauth.ms``); certificate
reload; PKCS#12 and inline PEM keystores; bad security settings refused at startup.  The
brokers run a monitor so logins can be counted in ``krab_authentications_total``.

ZooKeeper-stored SCRAM credentials, two brokers and /brokers/ids are in
test_security_cluster.py.  Each test's comment says what Kafka does."""
import logging
import os
import re
import shutil
import time

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient

import certs as certgen
import kwire
from krabtest import KrabExited, eventually, run_krab_cli, unique_topic, wait_until
from sectest import (ILLEGAL_SASL_STATE, MECHANISMS, ROUNDTRIPS, SASL_AUTHENTICATION_FAILED,
                     SCRAM, UNSUPPORTED_SASL_MECHANISM, Auth, LogCapture, ScramClient,
                     auth_metric, authenticate, authenticated_produce, broker_message, confluent_auth_failure,
                     confluent_roundtrip, connect, create_topic, end_offset,
                     kafka_python_auth_failure, kcat, log_lines_since, login, login_ok,
                     peer_closed, plain_token, pykafka_roundtrip, recv_token, sasl_authenticate,
                     sasl_handshake, security_overrides, send_token, split_addr,
                     tls_api_versions)

LISTENERS = [("PLAINTEXT", "PLAINTEXT"), ("SSL", "SSL"), ("TLS_OPEN", "SSL"), ("TLS_REQ", "SSL"),
             ("SASL_PLAINTEXT", "SASL_PLAINTEXT"), ("SASL_SSL", "SASL_SSL")]
# connection.failed.authentication.delay.ms: long enough to measure, short enough for the suite
FAIL_DELAY_MS = 400
REAUTH_MS = 1500
ALICE_SCRAM = ("SCRAM-SHA-256=[iterations=8192,password=alice-secret],"
               "SCRAM-SHA-512=[password=alice-secret]")
# what a failed login leaves in the broker log (Kafka: "Failed authentication with /127.0.0.1
# (...)" from org.apache.kafka.common.network.Selector, at INFO)
AUTH_FAILURE_LOG = re.compile(r"(?i)failed authentication|authentication failed")


class SecBroker:
    """A running broker and the ``HOST:PORT`` of each of its listeners."""

    def __init__(self, krab, certs, names):
        self.krab = krab
        self.certs = certs
        self.addr = {name: krab.listener(name) for name in names}
        assert self.addr["PLAINTEXT"] == krab.bootstrap, \
            "Krab.bootstrap must be the PLAINTEXT listener"

    @property
    def plaintext(self):
        return self.addr["PLAINTEXT"]

    def plain(self, user="alice", password="alice-secret", protocol="SASL_PLAINTEXT"):
        return Auth(protocol, "PLAIN", user, password,
                    ca=self.certs.ca_cert if protocol == "SASL_SSL" else None)

    def scram(self, mechanism, user="alice", password="alice-secret", protocol="SASL_SSL"):
        return Auth(protocol, mechanism, user, password,
                    ca=self.certs.ca_cert if protocol == "SASL_SSL" else None)

    def tls(self, cert=None):
        """SSL client identity: ``cert`` None (no client certificate), "good" (signed by the
        broker's CA) or "rogue" (same subject, signed by an unrelated CA)."""
        c = self.certs
        pair = {None: (None, None), "good": (c.client_cert, c.client_key),
                "rogue": (c.rogue_client_cert, c.rogue_client_key)}[cert]
        return Auth("SSL", ca=c.ca_cert, cert=pair[0], key=pair[1])

    def stderr_size(self):
        return self.krab.stderr_path.stat().st_size


@pytest.fixture(scope="module")
def sec(krab_module, certs):
    b = krab_module(overrides=security_overrides(certs, LISTENERS, {
        "listener.name.ssl.ssl.client.auth": "required",
        "listener.name.tls_req.ssl.client.auth": "requested",
        "connection.failed.authentication.delay.ms": FAIL_DELAY_MS,
        "monitor.listener": "127.0.0.1:0",
    }))
    return SecBroker(b, certs, [name for name, _ in LISTENERS])


def add_scram_user(bootstrap, user, config):
    r = run_krab_cli("configs", "--bootstrap-server", bootstrap, "--alter", "--add-config",
                     config, "--entity-type", "users", "--entity-name", user)
    assert r.returncode == 0, f"krab configs failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def scram_alice(sec):
    """alice gets SCRAM-SHA-256 and -512 credentials (AlterUserScramCredentials via the users
    tool on the PLAINTEXT listener); waits until both log in."""
    add_scram_user(sec.plaintext, "alice", ALICE_SCRAM)
    for mech in SCRAM:
        wait_until(lambda: login_ok(sec.addr["SASL_PLAINTEXT"], mech, "alice", "alice-secret"),
                   timeout=10, msg=f"alice's {mech} login")
    return "alice"


@pytest.fixture(scope="module")
def victim(sec):
    """A topic with 3 records that the unauthenticated probes try to touch."""
    t = create_topic(sec.plaintext, unique_topic("victim"))
    p = Producer({"bootstrap.servers": sec.plaintext})
    for i in range(3):
        p.produce(t, b"victim-%d" % i, partition=0)
    assert p.flush(15) == 0
    assert end_offset(sec.plaintext, t) == 3
    return t


@pytest.fixture(scope="module")
def serve_topic(sec):
    """Where the after-probe checks produce (an authenticated client still gets served)."""
    return create_topic(sec.plaintext, unique_topic("served"))


def still_serves(sec, topic):
    """A fresh SASL_PLAINTEXT client authenticates and produces, and the TLS listener answers."""
    before = end_offset(sec.plaintext, topic)
    assert authenticated_produce(sec.addr["SASL_PLAINTEXT"], topic) == before
    assert tls_api_versions(sec.addr["TLS_OPEN"], sec.tls())[0] == "ok"
    sec.krab.check_alive()


# ---------------------------------------------------------------------------------------------
# listeners, clients
# ---------------------------------------------------------------------------------------------
def test_every_listener_is_announced(sec):
    # Kafka logs "Awaiting socket connections on <host>:<port>" per endpoint; krab prints one
    # stdout line per listener with its security protocol (custom names resolved via
    # listener.security.protocol.map).
    text = sec.krab.stdout_path.read_text()
    for name, proto in LISTENERS:
        assert re.search(rf"^krab listener {name} \({proto}\) listening on 127\.0\.0\.1:\d+$",
                         text, re.M), f"no listener line for {name} ({proto}):\n{text}"
    ports = [split_addr(a)[1] for a in sec.addr.values()]
    assert len(set(ports)) == len(LISTENERS), sec.addr


@pytest.mark.parametrize("client", ["confluent", "kcat", "kafka_python"])
def test_plain_on_sasl_plaintext(sec, client):
    # Kafka: PLAIN users are the user_<name>="<password>" entries of the listener's JAAS
    # config (listener.name.sasl_plaintext.plain.sasl.jaas.config); the server answers the
    # PLAIN token with an empty token and the connection then serves every API.
    t = create_topic(sec.plaintext, unique_topic(f"plain-{client}"))
    ROUNDTRIPS[client](sec.addr["SASL_PLAINTEXT"], t, sec.plain())
    # the JAAS config's other user too
    assert login_ok(sec.addr["SASL_PLAINTEXT"], "PLAIN", "admin", "admin-secret")


@pytest.mark.parametrize("client", ["confluent", "kafka_python"])
@pytest.mark.parametrize("mechanism", SCRAM)
def test_scram_on_sasl_ssl(sec, scram_alice, mechanism, client):
    # Kafka: SCRAM credentials added with AlterUserScramCredentials (KIP-554) log in at once
    # over SASL_SSL; the client checks the server's signature (server-final v=...).
    t = create_topic(sec.plaintext, unique_topic(f"scram-{client}"))
    ROUNDTRIPS[client](sec.addr["SASL_SSL"], t, sec.scram(mechanism))


def test_plain_on_sasl_ssl_with_kcat(sec):
    # Kafka: the SASL_SSL listener's own JAAS config (listener.name.sasl_ssl.plain...) serves
    # PLAIN inside TLS.
    t = create_topic(sec.plaintext, unique_topic("plain-ssl-kcat"))
    ROUNDTRIPS["kcat"](sec.addr["SASL_SSL"], t, sec.plain(protocol="SASL_SSL"))


def test_users_tool_with_bootstrap_server(sec):
    # Kafka (ConfigCommand, KIP-554): `kafka-configs --bootstrap-server B --alter --add-config
    # 'SCRAM-SHA-256=[iterations=8192,password=...]' --entity-type users --entity-name bob`
    # salts and hashes on the client and sends AlterUserScramCredentials; iterations default
    # to 4096; --describe prints "SCRAM credential configs for user-principal 'bob' are
    # SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096"; --delete-config
    # SCRAM-SHA-256 removes one mechanism, and new logins with it fail.
    addr, tls = sec.addr["SASL_SSL"], sec.tls()
    add_scram_user(sec.plaintext, "bob", "SCRAM-SHA-256=[iterations=8192,password=bob-secret],"
                                         "SCRAM-SHA-512=[password=bob-secret]")

    def described():
        r = run_krab_cli("configs", "--bootstrap-server", sec.plaintext, "--describe",
                         "--entity-type", "users", "--entity-name", "bob")
        assert r.returncode == 0, r.stderr
        m = re.search(r"^SCRAM credential configs for user-principal 'bob' are (.*)$",
                      r.stdout, re.M)
        assert m, r.stdout
        return dict(item.split("=iterations=") for item in m.group(1).split(", "))

    assert described() == {"SCRAM-SHA-256": "8192", "SCRAM-SHA-512": "4096"}
    for mech in SCRAM:
        wait_until(lambda: login_ok(addr, mech, "bob", "bob-secret", tls), timeout=10,
                   msg=f"bob's {mech} login over SASL_SSL")
    t = create_topic(sec.plaintext, unique_topic("bob"))
    confluent_roundtrip(addr, t, sec.scram("SCRAM-SHA-512", "bob", "bob-secret"))
    assert not login_ok(addr, "SCRAM-SHA-256", "bob", "alice-secret", tls)

    r = run_krab_cli("configs", "--bootstrap-server", sec.plaintext, "--alter",
                     "--delete-config", "SCRAM-SHA-256", "--entity-type", "users",
                     "--entity-name", "bob")
    assert r.returncode == 0, r.stderr
    assert described() == {"SCRAM-SHA-512": "4096"}
    wait_until(lambda: not login_ok(addr, "SCRAM-SHA-256", "bob", "bob-secret", tls),
               timeout=10, msg="bob's SCRAM-SHA-256 login refused after --delete-config")
    assert login_ok(addr, "SCRAM-SHA-512", "bob", "bob-secret", tls)


@pytest.mark.parametrize("client", ["confluent", "kcat", "kafka_python"])
def test_mutual_tls(sec, client):
    # Kafka: with ssl.client.auth=required (here per listener: listener.name.ssl.ssl.client.auth)
    # a client presenting a certificate that chains to the truststore is served; its principal
    # is the certificate's subject, User:CN=alice-client,O=krab-tests.
    t = create_topic(sec.plaintext, unique_topic(f"mtls-{client}"))
    ROUNDTRIPS[client](sec.addr["SSL"], t, sec.tls("good"))


def test_mutual_tls_refuses_missing_and_foreign_certificates(sec, serve_topic):
    # Kafka: with ssl.client.auth=required the TLS handshake fails for a client with no
    # certificate and for one whose certificate does not chain to ssl.truststore (here: the
    # same subject signed by another CA); nothing reaches the request layer.  Other
    # connections are unaffected.
    addr = sec.addr["SSL"]
    t = create_topic(sec.plaintext, unique_topic("mtls-refused"))
    for which in (None, "rogue"):
        verdict, why = tls_api_versions(addr, sec.tls(which))
        assert verdict == "refused", f"client certificate {which!r} was accepted"

        errors = confluent_auth_failure(addr, t, sec.tls(which), codes={
            KafkaError._TRANSPORT, KafkaError._SSL, KafkaError._ALL_BROKERS_DOWN,
            KafkaError._AUTHENTICATION})
        assert errors
        p = kcat("-P", "-b", addr, "-t", t, "-X", "message.timeout.ms=3000",
                 *sec.tls(which).kcat(), input="must-not-arrive\n", timeout=30)
        assert p.returncode != 0, f"kcat produced with client certificate {which!r}"
    from kafka import KafkaProducer
    from kafka.errors import KafkaError as KafkaPythonError
    with pytest.raises(KafkaPythonError):
        KafkaProducer(bootstrap_servers=addr, bootstrap_timeout_ms=1500, max_block_ms=1500,
                      **sec.tls(None).kafka_python())
    assert end_offset(sec.plaintext, t) == 0

    assert tls_api_versions(addr, sec.tls("good"))[0] == "ok"
    confluent_roundtrip(addr, t, sec.tls("good"))
    still_serves(sec, serve_topic)


def test_client_auth_requested_and_none(sec):
    # Kafka: ssl.client.auth=requested asks for a certificate but serves a client that sends
    # none; a certificate that is sent must verify.  =none (the default, TLS_OPEN here) never
    # asks, so a client certificate is not even sent.  Every listener presents the keystore's
    # certificate.
    server_der = certgen.der(sec.certs.server.cert)
    assert tls_api_versions(sec.addr["TLS_REQ"], sec.tls()) == ("ok", server_der)
    assert tls_api_versions(sec.addr["TLS_REQ"], sec.tls("good")) == ("ok", server_der)
    assert tls_api_versions(sec.addr["TLS_REQ"], sec.tls("rogue"))[0] == "refused"
    assert tls_api_versions(sec.addr["TLS_OPEN"], sec.tls()) == ("ok", server_der)
    assert tls_api_versions(sec.addr["TLS_OPEN"], sec.tls("rogue")) == ("ok", server_der)
    assert tls_api_versions(sec.addr["SSL"], sec.tls("good")) == ("ok", server_der)
    # a client that does not trust the broker's CA refuses the broker
    assert tls_api_versions(sec.addr["TLS_OPEN"],
                            Auth("SSL", ca=sec.certs.other_ca_cert))[0] == "refused"


@pytest.mark.parametrize("listener", ["TLS_OPEN", "SSL"])
def test_pykafka_over_tls(sec, listener):
    # Kafka: a TLS listener serves old clients like any other (pykafka 2.8: no ApiVersions,
    # Metadata v0, Produce v0, Fetch v1; it has no SASL).  Metadata over the TLS listener
    # names the TLS listener's address, which pykafka then dials with the same SslConfig.
    from pykafka.connection import SslConfig
    c = sec.certs
    cfg = (SslConfig(cafile=str(c.ca_cert)) if listener == "TLS_OPEN" else
           SslConfig(cafile=str(c.ca_cert), certfile=str(c.client_cert), keyfile=str(c.client_key)))
    t = create_topic(sec.plaintext, unique_topic(f"pykafka-{listener.lower()}"))
    pykafka_roundtrip(sec.addr[listener], t, cfg)


def test_metadata_lists_the_listener_of_the_request(sec, scram_alice):
    # Kafka (KafkaApis.handleTopicMetadataRequest): brokers are listed with their endpoint for
    # the listener the request arrived on, so each client keeps using the protocol it
    # bootstrapped with.
    identities = {"PLAINTEXT": Auth(), "SSL": sec.tls("good"), "TLS_OPEN": sec.tls(),
                  "TLS_REQ": sec.tls(), "SASL_PLAINTEXT": sec.plain(),
                  "SASL_SSL": sec.scram("SCRAM-SHA-256")}
    for name, auth in identities.items():
        admin = AdminClient({"bootstrap.servers": sec.addr[name], **auth.confluent()})
        md = admin.list_topics(timeout=10)
        got = sorted((b.host, b.port) for b in md.brokers.values())
        assert got == [split_addr(sec.addr[name])], f"Metadata via {name}: {got}"
    # and by hand, on an authenticated raw connection
    lg = login(sec.addr["SASL_PLAINTEXT"], "PLAIN", "alice", "alice-secret")
    r = lg.conn.call(3, 1, kwire.array([]))
    brokers = [(r.i32(), r.string(), r.i32(), r.string()) for _ in range(r.i32())]
    lg.conn.close()
    assert [(h, p) for _, h, p, _ in brokers] == [split_addr(sec.addr["SASL_PLAINTEXT"])]


# ---------------------------------------------------------------------------------------------
# failed logins
# ---------------------------------------------------------------------------------------------
BAD = {"wrong password": ("alice", "not-the-password"),
       "unknown user": ("mallory", "alice-secret")}


@pytest.mark.parametrize("mechanism,listener", [("PLAIN", "SASL_PLAINTEXT"),
                                                ("SCRAM-SHA-256", "SASL_SSL"),
                                                ("SCRAM-SHA-512", "SASL_PLAINTEXT")])
def test_bad_credentials_refused_alike(sec, scram_alice, serve_topic, mechanism, listener):
    # Kafka (SaslServerAuthenticator): a failed login gets SASL_AUTHENTICATION_FAILED (58) with
    # a message that does not say why: PLAIN answers "Authentication failed: Invalid username
    # or password" for both cases; SCRAM fails an unknown user at the client-first message and
    # a wrong password at the client-final one, both with "Authentication failed during
    # authentication due to invalid credentials with SASL mechanism SCRAM-SHA-...".  The
    # answer is held back connection.failed.authentication.delay.ms (Selector's delayed close
    # sends it), then the connection is closed; the broker logs "Failed authentication with
    # /127.0.0.1 (...)".
    addr = sec.addr[listener]
    tls = sec.tls() if listener == "SASL_SSL" else None
    start = sec.stderr_size()
    failures_before = auth_metric(sec.krab, listener, mechanism, "failure")
    messages = {}
    for case, (user, password) in BAD.items():
        lg = login(addr, mechanism, user, password, tls)
        assert lg.response.error == SASL_AUTHENTICATION_FAILED, (case, lg.response)
        msg = lg.response.message
        assert msg, f"{case}: no error message"
        assert user not in msg and password not in msg, f"{case}: message reveals {msg!r}"
        assert lg.elapsed >= FAIL_DELAY_MS / 1000 * 0.8, \
            f"{case}: failure answered after {lg.elapsed:.3f}s, before the {FAIL_DELAY_MS} ms delay"
        closed, extra = peer_closed(lg.conn, 3)
        assert closed and extra == b"", f"{case}: connection not closed after the failure"
        messages[case] = msg
    assert messages["wrong password"] == messages["unknown user"], messages

    def logged():
        return log_lines_since(sec.krab.stderr_path, start, AUTH_FAILURE_LOG)
    eventually(logged, lambda ls: len(ls) >= 2, 5, "two failed-authentication log lines")
    text = sec.krab.stderr_path.read_text(errors="replace")
    assert "not-the-password" not in text, "a password reached the broker log"
    # krab_authentications_total{listener, mechanism, result="failure"} counts both
    eventually(lambda: auth_metric(sec.krab, listener, mechanism, "failure") - failures_before,
               lambda n: n >= 2, 5, "two failures in krab_authentications_total")
    still_serves(sec, serve_topic)


@pytest.mark.parametrize("mechanism,listener", [("PLAIN", "SASL_PLAINTEXT"),
                                                ("SCRAM-SHA-256", "SASL_SSL")])
def test_clients_with_bad_credentials_write_nothing(sec, scram_alice, mechanism, listener):
    # Kafka: librdkafka reports the failure as an authentication error carrying the broker's
    # message ("SASL authentication error: <message> (after ...)"); kafka-python 3 fails every
    # connection at SaslAuthenticate and never bootstraps.  No record of either reaches the
    # log.
    addr = sec.addr[listener]
    t = create_topic(sec.plaintext, unique_topic(f"badcred-{mechanism.lower()}"))
    seen = {}
    for case, (user, password) in BAD.items():
        auth = (sec.plain(user, password) if mechanism == "PLAIN"
                else sec.scram(mechanism, user, password, protocol=listener))
        errors = confluent_auth_failure(addr, t, auth)
        seen[case] = {broker_message(e.str()) for e in errors}
        if case == "wrong password":
            kafka_python_auth_failure(addr, auth)
    assert seen["wrong password"] == seen["unknown user"], seen
    assert end_offset(sec.plaintext, t) == 0
    good = sec.plain() if mechanism == "PLAIN" else sec.scram(mechanism, protocol=listener)
    confluent_roundtrip(addr, t, good, n=3)


# ---------------------------------------------------------------------------------------------
# the SASL state machine, by hand (SASL_PLAINTEXT listener)
# ---------------------------------------------------------------------------------------------
def _pre_auth_requests(victim, fresh):
    s, i8, i16, i32, i64, arr = (kwire.string, kwire.i8, kwire.i16, kwire.i32, kwire.i64,
                                 kwire.array)
    batch = kwire.record_batch([b"unauthenticated"])
    return {
        "Produce v3": (0, 3, s(None) + i16(1) + i32(5000)
                       + arr([s(victim) + arr([i32(0) + kwire.nbytes(batch)])])),
        "Fetch v4": (1, 4, i32(-1) + i32(100) + i32(1) + i32(1 << 20) + i8(0)
                     + arr([s(victim) + arr([i32(0) + i64(0) + i32(1 << 20)])])),
        "Metadata v1": (3, 1, arr([s(fresh)])),  # would auto-create `fresh`
        "ListOffsets v1": (2, 1, i32(-1) + arr([s(victim) + arr([i32(0) + i64(-1)])])),
        "OffsetCommit v2": (8, 2, s("probe-group") + i32(-1) + s("") + i64(-1)
                            + arr([s(victim) + arr([i32(0) + i64(2) + s(None)])])),
        "FindCoordinator v1": (10, 1, s("probe-group") + i8(0)),
        "JoinGroup v2": (11, 2, s("probe-group") + i32(10000) + i32(10000) + s("")
                         + s("consumer") + arr([s("range") + kwire.nbytes(b"")])),
        "CreateTopics v2": (19, 2, arr([s(fresh) + i32(1) + i16(1) + arr([]) + arr([])])
                            + i32(5000) + i8(0)),
        "DeleteTopics v1": (20, 1, arr([s(victim)]) + i32(5000)),
        "InitProducerId v0": (22, 0, s(None) + i32(60000)),
        "DescribeConfigs v0": (32, 0, arr([i8(2) + s(victim) + i32(-1)])),
        "SaslAuthenticate v0": (36, 0, kwire.nbytes(plain_token("alice", "alice-secret"))),
    }


PRE_AUTH = list(_pre_auth_requests("t", "f"))


def slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


@pytest.mark.parametrize("request_name", PRE_AUTH, ids=slug)
def test_request_before_authentication_closes_without_response(sec, victim, serve_topic,
                                                              request_name):
    # Kafka (SaslServerAuthenticator.handleKafkaRequest): before authentication only
    # ApiVersions and SaslHandshake are read; any other API key is an InvalidRequestException
    # and the connection is closed at once with no response
    # (SaslAuthenticatorTest.testDisallowedKafkaRequestsBeforeAuthentication).  Nothing the
    # request asked for happens.
    fresh = unique_topic("never")
    api_key, version, body = _pre_auth_requests(victim, fresh)[request_name]
    c = connect(sec.addr["SASL_PLAINTEXT"])
    data, _ = c.request_bytes(api_key, version, body)
    c.send_raw(data)
    closed, got = peer_closed(c, 3)
    c.close()
    assert closed, f"{request_name} before authentication: connection left open"
    assert got == b"", f"{request_name} before authentication was answered: {got[:64]!r}"

    admin = AdminClient({"bootstrap.servers": sec.plaintext})
    topics = admin.list_topics(timeout=10).topics
    assert fresh not in topics, f"{request_name} created a topic"
    assert victim in topics, f"{request_name} deleted a topic"
    assert end_offset(sec.plaintext, victim) == 3
    if request_name == "OffsetCommit v2":
        from confluent_kafka import Consumer, TopicPartition
        cons = Consumer({"bootstrap.servers": sec.plaintext, "group.id": "probe-group"})
        (tp,) = cons.committed([TopicPartition(victim, 0)], timeout=10)
        cons.close()
        assert tp.offset < 0, f"unauthenticated OffsetCommit stored offset {tp.offset}"
    still_serves(sec, serve_topic)


def test_api_versions_before_authentication(sec, serve_topic):
    # Kafka: ApiVersions may come first (once) and is answered before authentication, listing
    # SaslHandshake 0-1 (never more: clients up to 2.4 mis-negotiate, KAFKA-9577) and
    # SaslAuthenticate from v0 (2.8: 0-2); the handshake may follow on the same connection.
    c = connect(sec.addr["SASL_PLAINTEXT"])
    err, apis = kwire.api_versions_v0(c)
    assert err == 0
    assert apis.get(17) == (0, 1), apis.get(17)
    assert 36 in apis and apis[36][0] == 0 and apis[36][1] >= 1, apis.get(36)
    resp = authenticate(c, "PLAIN", "alice", "alice-secret", version=1)
    assert resp.error == 0 and resp.auth_bytes == b"", resp
    # no connections.max.reauth.ms on this broker: SessionLifetimeMs 0
    assert resp.session_lifetime_ms == 0, resp
    err, base = kwire.produce_v3(c, serve_topic, 0, kwire.record_batch([b"after-apiversions"]))
    assert err == 0
    c.close()


@pytest.mark.parametrize("mechanism,version", [("GSSAPI", 1), ("GSSAPI", 0), ("OAUTHBEARER", 1),
                                               ("SCRAM-SHA-1", 1), ("plain", 1)])
def test_unsupported_mechanism(sec, serve_topic, mechanism, version):
    # Kafka: a SaslHandshake naming a mechanism outside sasl.enabled.mechanisms (names are
    # case-sensitive) gets UNSUPPORTED_SASL_MECHANISM (33) with the enabled list, then the
    # connection is closed.
    c = connect(sec.addr["SASL_PLAINTEXT"])
    err, mechs = sasl_handshake(c, mechanism, version)
    assert err == UNSUPPORTED_SASL_MECHANISM, (err, mechs)
    assert sorted(mechs) == sorted(MECHANISMS)
    closed, extra = peer_closed(c, 3)
    assert closed and extra == b""
    still_serves(sec, serve_topic)


@pytest.mark.parametrize("probe", ["Metadata v1", "ListOffsets v1", "SaslHandshake v1"])
def test_other_request_after_handshake_v1_is_illegal_sasl_state(sec, victim, serve_topic, probe):
    # Kafka (SaslServerAuthenticator.handleSaslToken): after SaslHandshake v1 only
    # SaslAuthenticate may come; any other request is parsed and answered with that API's
    # error response carrying ILLEGAL_SASL_STATE (34) (Metadata: each requested topic with
    # error 34 and no partitions), then the connection is closed.
    c = connect(sec.addr["SASL_PLAINTEXT"])
    assert sasl_handshake(c, "PLAIN", 1)[0] == 0
    if probe == "Metadata v1":
        assert kwire.metadata_v1(c, [victim]) == {victim: (ILLEGAL_SASL_STATE, 0)}
    elif probe == "ListOffsets v1":
        assert kwire.list_offsets_latest_v1(c, victim)[0] == ILLEGAL_SASL_STATE
    else:
        assert sasl_handshake(c, "PLAIN", 1)[0] == ILLEGAL_SASL_STATE
    closed, extra = peer_closed(c, 3)
    assert closed and extra == b"", f"connection not closed after {probe} (got {extra[:40]!r})"
    still_serves(sec, serve_topic)


def test_handshake_v0_then_raw_plain_token(sec, victim):
    # Kafka: after SaslHandshake v0 the tokens travel as bare size-prefixed frames without a
    # request header (librdkafka with old brokers, kafka-python 2.0); PLAIN's empty server
    # token still goes out, as 00 00 00 00; then the connection serves Kafka requests.
    c = connect(sec.addr["SASL_PLAINTEXT"])
    err, mechs = sasl_handshake(c, "PLAIN", 0)
    assert err == 0 and "PLAIN" in mechs
    send_token(c, plain_token("alice", "alice-secret"))
    assert c.recv_exact(4) == b"\x00\x00\x00\x00"
    md = kwire.metadata_v1(c, [victim])
    assert md == {victim: (0, 1)}
    assert kwire.list_offsets_latest_v1(c, victim) == (0, 3)
    c.close()


@pytest.mark.parametrize("mechanism", SCRAM)
def test_handshake_v0_then_raw_scram_tokens(sec, scram_alice, victim, mechanism):
    # Kafka: SCRAM's client-first / server-first / client-final / server-final exchange runs as
    # raw frames after a v0 handshake just as inside SaslAuthenticate.
    c = connect(sec.addr["SASL_PLAINTEXT"])
    assert sasl_handshake(c, mechanism, 0)[0] == 0
    client = ScramClient(mechanism, "alice", "alice-secret")
    send_token(c, client.first())
    server_first = recv_token(c)
    assert server_first.startswith(b"r=" + client.nonce.encode()), server_first
    send_token(c, client.final(server_first))
    assert client.server_final_ok(recv_token(c))
    assert kwire.metadata_v1(c, [victim]) == {victim: (0, 1)}
    c.close()


@pytest.mark.parametrize("mechanism", SCRAM)
def test_scram_final_nonce_as_older_librdkafka_sends_it(sec, scram_alice, mechanism):
    # librdkafka before 2.6.1 (Debian's kcat: 2.0.2; confluent-kafka < 2.6.1) echoes the
    # combined nonce with its own nonce once more in front (confluentinc/librdkafka#4895).
    # Kafka 2.8 did not check the echoed nonce; 3.8.1 and 3.9 (CVE-2024-56128) check that it
    # ends with the server's combined nonce, which these clients pass; a nonce that does not
    # is refused (SASL_AUTHENTICATION_FAILED, see test_garbage_before_authentication).
    c = connect(sec.addr["SASL_PLAINTEXT"])
    assert sasl_handshake(c, mechanism, 1)[0] == 0
    client = ScramClient(mechanism, "alice", "alice-secret")
    first = sasl_authenticate(c, client.first(), 1)
    assert first.error == 0, first
    final = sasl_authenticate(c, client.final(first.auth_bytes, librdkafka_nonce=True), 1)
    assert final.error == 0, final
    assert client.server_final_ok(final.auth_bytes)
    c.close()


GARBAGE = ["not a Kafka request", "PLAIN token without separators", "PLAIN authzid differs",
           "SCRAM client-first garbage", "SCRAM client-final garbage", "raw token garbage (v0)",
           "raw token bad password (v0)", "second ApiVersions", "oversized frame",
           "oversized frame after handshake"]


@pytest.mark.parametrize("case", GARBAGE, ids=slug)
def test_garbage_before_authentication(sec, scram_alice, serve_topic, case):
    # Kafka (SaslServerAuthenticator, PlainSaslServer, ScramSaslServer):
    # - a first frame that is no Kafka request (e.g. a GSSAPI token, 0x60...) is an
    #   InvalidRequestException: closed, no response;
    # - a malformed PLAIN or SCRAM token, or a PLAIN authzid other than the user
    #   (CVE-2017-12610), inside SaslAuthenticate: SASL_AUTHENTICATION_FAILED (58), closed;
    # - after a v0 handshake there is no error frame to send: a bad raw token just closes;
    # - ApiVersions a second time: IllegalStateException, closed without response;
    # - a frame size over 524288 bytes (sasl.server.max.receive.size) before authentication
    #   fails it without reading the body (only the 4-byte prefix is sent here: a broker that
    #   waited for the body would never close).
    c = connect(sec.addr["SASL_PLAINTEXT"])
    expect_58 = False
    if case == "not a Kafka request":
        c.send_raw(kwire.i32(24) + b"\x60\x82\x01\x00" + os.urandom(20))
    elif case == "PLAIN token without separators":
        assert sasl_handshake(c, "PLAIN", 1)[0] == 0
        expect_58 = sasl_authenticate(c, b"alice alice-secret", 0)
    elif case == "PLAIN authzid differs":
        assert sasl_handshake(c, "PLAIN", 1)[0] == 0
        expect_58 = sasl_authenticate(c, plain_token("alice", "alice-secret", authzid="admin"), 0)
    elif case == "SCRAM client-first garbage":
        assert sasl_handshake(c, "SCRAM-SHA-256", 1)[0] == 0
        expect_58 = sasl_authenticate(c, b"\xff\xfe\x00garbage,,,", 0)
    elif case == "SCRAM client-final garbage":
        assert sasl_handshake(c, "SCRAM-SHA-256", 1)[0] == 0
        client = ScramClient("SCRAM-SHA-256", "alice", "alice-secret")
        first = sasl_authenticate(c, client.first(), 0)
        assert first.error == 0, first
        expect_58 = sasl_authenticate(c, b"c=biws,r=not-the-nonce,p=AAAA", 0)
    elif case == "raw token garbage (v0)":
        assert sasl_handshake(c, "PLAIN", 0)[0] == 0
        send_token(c, os.urandom(40).replace(b"\x00", b"\x01"))
    elif case == "raw token bad password (v0)":
        assert sasl_handshake(c, "PLAIN", 0)[0] == 0
        send_token(c, plain_token("alice", "not-the-password"))
    elif case == "second ApiVersions":
        assert kwire.api_versions_v0(c)[0] == 0
        data, _ = c.request_bytes(18, 0, b"")
        c.send_raw(data)
    elif case == "oversized frame":
        c.send_raw(kwire.i32(600_000))
    elif case == "oversized frame after handshake":
        assert sasl_handshake(c, "PLAIN", 1)[0] == 0
        c.send_raw(kwire.i32(600_000))
    else:
        raise AssertionError(case)
    if expect_58:
        assert expect_58.error == SASL_AUTHENTICATION_FAILED, expect_58
    closed, extra = peer_closed(c, 3)
    c.close()
    assert closed, f"{case}: connection left open"
    assert extra == b"", f"{case}: unexpected bytes {extra[:64]!r}"
    still_serves(sec, serve_topic)


def test_sasl_requests_after_authentication(sec, serve_topic):
    # Kafka: once authenticated, and with no session lifetime (connections.max.reauth.ms=0),
    # SaslHandshake and SaslAuthenticate reach KafkaApis, which answers ILLEGAL_SASL_STATE
    # (34) and keeps the connection; the same on a PLAINTEXT listener.
    lg = login(sec.addr["SASL_PLAINTEXT"], "PLAIN", "alice", "alice-secret")
    assert lg.ok, lg.response
    c = lg.conn
    assert sasl_handshake(c, "PLAIN", 1)[0] == ILLEGAL_SASL_STATE
    assert kwire.metadata_v1(c, [serve_topic])[serve_topic][0] == 0
    assert sasl_authenticate(c, plain_token("alice", "alice-secret"), 0).error == ILLEGAL_SASL_STATE
    assert kwire.metadata_v1(c, [serve_topic])[serve_topic][0] == 0
    c.close()
    p = connect(sec.plaintext)
    assert sasl_handshake(p, "PLAIN", 1)[0] == ILLEGAL_SASL_STATE
    assert kwire.metadata_v1(p, [serve_topic])[serve_topic][0] == 0
    p.close()


# ---------------------------------------------------------------------------------------------
# the wrong protocol on a port
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("listener", ["SSL", "TLS_OPEN", "SASL_SSL"])
def test_plaintext_client_on_tls_port(sec, serve_topic, listener):
    # Kafka: a TLS listener takes the first bytes for a TLS record; a Kafka request is not
    # one, so the handshake fails and the connection is closed (at most a TLS alert comes
    # back, never a Kafka response).
    c = connect(sec.addr[listener])
    data, corr = c.request_bytes(18, 0, b"")
    c.send_raw(data)
    closed, got = peer_closed(c, 5)
    c.close()
    assert closed, f"{listener}: plaintext ApiVersions left the connection open"
    assert not (len(got) >= 8 and got[4:8] == kwire.i32(corr)), \
        f"{listener} answered a plaintext request: {got[:32]!r}"
    assert not got or got[0] == 0x15, f"{listener}: not a TLS alert: {got[:16]!r}"
    still_serves(sec, serve_topic)


@pytest.mark.parametrize("listener", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_tls_client_on_plaintext_port(sec, serve_topic, listener):
    # Kafka: a ClientHello's first four bytes (16 03 01 xx) read as a frame size of ~370 MB,
    # over socket.request.max.bytes (and over the 512 KiB pre-authentication cap on a SASL
    # listener), so the connection is closed and the client's handshake fails.
    verdict, why = tls_api_versions(sec.addr[listener], sec.tls())
    assert verdict == "refused", f"TLS handshake succeeded on {listener}"
    still_serves(sec, serve_topic)


# ---------------------------------------------------------------------------------------------
# re-authentication (KIP-368)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reauth(krab_module, certs):
    listeners = [("PLAINTEXT", "PLAINTEXT"), ("SASL_PLAINTEXT", "SASL_PLAINTEXT"),
                 ("SASL_SSL", "SASL_SSL")]
    b = krab_module(overrides=security_overrides(certs, listeners, {
        "connections.max.reauth.ms": REAUTH_MS, "monitor.listener": "127.0.0.1:0"}))
    s = SecBroker(b, certs, [name for name, _ in listeners])
    add_scram_user(s.plaintext, "alice", ALICE_SCRAM)
    wait_until(lambda: login_ok(s.addr["SASL_PLAINTEXT"], "SCRAM-SHA-256", "alice",
                                "alice-secret"), timeout=10, msg="alice's SCRAM login")
    return s


def test_session_lifetime_raw(reauth):
    # Kafka (KIP-368, SaslServerAuthenticator / SocketServer): SaslAuthenticate v1+ carries
    # SessionLifetimeMs = connections.max.reauth.ms (v0 cannot say it, the session expires all
    # the same); a request arriving after the session expired closes the connection without
    # an answer; a client that sends SaslHandshake + SaslAuthenticate again on the connection
    # before expiry (same principal) starts a new session; a different principal is refused
    # ("Cannot change principals during re-authentication", SASL_AUTHENTICATION_FAILED).
    # The expiry is checked before anything else, so a handshake that comes too late closes
    # the connection like any other request.
    addr = reauth.addr["SASL_PLAINTEXT"]
    t = create_topic(reauth.plaintext, unique_topic("lifetime"))
    lifetime = REAUTH_MS / 1000

    late = login(addr, "PLAIN", "alice", "alice-secret", version=1)  # re-authenticates too late
    assert late.ok
    v1 = login(addr, "PLAIN", "alice", "alice-secret", version=1)
    v1_at = time.monotonic()
    assert v1.ok and v1.response.session_lifetime_ms == REAUTH_MS, v1.response
    scram = login(addr, "SCRAM-SHA-256", "alice", "alice-secret", version=1)
    assert scram.ok and scram.response.session_lifetime_ms == REAUTH_MS, scram.response
    scram.conn.close()
    v0 = login(addr, "PLAIN", "alice", "alice-secret", version=0)
    assert v0.ok, v0.response
    sessions = {"v1": (v1.conn, v1_at), "v0": (v0.conn, time.monotonic())}
    closed_after = {}
    deadline = time.monotonic() + lifetime + 2.5
    while len(closed_after) < len(sessions) and time.monotonic() < deadline:
        for name, (conn, authenticated_at) in sessions.items():
            if name in closed_after:
                continue
            try:
                kwire.metadata_v1(conn, [t])
            except (ConnectionError, OSError, ValueError):
                closed_after[name] = time.monotonic() - authenticated_at
        time.sleep(0.1)
    for name, (conn, _) in sessions.items():
        conn.close()
        assert name in closed_after, f"SaslAuthenticate {name} session never expired"
        assert lifetime - 0.25 <= closed_after[name] <= lifetime + 1.2, \
            f"{name} session closed {closed_after[name]:.2f}s after authentication " \
            f"(connections.max.reauth.ms={REAUTH_MS}, a request every 100 ms)"
    # a handshake after expiry is no re-authentication: SocketServer checks the expiry first
    data, _ = late.conn.request_bytes(17, 1, kwire.string("PLAIN"))
    late.conn.send_raw(data)
    closed, got = peer_closed(late.conn, 3)
    late.conn.close()
    assert closed and got == b"", f"handshake after the session expired was answered: {got[:40]!r}"

    # re-authenticating every 1.1 s keeps one connection alive for 3 lifetimes (Kafka's
    # KafkaChannel.maybeBeginServerReauthentication takes at most one re-authentication per
    # second; a handshake sooner is treated as an ordinary request)
    lg = login(addr, "PLAIN", "alice", "alice-secret", version=1)
    assert lg.ok
    t0 = last = time.monotonic()
    while time.monotonic() - t0 < 3 * lifetime:
        if time.monotonic() - last > 1.1:
            again = authenticate(lg.conn, "PLAIN", "alice", "alice-secret", version=1)
            assert again.error == 0 and again.session_lifetime_ms == REAUTH_MS, again
            last = time.monotonic()
        assert kwire.metadata_v1(lg.conn, [t])[t][0] == 0
        time.sleep(0.1)
    # ... but not as somebody else
    other = authenticate(lg.conn, "PLAIN", "admin", "admin-secret", version=1)
    assert other.error == SASL_AUTHENTICATION_FAILED, other
    assert peer_closed(lg.conn, 3)[0]
    lg.conn.close()


def _successes(reauth):
    return auth_metric(reauth.krab, "SASL_SSL", "SCRAM-SHA-256", "success")


def test_reauthentication_confluent(reauth):
    # Kafka (KIP-368): librdkafka >= 2.2 takes SessionLifetimeMs from SaslAuthenticate v1 and
    # re-authenticates on the same connection before it runs out, so a producer never
    # notices; without that the broker would close the connection at the first request
    # after expiry.
    addr = reauth.addr["SASL_SSL"]
    t = create_topic(reauth.plaintext, unique_topic("reauth-confluent"))
    before = _successes(reauth)
    results = []
    with LogCapture("sectest.rdkafka") as logs:
        p = Producer({"bootstrap.servers": addr, **reauth.scram("SCRAM-SHA-256").confluent(),
                      "linger.ms": 0, "message.timeout.ms": 10000, "debug": "broker,security",
                      "logger": logging.getLogger("sectest.rdkafka")})
        sent = 0
        next_send = time.monotonic()
        deadline = next_send + 5.0
        while next_send < deadline:  # one record every 100 ms for 5 s
            p.produce(t, b"reauth-%03d" % sent, partition=0,
                      on_delivery=lambda err, msg: results.append((err, msg.offset())))
            sent += 1
            next_send += 0.1
            while (left := next_send - time.monotonic()) > 0:
                p.poll(left)
        assert p.flush(15) == 0
        del p
    errors = [e for e, _ in results if e is not None]
    assert not errors, errors[:3]
    assert sorted(o for _, o in results) == list(range(sent)), "deliveries missing"
    assert 45 <= sent <= 51, sent
    assert logs.count(f"Received session lifetime {REAUTH_MS} ms from broker") >= 1
    reauths = logs.count("Received REAUTH op")
    assert reauths >= 2, f"librdkafka re-authenticated {reauths} times in 5 s with a " \
                         f"{REAUTH_MS} ms session lifetime"
    # one connection to the broker (its id after the '/'), never re-opened
    connects = {}
    for m in logs.messages:
        hit = re.search(r"(\S+/\d+): Connecting to ", m)
        if hit:
            connects[hit.group(1)] = connects.get(hit.group(1), 0) + 1
    assert connects and all(n == 1 for n in connects.values()), connects
    # the broker counted every login: the connections' first ones and each re-authentication
    want = len(connects) + reauths
    eventually(lambda: _successes(reauth) - before, lambda n: n >= want, 5,
               f"{want} successful logins in krab_authentications_total")


def test_reauthentication_kafka_python(reauth):
    # Kafka (KIP-368): kafka-python 3 schedules re-authentication at 85-95 % of
    # SessionLifetimeMs, drains in-flight requests, re-runs SaslHandshake + SaslAuthenticate on
    # the same connection and carries on.
    from kafka import KafkaProducer
    addr = reauth.addr["SASL_SSL"]
    t = create_topic(reauth.plaintext, unique_topic("reauth-kafka-python"))
    before = _successes(reauth)
    with LogCapture("kafka") as logs:
        p = KafkaProducer(bootstrap_servers=addr, acks="all", linger_ms=0,
                          request_timeout_ms=10000, max_block_ms=10000,
                          **reauth.scram("SCRAM-SHA-256").kafka_python())
        futures = []
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            futures.append(p.send(t, b"kp-reauth-%03d" % len(futures), partition=0))
            time.sleep(0.1)
        p.flush(15)
        offsets = [f.get(timeout=10).offset for f in futures]
        p.close(5)
    assert offsets == list(range(len(futures)))
    began = logs.count("Beginning SASL re-authentication")
    assert began >= 2, f"kafka-python re-authenticated {began} times"
    assert logs.count("SASL re-authentication failed") == 0
    inits = [m for m in logs.messages if m.startswith("Initializing connection for node_id ")
             and "bootstrap" not in m.split()[4]]
    node_ids = [m.split()[4] for m in inits]
    assert node_ids and len(node_ids) == len(set(node_ids)), f"reconnected: {inits}"
    want = len(node_ids) + began
    eventually(lambda: _successes(reauth) - before, lambda n: n >= want, 5,
               f"{want} successful logins in krab_authentications_total")


# ---------------------------------------------------------------------------------------------
# keystores
# ---------------------------------------------------------------------------------------------
TLS_ONLY = [("PLAINTEXT", "PLAINTEXT"), ("SSL", "SSL")]


def test_certificate_reload(krab, certs, tmp_path):
    # krab re-reads ssl.keystore.location when the file changes (Kafka gets the same effect
    # from a dynamic update of listener.name.<l>.ssl.keystore.location): new connections get
    # the new certificate within ~2 s, established connections and clients carry on, and a
    # file that does not load is ignored (the previous certificate stays).
    ks = tmp_path / "keystore.pem"
    shutil.copy(certs.server.keystore, ks)
    b = krab(overrides=security_overrides(certs, TLS_ONLY, {"ssl.keystore.location": ks}))
    addr, auth = b.listener("SSL"), Auth("SSL", ca=certs.ca_cert)
    assert tls_api_versions(addr, auth) == ("ok", certgen.der(certs.server.cert))
    established = connect(addr, auth)
    assert kwire.api_versions_v0(established)[0] == 0
    t = create_topic(b.bootstrap, unique_topic("reload"))
    p = Producer({"bootstrap.servers": addr, "linger.ms": 0, **auth.confluent()})
    delivered = []

    def produce(tag):
        for i in range(5):
            p.produce(t, b"%s-%d" % (tag, i), partition=0,
                      on_delivery=lambda err, msg: delivered.append(err))
        assert p.flush(10) == 0

    produce(b"before")

    def serves(cert):
        want = certgen.der(cert)
        return eventually(lambda: tls_api_versions(addr, auth),
                          lambda v: v == ("ok", want), 4,
                          f"new connections served certificate serial {certgen.serial_of(cert)}",
                          show=lambda v: v if v is None or v[0] != "ok" else
                          f"serial {certgen.serial_of_der(v[1], tmp_path / 'seen.der')}")

    # 1: the file rewritten in place
    gen1 = certs.issue_server(tmp_path / "gen1", "server", "0x5001")
    ks.write_bytes(gen1.keystore.read_bytes())
    serves(gen1.cert)
    assert kwire.api_versions_v0(established)[0] == 0, "established connection dropped"
    produce(b"after-1")
    # 2: replaced by rename (how config management and Kubernetes secrets swap files)
    gen2 = certs.issue_server(tmp_path / "gen2", "server", "0x5002")
    tmp = tmp_path / "keystore.pem.new"
    tmp.write_bytes(gen2.keystore.read_bytes())
    os.replace(tmp, ks)
    serves(gen2.cert)
    produce(b"after-2")
    # 3: a broken file keeps the previous certificate
    ks.write_text("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    time.sleep(2.5)
    assert tls_api_versions(addr, auth) == ("ok", certgen.der(gen2.cert))
    assert kwire.api_versions_v0(established)[0] == 0
    established.close()
    del p
    assert len(delivered) == 15 and not [d for d in delivered if d is not None], delivered
    assert end_offset(b.bootstrap, t) == 15


@pytest.mark.parametrize("form", ["pkcs12", "inline_pem"])
def test_keystore_forms(krab, certs, form):
    # Kafka: ssl.keystore.type=PKCS12 with ssl.keystore.location and ssl.keystore.password;
    # or (2.7+, KIP-651) ssl.keystore.type=PEM with the PKCS#8 key and the chain inline in
    # ssl.keystore.key / ssl.keystore.certificate.chain.
    ov = security_overrides(certs, TLS_ONLY)
    del ov["ssl.keystore.location"]
    if form == "pkcs12":
        ov.update({"ssl.keystore.type": "PKCS12", "ssl.keystore.location": certs.server_p12,
                   "ssl.keystore.password": certs.p12_password})
    else:
        ov.update({"ssl.keystore.key": certs.server.key.read_text(),
                   "ssl.keystore.certificate.chain": certs.server.cert.read_text()
                   + certs.ca_cert.read_text()})
    b = krab(overrides=ov)
    addr, auth = b.listener("SSL"), Auth("SSL", ca=certs.ca_cert)
    assert tls_api_versions(addr, auth) == ("ok", certgen.der(certs.server.cert))
    t = create_topic(b.bootstrap, unique_topic(f"keystore-{form}"))
    confluent_roundtrip(addr, t, auth, n=5)


def _bad_config(certs, case, tmp_path):
    ov = security_overrides(certs, [("PLAINTEXT", "PLAINTEXT"), ("SSL", "SSL"),
                                    ("SASL_PLAINTEXT", "SASL_PLAINTEXT")])
    if case == "wrong PKCS12 password":
        ov.update({"ssl.keystore.type": "PKCS12", "ssl.keystore.location": certs.server_p12,
                   "ssl.keystore.password": "not-the-password"})
        return ov, ["ssl.keystore", "password"]
    if case == "missing keystore file":
        missing = tmp_path / "no-such-keystore.pem"
        ov["ssl.keystore.location"] = missing
        return ov, [str(missing), "ssl.keystore.location"]
    if case == "listener name not in the protocol map":
        ov["listeners"] += ",CLIENT://127.0.0.1:0"
        return ov, ["listener.security.protocol.map", "CLIENT"]
    if case == "mechanism krab does not implement":
        ov["sasl.enabled.mechanisms"] = "PLAIN,GSSAPI"
        return ov, ["sasl.enabled.mechanisms", "GSSAPI"]
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["wrong PKCS12 password", "missing keystore file",
                                  "listener name not in the protocol map",
                                  "mechanism krab does not implement"], ids=slug)
def test_bad_security_config_refuses_to_start(krab, certs, tmp_path, case):
    # Kafka refuses to start rather than serve without the security asked for: a keystore it
    # cannot open (SslFactory), a listener whose name has no security protocol (KafkaConfig),
    # GSSAPI without its Kerberos/JAAS setup (krab implements no GSSAPI at all).
    ov, needles = _bad_config(certs, case, tmp_path)
    k = krab(overrides=ov, start=False)
    with pytest.raises(KrabExited) as e:
        k.start(timeout=20)
    text = str(e.value)
    assert re.search(r"exited with code [1-9]", text), text
    assert any(n in text for n in needles), f"no mention of {needles}:\n{text}"
