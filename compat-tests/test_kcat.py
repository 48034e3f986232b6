"""kcat (librdkafka) against krab: metadata listing, produce/consume, keys, headers, codecs."""
import re
import shutil
import subprocess

import pytest

KCAT = shutil.which("kcat") or shutil.which("kafkacat")


def kcat(*args, input=None, timeout=60):
    if KCAT is None:
        pytest.fail("kcat not installed (apt-get install kcat)")
    p = subprocess.run([KCAT, *args], input=input, capture_output=True, text=True,
                       timeout=timeout)
    return p


def kcat_ok(*args, **kw):
    p = kcat(*args, **kw)
    assert p.returncode == 0, f"kcat {' '.join(args)} exited {p.returncode}\n{p.stderr[-3000:]}"
    return p


def produce(bootstrap, topic, lines, *extra):
    kcat_ok("-P", "-b", bootstrap, "-t", topic, *extra, input="".join(l + "\n" for l in lines))


def consume(bootstrap, topic, *extra):
    p = kcat_ok("-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", *extra)
    return p.stdout.splitlines()


def test_list_metadata(broker, topic):
    produce(broker.bootstrap, topic, ["hello"])  # auto-creates the topic
    out = kcat_ok("-L", "-b", broker.bootstrap).stdout
    m = re.search(r"broker (-?\d+) at (\S+):(\d+)", out)
    assert m, out
    broker_id = int(m.group(1))
    assert (m.group(2), int(m.group(3))) == ("127.0.0.1", broker.port), out
    assert f'topic "{topic}" with 1 partitions' in out, out
    assert re.search(rf"partition 0, leader {broker_id}, replicas: {broker_id}, isrs: {broker_id}",
                     out), out


def test_list_metadata_json(broker, topic):
    import json
    produce(broker.bootstrap, topic, ["hello"])
    md = json.loads(kcat_ok("-L", "-J", "-b", broker.bootstrap, "-t", topic).stdout)
    assert len(md["brokers"]) == 1
    assert md["brokers"][0]["name"] == f"127.0.0.1:{broker.port}"
    (t,) = md["topics"]
    assert t["topic"] == topic and "error" not in t, t
    (p,) = t["partitions"]
    assert p["partition"] == 0 and p["leader"] == md["brokers"][0]["id"], p


def test_produce_consume_lines(broker, topic):
    lines = [f"line {i} " + "z" * i for i in range(100)]
    produce(broker.bootstrap, topic, lines)
    assert consume(broker.bootstrap, topic) == lines
    # a second batch is appended after the first
    more = [f"more {i}" for i in range(10)]
    produce(broker.bootstrap, topic, more)
    assert consume(broker.bootstrap, topic) == lines + more
    # -Q: offset lookup by timestamp (ListOffsets v1); -1 = end of log
    q = kcat_ok("-Q", "-b", broker.bootstrap, "-t", f"{topic}:0:-1").stdout
    assert re.search(r"offset 110\b", q), q


def test_keys_and_headers(krab, topic):
    broker = krab(mode="embedded")
    lines = [f"key{i}:value {i}" for i in range(20)]
    produce(broker.bootstrap, topic, lines, "-K:", "-H", "h1=v1", "-H", "h2=v2")
    out = consume(broker.bootstrap, topic, "-f", "%k|%s|%o|%h\n")
    assert out == [f"key{i}|value {i}|{i}|h1=v1,h2=v2" for i in range(20)]
    # -K: on the consume side prints key<delim>value
    assert consume(broker.bootstrap, topic, "-K:") == lines


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_codecs(krab, topic, codec):
    broker = krab(mode="embedded")
    lines = [f"{codec} record {i:05d} " + "abc" * (i % 40) for i in range(500)]
    produce(broker.bootstrap, topic, lines, "-z", codec, "-X", "linger.ms=50")
    assert consume(broker.bootstrap, topic) == lines
    # consume with offsets to check numbering inside compressed batches
    out = consume(broker.bootstrap, topic, "-f", "%o %s\n")
    assert out == [f"{i} {l}" for i, l in enumerate(lines)]


def test_consume_offsets_and_counts(krab, topic):
    broker = krab(mode="embedded")
    lines = [f"n{i}" for i in range(30)]
    produce(broker.bootstrap, topic, lines)
    # absolute start offset + count
    assert kcat_ok("-C", "-b", broker.bootstrap, "-t", topic, "-p", "0", "-o", "10", "-c", "3",
                   "-q").stdout.splitlines() == ["n10", "n11", "n12"]
    # relative from the end (-o -5: ListOffsets latest minus 5)
    assert consume(broker.bootstrap, topic, "-o", "-5") == lines[-5:]
    # -o end -e: nothing new
    p = kcat_ok("-C", "-b", broker.bootstrap, "-t", topic, "-o", "end", "-e", "-q")
    assert p.stdout == ""
