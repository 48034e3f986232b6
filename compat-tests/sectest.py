"""Helpers for the TLS / SASL tests (test_security.py, test_security_cluster.py).

* broker settings: :func:`security_overrides` (listeners, keystore/truststore, JAAS for PLAIN)
* :class:`Auth`: one client identity (security protocol, SASL mechanism and credentials, CA and
  client certificate) rendered as confluent-kafka / kcat / kafka-python settings
* round trips with each client (:func:`confluent_roundtrip`, :func:`kcat_roundtrip`,
  :func:`kafka_python_roundtrip`, :func:`pykafka_roundtrip`) and the failures
  (:func:`confluent_auth_failure`, :func:`kafka_python_auth_failure`)
* the SASL wire by hand on :mod:`kwire` connections (optionally TLS): SaslHandshake,
  SaslAuthenticate, raw tokens after Handshake v0, a SCRAM client (RFC 5802/7677, checked
  against RFC 7677's example in :func:`_self_check_scram`), :func:`login`
* :class:`LogCapture` for Python loggers (kafka-python's, and librdkafka's via the
  confluent ``logger`` setting); :func:`auth_metric` reads the broker's
  ``krab_authentications_total`` from its monitor
"""
import base64
import hashlib
import hmac
import logging
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

import kwire
from krabtest import confluent_consume_all, confluent_watermarks, wait_until

# PLAIN users as Kafka's PlainLoginModule declares them (user_<name>="<password>"); the
# username/password pair is the broker's own identity for inter-broker use.
PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="admin" password="admin-secret" '
              'user_admin="admin-secret" user_alice="alice-secret";')
PLAIN_USERS = {"admin": "admin-secret", "alice": "alice-secret"}
MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
SCRAM = ["SCRAM-SHA-256", "SCRAM-SHA-512"]

# Kafka error codes used here
ILLEGAL_SASL_STATE = 34
UNSUPPORTED_SASL_MECHANISM = 33
SASL_AUTHENTICATION_FAILED = 58

KCAT = shutil.which("kcat") or shutil.which("kafkacat")


def security_overrides(certs, listeners, extra=None):
    """Broker overrides for ``listeners`` ([(NAME, PROTOCOL)], PLAINTEXT first so that
    ``Krab.bootstrap`` stays the PLAINTEXT listener): every listener on 127.0.0.1 port 0, the
    map from names to protocols, the test CA as truststore, the server key+chain as PEM
    keystore, PLAIN users from a JAAS config on every SASL listener
    (``listener.name.<name>.plain.sasl.jaas.config``), all three mechanisms enabled; then
    ``extra`` (Kafka config names) on top."""
    assert listeners[0] == ("PLAINTEXT", "PLAINTEXT"), "PLAINTEXT must come first"
    ov = {
        "listeners": ",".join(f"{name}://127.0.0.1:0" for name, _ in listeners),
        "listener.security.protocol.map": ",".join(f"{name}:{proto}" for name, proto in listeners),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(certs.server.keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(certs.ca_cert),
        "sasl.enabled.mechanisms": ",".join(MECHANISMS),
        "num.partitions": 1,
        "group.initial.rebalance.delay.ms": 0,
    }
    for name, proto in listeners:
        if proto.startswith("SASL_"):
            ov[f"listener.name.{name.lower()}.plain.sasl.jaas.config"] = PLAIN_JAAS
    ov.update(extra or {})
    return ov


def split_addr(addr):
    host, _, port = addr.rpartition(":")
    return host, int(port)


# ---------------------------------------------------------------------------------------------
# client identities
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Auth:
    """How one client connects: ``protocol`` is Kafka's security.protocol."""
    protocol: str = "PLAINTEXT"
    mechanism: Optional[str] = None
    user: Optional[str] = None
    password: Optional[str] = None
    ca: Optional[Path] = None
    cert: Optional[Path] = None
    key: Optional[Path] = None

    @property
    def sasl(self):
        return self.protocol.startswith("SASL_")

    @property
    def tls(self):
        return self.protocol in ("SSL", "SASL_SSL")

    def confluent(self):
        c = {"security.protocol": self.protocol}
        if self.sasl:
            c.update({"sasl.mechanism": self.mechanism, "sasl.username": self.user,
                      "sasl.password": self.password})
        if self.ca:
            c["ssl.ca.location"] = str(self.ca)
        if self.cert:
            c["ssl.certificate.location"] = str(self.cert)
            c["ssl.key.location"] = str(self.key)
        return c

    def kcat(self):
        """``-X`` arguments (kcat/librdkafka property names; ``sasl.mechanisms`` is the
        historical spelling every librdkafka accepts)."""
        props = {"security.protocol": self.protocol}
        if self.sasl:
            props.update({"sasl.mechanisms": self.mechanism, "sasl.username": self.user,
                          "sasl.password": self.password})
        if self.ca:
            props["ssl.ca.location"] = str(self.ca)
        if self.cert:
            props["ssl.certificate.location"] = str(self.cert)
            props["ssl.key.location"] = str(self.key)
        out = []
        for k, v in props.items():
            out += ["-X", f"{k}={v}"]
        return out

    def kafka_python(self):
        kw = {"security_protocol": self.protocol}
        if self.sasl:
            kw.update(sasl_mechanism=self.mechanism, sasl_plain_username=self.user,
                      sasl_plain_password=self.password)
        if self.ca:
            kw["ssl_cafile"] = str(self.ca)
        if self.cert:
            kw["ssl_certfile"] = str(self.cert)
            kw["ssl_keyfile"] = str(self.key)
        return kw

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=str(self.ca) if self.ca else None)
        if self.cert:
            ctx.load_cert_chain(str(self.cert), str(self.key))
        return ctx

    def but(self, **changes):
        d = dict(self.__dict__)
        d.update(changes)
        return Auth(**d)


# ---------------------------------------------------------------------------------------------
# topics, offsets
# ---------------------------------------------------------------------------------------------
def create_topic(plaintext, name, partitions=1, rf=1):
    """Create ``name`` over the PLAINTEXT listener and wait until it has leaders."""
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": plaintext})
    admin.create_topics([NewTopic(name, partitions, rf)])[name].result(15)

    def ready():
        md = admin.list_topics(name, timeout=5).topics.get(name)
        return (md is not None and md.error is None and len(md.partitions) == partitions
                and all(p.leader >= 0 for p in md.partitions.values()))
    wait_until(ready, timeout=15, msg=f"leaders for {name}")
    return name


def end_offset(plaintext, topic, partition=0):
    """The high watermark, read over the PLAINTEXT listener."""
    return confluent_watermarks(plaintext, topic, partition)[1]


# ---------------------------------------------------------------------------------------------
# client round trips
# ---------------------------------------------------------------------------------------------
def values_for(tag, n):
    return [f"{tag}-{i:03d}-".encode() + b"v" * (i % 17) for i in range(n)]


def confluent_roundtrip(addr, topic, auth, n=10, tag="confluent"):
    """Produce ``n`` values with confluent-kafka over ``auth`` (every delivery must succeed,
    offsets 0..n-1 of a fresh topic) and read them back over the same listener."""
    from confluent_kafka import Producer
    values = values_for(tag, n)
    conf = {"bootstrap.servers": addr, "linger.ms": 5, "message.timeout.ms": 20000,
            **auth.confluent()}
    p = Producer(conf)
    results = []
    for v in values:
        p.produce(topic, v, partition=0,
                  on_delivery=lambda err, msg: results.append((err, msg.offset())))
    left = p.flush(25)
    del p
    assert left == 0, f"{left} records undelivered"
    errors = [e for e, _ in results if e is not None]
    assert not errors, f"delivery errors: {errors[:3]}"
    assert sorted(o for _, o in results) == list(range(n)), results
    msgs = confluent_consume_all(addr, topic, n, timeout=20, extra_conf=auth.confluent())
    assert [m.value() for m in msgs] == values
    return values


def kcat(*args, input=None, timeout=40):
    if KCAT is None:
        pytest.fail("kcat not installed (apt-get install kcat)")
    return subprocess.run([KCAT, *map(str, args)], input=input, capture_output=True, text=True,
                          timeout=timeout)


def kcat_ok(*args, **kw):
    p = kcat(*args, **kw)
    assert p.returncode == 0, f"kcat {' '.join(map(str, args))} exited {p.returncode}\n" \
                              f"{p.stderr[-3000:]}"
    return p


def kcat_roundtrip(addr, topic, auth, n=10, tag="kcat"):
    """``kcat -P`` then ``kcat -C -e -o beginning`` with ``auth``'s ``-X`` settings."""
    lines = [v.decode() for v in values_for(tag, n)]
    kcat_ok("-P", "-b", addr, "-t", topic, "-p", "0", *auth.kcat(),
            input="".join(line + "\n" for line in lines))
    out = kcat_ok("-C", "-b", addr, "-t", topic, "-o", "beginning", "-e", "-q",
                  *auth.kcat()).stdout.splitlines()
    assert out == lines
    return lines


def kafka_python_roundtrip(addr, topic, auth, n=10, tag="kafka-python"):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    values = values_for(tag, n)
    p = KafkaProducer(bootstrap_servers=addr, acks="all", request_timeout_ms=15000,
                      max_block_ms=20000, bootstrap_timeout_ms=15000, **auth.kafka_python())
    try:
        futures = [p.send(topic, value=v, partition=0) for v in values]
        p.flush(20)
        offsets = [f.get(timeout=20).offset for f in futures]
    finally:
        p.close(10)
    assert offsets == list(range(n)), offsets
    c = KafkaConsumer(bootstrap_servers=addr, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="earliest", request_timeout_ms=15000,
                      bootstrap_timeout_ms=15000, **auth.kafka_python())
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        got = []
        deadline = time.monotonic() + 20
        while len(got) < n and time.monotonic() < deadline:
            for _tp, recs in c.poll(timeout_ms=500).items():
                got += [(r.offset, r.value) for r in recs]
    finally:
        c.close()
    assert got == list(enumerate(values))
    return values


def pykafka_roundtrip(addr, topic, ssl_config, n=10, tag="pykafka"):
    """pykafka 2.8 (no SASL; TLS through ``ssl_config``): sync producer, simple consumer."""
    from pykafka import KafkaClient
    from pykafka.utils import VERSIONS_CACHE
    VERSIONS_CACHE.clear()
    values = values_for(tag, n)
    client = KafkaClient(hosts=addr, ssl_config=ssl_config)
    t = client.topics[topic.encode()]
    with t.get_sync_producer(linger_ms=0) as producer:
        for v in values:
            producer.produce(v)
    consumer = t.get_simple_consumer(consumer_timeout_ms=1500)
    try:
        got = [(m.offset, m.value) for m in consumer if m is not None]
    finally:
        consumer.stop()
        VERSIONS_CACHE.clear()
    assert got == list(enumerate(values))
    return values


ROUNDTRIPS = {"confluent": confluent_roundtrip, "kcat": kcat_roundtrip,
              "kafka_python": kafka_python_roundtrip}


# ---------------------------------------------------------------------------------------------
# clients that must be refused
# ---------------------------------------------------------------------------------------------
AUTH_ERROR_PREFIX = "SASL authentication error: "


def broker_message(rdkafka_error_text):
    """The broker's SaslAuthenticate error message inside librdkafka's
    ``SASL authentication error: <message> (after 3ms in state AUTH_REQ)``."""
    text = rdkafka_error_text
    if AUTH_ERROR_PREFIX in text:
        text = text.split(AUTH_ERROR_PREFIX, 1)[1]
    cut = text.rfind(" (after ")
    return text[:cut] if cut >= 0 else text


def confluent_auth_failure(addr, topic, auth, codes=None, timeout=10):
    """Try to produce one record with an identity the broker refuses.  Waits until error_cb
    reports one of ``codes`` (default: the authentication errors) or ``timeout``; returns
    those errors.  Fails if no such error came or if a delivery succeeded."""
    from confluent_kafka import KafkaError, Producer
    if codes is None:
        codes = {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED}
    errors, delivered = [], []
    p = Producer({"bootstrap.servers": addr, "message.timeout.ms": 3000,
                  "reconnect.backoff.ms": 200, "error_cb": errors.append, **auth.confluent()})
    p.produce(topic, b"must-not-arrive", partition=0,
              on_delivery=lambda err, msg: delivered.append(err))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(e.code() in codes for e in errors):
        p.poll(0.1)
    p.purge()
    p.flush(5)
    del p
    # (no `None in delivered`: KafkaError.__eq__ cannot compare with None)
    assert not any(d is None for d in delivered), "a record was delivered to a refused client"
    hits = [e for e in errors if e.code() in codes]
    assert hits, f"none of {codes} reported; errors: {errors[:5]}"
    return hits


def kafka_python_auth_failure(addr, auth, timeout_ms=2500):
    """kafka-python 3 cannot bootstrap with refused credentials: KafkaProducer() raises after
    bootstrap_timeout_ms.  Its log must show the attempts got as far as SaslAuthenticate and
    never completed a bootstrap.  (Which error it logs per attempt is a race in kafka-python
    3.0: the broker answers SASL_AUTHENTICATION_FAILED and closes, and kafka-python often sees
    the close first and logs "socket disconnected" instead of SaslAuthenticationFailedError.)
    Returns the failed-attempt log lines."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError
    with LogCapture("kafka") as logs:
        with pytest.raises(KafkaError):
            p = KafkaProducer(bootstrap_servers=addr, bootstrap_timeout_ms=timeout_ms,
                              max_block_ms=timeout_ms, **auth.kafka_python())
            p.close(1)
    tail = "\n".join(m[:300] for m in logs.messages[-30:])
    assert logs.count("SaslAuthenticateRequest") > 0, f"kafka-python never sent SaslAuthenticate:\n{tail}"
    assert logs.count("Bootstrap complete") == 0, tail
    failed = [m for m in logs.messages if m.startswith("Bootstrap connection to")]
    assert failed, f"no failed bootstrap attempt logged:\n{tail}"
    return failed


# ---------------------------------------------------------------------------------------------
# logs
# ---------------------------------------------------------------------------------------------
class LogCapture(logging.Handler):
    """Collects the formatted messages of logger ``name`` (and its children) at DEBUG."""

    def __init__(self, name):
        super().__init__(logging.DEBUG)
        self.logger = logging.getLogger(name)
        self.messages = []

    def emit(self, record):
        try:
            self.messages.append(record.getMessage())
        except Exception:  # noqa: BLE001 - a bad format string must not break the client
            self.messages.append(str(record.msg))

    def __enter__(self):
        self._level, self._propagate = self.logger.level, self.logger.propagate
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self)
        self.logger.setLevel(self._level)
        self.logger.propagate = self._propagate

    def count(self, substring):
        return sum(substring in m for m in self.messages)


def auth_metric(krab, listener=None, mechanism=None, result=None):
    """Sum of the ``krab_authentications_total{listener, mechanism, result}`` samples matching
    the labels given, from the broker's monitor (``monitor.listener`` must be set)."""
    with urllib.request.urlopen(f"{krab.monitor_url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    want = {"listener": listener, "mechanism": mechanism, "result": result}
    total = 0.0
    for m in re.finditer(r"^krab_authentications_total\{([^}]*)\} (\S+)$", text, re.M):
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))
        if all(v is None or labels.get(k) == v for k, v in want.items()):
            total += float(m.group(2))
    return total


def log_lines_since(path, start, pattern):
    """Lines of ``path`` after byte ``start`` matching the compiled regex ``pattern``."""
    with open(path, "rb") as f:
        f.seek(start)
        text = f.read().decode(errors="replace")
    return [line for line in text.splitlines() if pattern.search(line)]


# ---------------------------------------------------------------------------------------------
# SASL by hand
# ---------------------------------------------------------------------------------------------
def connect(addr, tls: Optional[Auth] = None, timeout=10):
    """A :class:`kwire.Conn` to ``addr``; with ``tls`` the socket is wrapped (handshake done,
    host name checked against the certificate)."""
    host, port = split_addr(addr)
    conn = kwire.Conn(host, port, timeout=timeout)
    if tls is not None:
        conn.sock = tls.ssl_context().wrap_socket(conn.sock, server_hostname=host)
    return conn


def peer_closed(conn, timeout=5.0):
    """(closed, bytes received before the close): closed is True when the peer ends the
    connection (EOF, reset, TLS alert/EOF) within ``timeout``."""
    got = b""
    conn.sock.settimeout(0.25)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = conn.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            continue
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
            return True, got
        if not chunk:
            return True, got
        got += chunk
    return False, got


def sasl_handshake(conn, mechanism, version=1):
    """SaslHandshake (17) v0/v1: returns (error_code, [enabled mechanisms])."""
    r = conn.call(17, version, kwire.string(mechanism))
    err = r.i16()
    return err, [r.string() for _ in range(r.i32())]


@dataclass
class AuthResponse:
    error: int
    message: Optional[str]
    auth_bytes: bytes
    session_lifetime_ms: Optional[int]


def sasl_authenticate(conn, token, version=0):
    """SaslAuthenticate (36) v0/v1 (non-flexible)."""
    assert version in (0, 1)
    r = conn.call(36, version, kwire.nbytes(token))
    err = r.i16()
    msg = r.string()
    n = r.i32()
    data = r.take(n) if n > 0 else b""
    lifetime = r.i64() if version >= 1 else None
    return AuthResponse(err, msg, data, lifetime)


def send_token(conn, token):
    """After SaslHandshake v0: the token as a bare ``len32 ‖ bytes`` frame (no header)."""
    conn.send_raw(kwire.i32(len(token)) + token)


def recv_token(conn):
    n = struct.unpack(">i", conn.recv_exact(4))[0]
    return conn.recv_exact(n) if n > 0 else b""


def plain_token(user, password, authzid=""):
    return f"{authzid}\0{user}\0{password}".encode()


def saslname(user):
    return user.replace("=", "=3D").replace(",", "=2C")


class ScramClient:
    """The client side of SCRAM-SHA-256/512 (RFC 5802, no channel binding, no SASLprep: what
    Kafka's ScramSaslClient does)."""

    def __init__(self, mechanism, user, password, nonce=None):
        self.hash = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}[mechanism]
        self.user, self.password = user, password
        self.nonce = nonce or os.urandom(18).hex()
        self.bare = f"n={saslname(user)},r={self.nonce}"

    def first(self):
        return ("n,," + self.bare).encode()

    def final(self, server_first, librdkafka_nonce=False):
        """The client-final message.  ``librdkafka_nonce``: echo the nonce the way librdkafka
        before 2.6.1 does, our nonce once more in front of the server's combined one
        (confluentinc/librdkafka#4895)."""
        sf = server_first.decode()
        attrs = dict(kv.split("=", 1) for kv in sf.split(","))
        assert attrs["r"].startswith(self.nonce), f"server nonce does not extend ours: {sf}"
        salted = hashlib.pbkdf2_hmac(self.hash, self.password.encode(),
                                     base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", self.hash).digest()
        stored_key = hashlib.new(self.hash, client_key).digest()
        echoed = (self.nonce if librdkafka_nonce else "") + attrs["r"]
        without_proof = f"c=biws,r={echoed}"
        self.auth_message = f"{self.bare},{sf},{without_proof}".encode()
        signature = hmac.new(stored_key, self.auth_message, self.hash).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self.server_key = hmac.new(salted, b"Server Key", self.hash).digest()
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def server_final_ok(self, server_final):
        sig = hmac.new(self.server_key, self.auth_message, self.hash).digest()
        return server_final.decode() == "v=" + base64.b64encode(sig).decode()


def scram_keys(mechanism, password, salt, iterations):
    """(stored_key, server_key) Kafka stores for ``password`` (ScramFormatter)."""
    h = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}[mechanism]
    salted = hashlib.pbkdf2_hmac(h, password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", h).digest()
    return hashlib.new(h, client_key).digest(), hmac.new(salted, b"Server Key", h).digest()


def _self_check_scram():
    """RFC 7677 section 3's example, so a failing login is not this file's SCRAM."""
    c = ScramClient("SCRAM-SHA-256", "user", "pencil", nonce="rOprNGfwEbeRWgbNEkqO")
    sf = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    assert c.final(sf) == (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                           b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    assert c.server_final_ok(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")


_self_check_scram()


def authenticate(conn, mechanism, user, password, version=1):
    """SaslHandshake v1 then SaslAuthenticate ``version`` round(s) for ``mechanism``.  Returns
    the last AuthResponse (error != 0 on failure; for SCRAM a failure at the first step
    returns that step's response).  A successful SCRAM login must carry a server signature
    that verifies."""
    err, mechs = sasl_handshake(conn, mechanism, 1)
    if err:
        return AuthResponse(err, f"handshake error, mechanisms {mechs}", b"", None)
    if mechanism == "PLAIN":
        return sasl_authenticate(conn, plain_token(user, password), version)
    client = ScramClient(mechanism, user, password)
    first = sasl_authenticate(conn, client.first(), version)
    if first.error:
        return first
    final = sasl_authenticate(conn, client.final(first.auth_bytes), version)
    if final.error == 0:
        assert client.server_final_ok(final.auth_bytes), \
            f"server signature does not verify: {final.auth_bytes!r}"
    return final


@dataclass
class Login:
    response: AuthResponse
    conn: kwire.Conn = field(repr=False)
    elapsed: float = 0.0

    @property
    def ok(self):
        return self.response.error == 0


def login(addr, mechanism, user, password, tls: Optional[Auth] = None, version=1):
    """Open a connection to ``addr`` and authenticate; the connection stays open (closed by
    the caller, or by the broker after a failure).  ``elapsed`` is the time the final
    SaslAuthenticate took (failure responses are delayed by
    connection.failed.authentication.delay.ms)."""
    conn = connect(addr, tls)
    t0 = time.monotonic()
    resp = authenticate(conn, mechanism, user, password, version)
    return Login(resp, conn, time.monotonic() - t0)


def login_ok(addr, mechanism, user, password, tls=None):
    """True if a fresh connection authenticates and then gets a Metadata answer."""
    try:
        lg = login(addr, mechanism, user, password, tls)
    except (OSError, ConnectionError, ValueError):
        return False
    try:
        if not lg.ok:
            return False
        kwire.metadata_v1(lg.conn, [])
        return True
    except (OSError, ConnectionError, ValueError):
        return False
    finally:
        lg.conn.close()


def authenticated_produce(addr, topic, mechanism="PLAIN", user="alice", password="alice-secret",
                          tls=None, value=b"still-serving"):
    """Log in on a fresh connection and Produce v3 one record; returns its offset."""
    lg = login(addr, mechanism, user, password, tls)
    try:
        assert lg.ok, f"login failed: {lg.response}"
        err, base = kwire.produce_v3(lg.conn, topic, 0, kwire.record_batch([value]))
        assert err == 0, f"produce after login: error {err}"
        return base
    finally:
        lg.conn.close()


# ---------------------------------------------------------------------------------------------
# TLS probes
# ---------------------------------------------------------------------------------------------
def tls_api_versions(addr, auth: Auth, timeout=5):
    """TLS handshake with ``auth``'s CA/certificate, then ApiVersions v0.  Returns
    ("ok", server certificate DER) or ("refused", the exception).  With TLS 1.3 a refused
    client certificate shows only after the client's side of the handshake has finished (the
    server's alert arrives with the first read), so the verdict waits for the response.  A
    hang (no answer, no close) fails the test."""
    try:
        conn = connect(addr, auth, timeout=timeout)
    except TimeoutError:
        pytest.fail(f"TLS handshake with {addr} hung for {timeout}s")
    except (ssl.SSLError, OSError) as e:
        return "refused", e
    try:
        der = conn.sock.getpeercert(binary_form=True)
        err, apis = kwire.api_versions_v0(conn)
        assert err == 0 and 18 in apis, (err, apis)
        return "ok", der
    except TimeoutError:
        pytest.fail(f"no ApiVersions answer (nor close) from {addr} within {timeout}s")
    except (ssl.SSLError, OSError, ConnectionError) as e:
        return "refused", e
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# ACLs (test_acls.py, test_acls_cluster.py)
# ---------------------------------------------------------------------------------------------
ACL_USERS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret",
             "carol": "carol-secret"}
ACL_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
            'username="admin" password="admin-secret" '
            + " ".join(f'user_{u}="{p}"' for u, p in ACL_USERS.items()) + ";")
ACL_AUTHORIZER = "kafka.security.authorizer.AclAuthorizer"
SUPER_USERS = "User:admin;User:ANONYMOUS"


def acl_overrides(certs, listeners, extra=None, super_users=SUPER_USERS):
    """:func:`security_overrides` with the users of :data:`ACL_USERS` on every SASL listener,
    Kafka's AclAuthorizer and ``super.users`` (admin, and ANONYMOUS: the PLAINTEXT listener,
    which the tests use as the unrestricted view and brokers use between themselves)."""
    ov = security_overrides(certs, listeners)
    for name, proto in listeners:
        if proto.startswith("SASL_"):
            ov[f"listener.name.{name.lower()}.plain.sasl.jaas.config"] = ACL_JAAS
    ov.update({"authorizer.class.name": ACL_AUTHORIZER, "super.users": super_users})
    ov.update(extra or {})
    return ov


def client_properties(path, auth: Auth):
    """Write ``auth`` as the Kafka client properties file a tool's --command-config /
    --producer.config / --consumer.config reads; returns the path."""
    path = Path(path)
    lines = [f"security.protocol={auth.protocol}"]
    if auth.sasl:
        module = ("org.apache.kafka.common.security.plain.PlainLoginModule"
                  if auth.mechanism == "PLAIN"
                  else "org.apache.kafka.common.security.scram.ScramLoginModule")
        lines += [f"sasl.mechanism={auth.mechanism}",
                  f'sasl.jaas.config={module} required username="{auth.user}" '
                  f'password="{auth.password}";']
    if auth.ca:
        lines += [f"ssl.truststore.location={auth.ca}", "ssl.truststore.type=PEM"]
    if auth.cert:
        keystore = path.with_suffix(".keystore.pem")
        keystore.write_text(Path(auth.key).read_text() + Path(auth.cert).read_text())
        lines += [f"ssl.keystore.location={keystore}", "ssl.keystore.type=PEM"]
    path.write_text("\n".join(lines) + "\n")
    return path


def session(addr, auth: Auth):
    """A :mod:`kwire` connection to ``addr`` as ``auth``'s principal: a SASL login (inside
    TLS for SASL_SSL), a TLS connection with ``auth``'s certificate, or plain TCP."""
    if auth.sasl:
        lg = login(addr, auth.mechanism, auth.user, auth.password,
                   Auth("SSL", ca=auth.ca) if auth.tls else None)
        assert lg.ok, f"{auth.user} could not log in: {lg.response}"
        return lg.conn
    return connect(addr, auth if auth.tls else None)


def produce_error(addr, auth, topic, value=b"acl-probe", partition=0):
    """Produce v3 one record as ``auth`` on a fresh connection; returns the partition's error
    code (0: written)."""
    conn = session(addr, auth)
    try:
        return kwire.produce_v3(conn, topic, partition, kwire.record_batch([value]))[0]
    finally:
        conn.close()


# Kafka error codes of the authorizer
TOPIC_AUTHORIZATION_FAILED = 29
GROUP_AUTHORIZATION_FAILED = 30
CLUSTER_AUTHORIZATION_FAILED = 31
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53


def produce_codes(addr, topic, auth, values, extra=None, timeout=15):
    """Produce ``values`` to partition 0 with confluent-kafka; returns each delivery's error
    code (None: delivered)."""
    from confluent_kafka import Producer
    results = []
    p = Producer({"bootstrap.servers": addr, "linger.ms": 5, "message.timeout.ms": 6000,
                  **auth.confluent(), **(extra or {})})
    for v in values:
        p.produce(topic, v, partition=0,
                  on_delivery=lambda err, msg: results.append(None if err is None else err.code()))
    p.flush(timeout)
    del p
    assert len(results) == len(values), f"{len(values) - len(results)} deliveries unreported"
    return results


# ---------------------------------------------------------------------------------------------
# kafka-acls output (AclCommand 2.8): println(s"Current ACLs for resource `$resource`: $Newline
# ${acls.map("\t" + _).mkString(Newline)} $Newline"), i.e. a space before the first tab, one
# tab-indented AccessControlEntry.toString per line, " \n" and println's own "\n"
# ---------------------------------------------------------------------------------------------
def rp(rtype, name, pattern="LITERAL"):
    """ResourcePattern.toString."""
    return f"ResourcePattern(resourceType={rtype}, name={name}, patternType={pattern})"


def ace(principal, op, perm="ALLOW", host="*"):
    """AccessControlEntry.toString."""
    return f"(principal={principal}, host={host}, operation={op}, permissionType={perm})"


_OUTPUT_ITEM = re.compile(r"ACLs for principal `([^`\n]*)`\n"
                          r"|(Adding ACLs|Current ACLs) for resource `(ResourcePattern\([^`\n]*\))`"
                          r": \n \t(.*?) \n\n", re.S)


def acl_output(text, exact=False):
    """Parse kafka-acls' stdout into [(heading, resource, sorted ACL strings)] (principal
    headers as ("ACLs for principal", principal, None)); fails unless the text is exactly a
    sequence of Kafka's blocks.  (The ACLs of one resource are a Scala Set: their order is
    not specified, hence sorted.)  ``exact=False`` forgives a missing final blank line, which
    test_list_output_and_znodes checks on its own."""
    if not exact and text.endswith(" \n") and not text.endswith("\n\n"):
        text += "\n"
    items, pos = [], 0
    while pos < len(text):
        m = _OUTPUT_ITEM.match(text, pos)
        assert m, (f"not kafka-acls output at byte {pos}: {text[pos:pos + 160]!r}\n"
                   f"--- whole output ---\n{text}")
        if m.group(1) is not None:
            items.append(("ACLs for principal", m.group(1), None))
        else:
            items.append((m.group(2), m.group(3), sorted(m.group(4).split("\n\t"))))
        pos = m.end()
    return items


def block(heading, resource, *acls):
    return (heading, resource, sorted(acls))
