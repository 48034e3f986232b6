"""`krab dev`: a throw-away broker for test suites (issue 13). It prints one JSON ready line,
keeps its data in a temporary directory removed on exit, and with --exit-with-parent dies
with the process that started it."""
import json
import subprocess
import sys
import time

import pytest
from kafka import KafkaConsumer, KafkaProducer

from devbroker import DevBroker, dev_broker, pid_alive, read_ready_line  # noqa: F401
from krabtest import KRAB_BIN, run_krab_cli, unique_topic, wait_until


def test_ready_line_bootstrap_serves_clients_and_exit_removes_the_directory(dev_broker):
    b = dev_broker(overrides={"num.partitions": "2"})
    assert set(b.ready) >= {"bootstrap", "data_dir", "pid"}
    assert b.ready["pid"] == b.proc.pid
    assert b.data_dir.is_dir() and b.data_dir.parent == b.workdir
    topic = unique_topic("dev")
    producer = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all")
    for i in range(20):
        producer.send(topic, b"v%d" % i)
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=b.bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=3000)
    got = sorted(m.value for m in consumer)
    consumer.close()
    assert got == sorted(b"v%d" % i for i in range(20))
    described = run_krab_cli("topics", "--bootstrap-server", b.bootstrap, "--describe", "--topic", topic)
    assert "PartitionCount: 2" in described.stdout, described.stdout
    assert b.stop() == 0
    assert not b.data_dir.exists(), "the temporary directory outlived the broker"


def test_two_brokers_in_parallel_get_distinct_ports_and_directories(dev_broker):
    a, b = dev_broker(), dev_broker()
    assert a.bootstrap != b.bootstrap
    assert a.data_dir != b.data_dir
    for broker in (a, b):
        out = run_krab_cli("topics", "--bootstrap-server", broker.bootstrap, "--create", "--topic", "x",
                           "--partitions", "1", "--replication-factor", "1")
        assert out.returncode == 0, out.stderr


def test_bootstrap_file_is_written(dev_broker, tmp_path):
    path = tmp_path / "bootstrap.txt"
    b = dev_broker(extra_args=["--bootstrap-file", str(path)])
    assert path.read_text() == b.bootstrap


def test_killed_parent_leaves_no_broker_and_no_directory(tmp_path):
    # The parent: a Python process that starts `krab dev --exit-with-parent`, forwards its
    # ready line, then sleeps until it is killed with SIGKILL (as a killed test run would be).
    parent_code = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([{str(KRAB_BIN)!r}, 'dev', '--exit-with-parent', '--temp-dir', {str(tmp_path)!r}],"
        " stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)\n"
        "sys.stdout.write(p.stdout.readline().decode()); sys.stdout.flush()\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE)
    try:
        ready = read_ready_line(parent, 15)
        data_dir = ready["data_dir"]
        assert pid_alive(ready["pid"])
        parent.kill()
        parent.wait()
        wait_until(lambda: not pid_alive(ready["pid"]), timeout=10, msg="the orphaned broker to exit")
        wait_until(lambda: not __import__("os").path.exists(data_dir), timeout=5,
                   msg="the broker's directory to be removed")
        assert list(tmp_path.iterdir()) == [], "something was left behind"
    finally:
        if parent.poll() is None:
            parent.kill()


@pytest.mark.parametrize("args, message", [
    (["--override", "zookeeper.connect=127.0.0.1:2181"], "zookeeper.connect is not allowed"),
    (["--override", "no.such.property=1"], "unknown broker property"),
    (["--override", "num.partitions=zero"], "num.partitions"),
])
def test_bad_settings_are_refused_and_leave_nothing(tmp_path, args, message):
    out = subprocess.run([str(KRAB_BIN), "dev", "--temp-dir", str(tmp_path), *args],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert message in out.stderr, out.stderr
    assert out.stdout == ""
    assert list(tmp_path.iterdir()) == []
