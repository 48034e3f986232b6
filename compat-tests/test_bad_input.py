"""Hostile / broken input: each bad connection is dealt with on its own, nobody else notices."""
import os
import re
import socket
import subprocess
import time

import pytest
from confluent_kafka import KafkaError, Producer

import kwire
from krabtest import (KRAB_BIN, LISTENING_RE, confluent_watermarks, tail, unique_topic,
                      wait_until)


def healthy(conn):
    err, apis = kwire.api_versions_v0(conn)
    assert err == 0
    assert 18 in apis and 0 in apis and 1 in apis and 3 in apis, apis
    return apis


def open_conn(broker):
    return kwire.Conn("127.0.0.1", broker.port)


def test_api_versions_v0_by_hand(krab):
    broker = krab(mode="embedded")
    c = open_conn(broker)
    apis = healthy(c)
    # the contract's advertised ranges (at least these maxima)
    want = {0: 9, 1: 11, 2: 5, 3: 9, 8: 7, 9: 7, 10: 2, 18: 3, 19: 4, 20: 3, 22: 2, 23: 3}
    for key, top in want.items():
        assert key in apis and apis[key][0] == 0 and apis[key][1] >= top, (key, apis.get(key))
    c.close()


def test_negative_frame_length_closes_only_that_connection(krab):
    broker = krab(mode="embedded")
    good = open_conn(broker)
    healthy(good)
    bad = open_conn(broker)
    bad.send_raw(kwire.i32(-1))
    assert bad.closed_by_peer(), "negative frame length did not close the connection"
    healthy(good)
    healthy(open_conn(broker))


def test_oversized_frame_closes_only_that_connection(krab):
    broker = krab(mode="embedded", overrides={"socket.request.max.bytes": 1_048_576})
    good = open_conn(broker)
    healthy(good)
    bad = open_conn(broker)
    bad.send_raw(kwire.i32(2_000_000) + b"\x00" * 64)  # claims 2 MB, limit is 1 MiB
    assert bad.closed_by_peer(), "over-limit frame length did not close the connection"
    healthy(good)


def test_garbage_in_valid_frame_closes_connection(krab):
    broker = krab(mode="embedded")
    good = open_conn(broker)
    healthy(good)
    bad = open_conn(broker)
    # Metadata v1 whose topic array claims 1000 entries but the frame ends right after.
    data, _ = bad.request_bytes(3, 1, kwire.i32(1000) + b"\x00\x03ab")
    bad.send_raw(data)
    assert bad.closed_by_peer(), "unparseable request did not close the connection"
    # pure noise with a sane length
    bad2 = open_conn(broker)
    noise = bytes((i * 37 + 11) % 256 for i in range(40))
    bad2.send_raw(kwire.i32(len(noise)) + b"\x00\x03\x00\x01" + noise[4:])
    assert bad2.closed_by_peer(), "garbage request did not close the connection"
    healthy(good)


def test_unknown_api_key(krab):
    broker = krab(mode="embedded")
    good = open_conn(broker)
    healthy(good)
    bad = open_conn(broker)
    data, corr = bad.request_bytes(999, 0, b"")
    bad.send_raw(data)
    closed = bad.closed_by_peer(timeout=3)
    if not closed:
        # allowed alternative: an error response with our correlation id
        assert len(bad.leftover) >= 8, "unknown API key: neither closed nor answered"
        size = int.from_bytes(bad.leftover[:4], "big", signed=True)
        assert size >= 4
        assert int.from_bytes(bad.leftover[4:8], "big", signed=True) == corr
    healthy(good)


def test_api_versions_unsupported_version(krab):
    broker = krab(mode="embedded")
    c = open_conn(broker)
    r = c.call(18, 99, b"")
    # Kafka answers an unknown ApiVersions version with a v0 body: error 35 + the api list
    err = r.i16()
    assert err == 35, f"expected UNSUPPORTED_VERSION (35), got {err}"
    n = r.i32()
    apis = {}
    for _ in range(n):
        k, lo, hi = r.i16(), r.i16(), r.i16()
        apis[k] = (lo, hi)
    assert 18 in apis, apis
    assert apis[18][1] >= 3
    # connection still usable afterwards
    healthy(c)


def test_produce_v3_bad_crc_is_corrupt_message(krab):
    broker = krab(mode="embedded")
    topic = unique_topic("crc")
    c = open_conn(broker)
    kwire.metadata_v1(c, [topic])  # auto-creates
    wait_until(lambda: kwire.metadata_v1(c, [topic])[topic][0] == 0, msg="topic created")

    # our hand-built batch is accepted when its CRC is right ...
    err, base = kwire.produce_v3(c, topic, 0, kwire.record_batch([b"good-1", b"good-2"]))
    assert (err, base) == (0, 0)
    assert kwire.list_offsets_latest_v1(c, topic) == (0, 2)

    # ... and refused with CORRUPT_MESSAGE when it is wrong; the log end does not move
    err, _ = kwire.produce_v3(c, topic, 0, kwire.record_batch([b"bad"], corrupt_crc=True))
    assert err == 2, f"expected CORRUPT_MESSAGE (2), got {err}"
    assert kwire.list_offsets_latest_v1(c, topic) == (0, 2)
    # payload byte flipped after the CRC was computed
    batch = bytearray(kwire.record_batch([b"flipped"]))
    batch[-3] ^= 0xFF
    err, _ = kwire.produce_v3(c, topic, 0, bytes(batch))
    assert err == 2, f"expected CORRUPT_MESSAGE (2), got {err}"
    assert kwire.list_offsets_latest_v1(c, topic) == (0, 2)
    assert confluent_watermarks(broker.bootstrap, topic) == (0, 2)


def test_message_too_large(krab, topic):
    broker = krab(mode="embedded", overrides={"message.max.bytes": 1000})
    # confluent: raise the client's own limit so the broker is the one refusing
    reports = []
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 1_000_000,
                  "acks": 1, "enable.idempotence": False, "retries": 0,
                  "message.timeout.ms": 15000})
    p.produce(topic, value=b"x" * 5000, partition=0,
              on_delivery=lambda e, m: reports.append(e))
    assert p.flush(20) == 0
    (err,) = reports
    assert err is not None, "5000-byte message accepted despite message.max.bytes=1000"
    assert err.code() == KafkaError.MSG_SIZE_TOO_LARGE, err
    assert err.name() == "MSG_SIZE_TOO_LARGE"
    # small messages still go through on the same producer
    p.produce(topic, value=b"small", partition=0, on_delivery=lambda e, m: reports.append(e))
    assert p.flush(20) == 0
    assert reports[1] is None, reports[1]

    # kafka-python
    from kafka import KafkaProducer
    from kafka.errors import MessageSizeTooLargeError
    kp = KafkaProducer(bootstrap_servers=broker.bootstrap, max_request_size=10_000_000,
                       acks=1, enable_idempotence=False, retries=0, request_timeout_ms=15000)
    try:
        fut = kp.send(topic, value=b"y" * 5000, partition=0)
        with pytest.raises(MessageSizeTooLargeError):
            fut.get(timeout=20)
        assert kp.send(topic, value=b"small2", partition=0).get(timeout=20).offset == 1
    finally:
        kp.close(5)
    assert confluent_watermarks(broker.bootstrap, topic) == (0, 2)


def test_auto_create_disabled(krab):
    broker = krab(mode="embedded", overrides={"auto.create.topics.enable": "false"})
    topic = unique_topic("nope")
    c = open_conn(broker)
    assert kwire.metadata_v1(c, [topic]) == {topic: (3, 0)}
    p = Producer({"bootstrap.servers": broker.bootstrap})
    md = p.list_topics(topic, timeout=10)
    assert md.topics[topic].error is not None
    assert md.topics[topic].error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert topic not in p.list_topics(timeout=10).topics
    # a raw Produce to it is refused with UNKNOWN_TOPIC_OR_PARTITION too
    err, _ = kwire.produce_v3(c, topic, 0, kwire.record_batch([b"x"]))
    assert err == 3
    assert topic not in kwire.metadata_v1(c, None)


def test_max_connections(krab):
    broker = krab(mode="embedded", overrides={"max.connections": 5})
    conns = [open_conn(broker) for _ in range(5)]
    for c in conns:
        healthy(c)
    sixth_refused = False
    try:
        sixth = open_conn(broker)
    except OSError:
        sixth_refused = True
    if not sixth_refused:
        # closed quickly, and in any case never served
        try:
            data, _ = sixth.request_bytes(18, 0, b"")
            sixth.send_raw(data)
        except OSError:
            pass
        assert sixth.closed_by_peer(timeout=5), "6th connection was neither refused nor closed"
        assert sixth.leftover == b"", "6th connection was served"
    for c in conns:
        healthy(c)
    # freeing a slot lets a new client in
    conns.pop().close()

    def new_client_served():
        c = open_conn(broker)
        try:
            healthy(c)
            return True
        finally:
            c.close()
    wait_until(new_client_served, timeout=10, msg="a new connection after one closed")


def run_serve(*overrides, timeout=15):
    """Start ``krab serve`` expecting it to exit; returns (rc, stdout, stderr)."""
    tmp = f"/tmp/krab-badcfg-{os.getpid()}-{time.monotonic_ns()}"
    os.makedirs(tmp)
    cmd = [str(KRAB_BIN), "serve", "--override", "listeners=PLAINTEXT://127.0.0.1:0",
           "--override", f"log.dirs={tmp}"]
    for o in overrides:
        cmd += ["--override", o]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"krab serve {overrides} kept running instead of refusing the config:\n"
                    f"{e.stdout}\n{e.stderr}")
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("override,key", [
    ("num.partitions=abc", "num.partitions"),
    ("message.max.bytes=-5", "message.max.bytes"),
    ("broker.id=notanumber", "broker.id"),
    ("auto.create.topics.enable=maybe", "auto.create.topics.enable"),
])
def test_bad_config_value_exit_code_2(override, key):
    if not KRAB_BIN.exists():
        pytest.fail(f"krab binary missing: {KRAB_BIN}")
    rc, out, err = run_serve(override)
    assert rc == 2, f"exit code {rc}\n{out}\n{err}"
    assert key in out + err, f"error message does not name {key}:\n{out}\n{err}"
    assert not LISTENING_RE.search(out), "printed a listening line despite the bad config"


def test_unknown_config_key_warns_and_starts(krab):
    broker = krab(mode="embedded", overrides={"no.such.setting": "1"})
    healthy(open_conn(broker))
    assert "no.such.setting" in broker.stderr_path.read_text(), \
        "unknown key not mentioned in the log:\n" + tail(broker.stderr_path)


def test_port_in_use_fails_cleanly(tmp_path):
    if not KRAB_BIN.exists():
        pytest.fail(f"krab binary missing: {KRAB_BIN}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run([str(KRAB_BIN), "serve", "--override",
                            f"listeners=PLAINTEXT://127.0.0.1:{port}",
                            "--override", f"log.dirs={tmp_path}"],
                           capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL)
    assert p.returncode != 0
    assert not LISTENING_RE.search(p.stdout)
    assert re.search(r"(?i)address.*in use|bind", p.stderr + p.stdout), p.stderr[-2000:]


def test_second_broker_on_the_same_log_dir_is_refused(krab):
    """Two brokers appending to one log dir would corrupt it: the second
    must exit, naming the lock, while the first keeps serving."""
    first = krab(mode="embedded")
    p = subprocess.run([str(KRAB_BIN), "serve", "--override", "listeners=PLAINTEXT://127.0.0.1:0",
                        "--override", f"log.dirs={first.log_dir}"],
                       capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL)
    assert p.returncode != 0
    assert "in use by another process" in p.stderr, p.stderr
    assert "listening on" not in p.stdout
    c = open_conn(first)
    try:
        healthy(c)
    finally:
        c.close()
