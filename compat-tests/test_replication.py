"""Replication across three krab brokers on one ZooKeeper (issue 10): the user's notes'
scenario, leader and controller failures, zombie leaders, lagging followers, the whole ISR
lost. Every test checks that nothing acknowledged with acks=all is lost."""
import subprocess
import threading
import time

import pytest

from admintools import Background, ok, topics, wrapper
from clustertest import (LAG_MS, SESSION_MS, Cluster, assert_acked_read_once, produce_acks_all,
                         read_all)
from krabtest import KRAB_BIN, unique_topic, wait_until


def test_document_scenario_survives_a_broker_kill(krab, zk, zookeeper):
    """The notes' commands verbatim on three brokers, then one broker killed with kill -9:
    the same commands still work and every line is still there."""
    c = Cluster(krab, zk, 3)
    name = unique_topic("test")
    ok(topics("-zookeeper", zookeeper.hosts, "-topic", name, "-replication-factor", "2",
              "-partitions", "5", "--create"))
    for p in range(5):
        c.wait_full_isr(name, p)
    described = ok(topics("--zookeeper", zookeeper.hosts, "--describe", "--topic", name))
    lines = [l for l in described.splitlines() if "Partition:" in l]
    assert len(lines) == 5
    for line in lines:
        fields = dict(part.split(": ", 1) for part in line.strip().split("\t"))
        assert len(fields["Replicas"].split(",")) == 2, line
        assert sorted(fields["Isr"].split(",")) == sorted(fields["Replicas"].split(",")), line
    first = [f"line {i}" for i in range(20)]
    ok(wrapper("kafka-console-producer.sh", "--broker-list", c.bootstrap, "--topic", name,
               "--request-required-acks", "-1", input="\n".join(first) + "\n"))
    old = Background("kafka-console-consumer.sh", "--zookeeper", zookeeper.hosts, "--topic", name,
                     "--from-beginning")
    new = Background("kafka-console-consumer.sh", "--bootstrap-server", c.bootstrap, "--topic",
                     name, "--from-beginning")
    try:
        assert sorted(old.read(20)) == sorted(first)
        assert sorted(new.read(20)) == sorted(first)
        victim = c.leader(name, 0)
        c.broker(victim).kill()
        for p in range(5):
            if victim in c.replicas(name, p):
                c.wait_state(name, p, lambda s: victim not in s["isr"] and s["leader"] >= 0,
                             msg="leader and ISR without the killed broker")
        assert ok(topics("--zookeeper", zookeeper.hosts, "--describe", "--topic", name,
                         "--unavailable-partitions")).strip() == ""
        expected_under = sum(1 for p in range(5) if victim in c.replicas(name, p))

        def under_replicated():
            out = ok(topics("--bootstrap-server", c.bootstrap, "--describe", "--topic", name,
                            "--under-replicated-partitions"))
            return len([l for l in out.splitlines() if "Partition:" in l]) == expected_under
        # Brokers learn the new states within a sync round.
        wait_until(under_replicated, timeout=10, msg="--under-replicated-partitions lines")
        second = [f"after kill {i}" for i in range(20)]
        ok(wrapper("kafka-console-producer.sh", "--broker-list", c.bootstrap, "--topic", name,
                   "--request-required-acks", "-1", input="\n".join(second) + "\n"))
        assert sorted(old.read(20)[20:]) == sorted(second)
        assert sorted(new.read(20)[20:]) == sorted(second)
    finally:
        old.stop()
        new.stop()


def _producer_thread(bootstrap, topic, prefix, stop, result, client="confluent"):
    """Produce until ``stop`` is set; result gets (acked {value: (p, o)}, errors)."""
    acked, errors = {}, []
    if client == "confluent":
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                      "linger.ms": 2, "message.timeout.ms": 60000,
                      "topic.metadata.refresh.interval.ms": 1000})

        def cb(err, msg):
            if err is None:
                acked[msg.value()] = (msg.partition(), msg.offset())
            else:
                errors.append(str(err))
        i = 0
        while not stop.is_set():
            try:
                p.produce(topic, value=b"%s-%d" % (prefix, i), on_delivery=cb)
                i += 1
            except BufferError:
                pass
            p.poll(0.0005 if i % 50 else 0.001)
        p.flush(90)
    else:
        from kafka import KafkaProducer
        p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                          retries=1000, request_timeout_ms=20000, linger_ms=2,
                          metadata_max_age_ms=1000, delivery_timeout_ms=60000)
        futures = []
        i = 0
        while not stop.is_set():
            v = b"%s-%d" % (prefix, i)
            futures.append((v, p.send(topic, value=v)))
            i += 1
            if i % 200 == 0:
                time.sleep(0.01)
        p.flush(60)
        for v, f in futures:
            try:
                md = f.get(timeout=60)
                acked[v] = (md.partition, md.offset)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
        p.close()
    result.append((acked, errors))


def test_leader_kill_loses_nothing_acknowledged(krab, zk):
    """RF 3, min.insync.replicas=2, idempotent acks=all producers (confluent-kafka and
    kafka-python) while the leader of partition 0 is killed with kill -9: every acknowledged
    record is read back exactly once at its offset, and the replicas in the ISR hold
    identical batches."""
    c = Cluster(krab, zk, 3)
    name = unique_topic("lk")
    c.create_topic(name, 2, 3, {"min.insync.replicas": 2})
    stop = threading.Event()
    results = []
    threads = [threading.Thread(target=_producer_thread, args=(c.bootstrap, name, pfx, stop, results, client))
               for pfx, client in ((b"cf", "confluent"), (b"kp", "kafka-python"))]
    for t in threads:
        t.start()
    time.sleep(2)
    victim = c.leader(name, 0)
    c.broker(victim).kill()
    c.wait_leader_moved(name, 0, victim, timeout=SESSION_MS / 1000 + 15)
    time.sleep(2)
    stop.set()
    for t in threads:
        t.join(120)
    assert len(results) == 2, "a producer thread failed (see the warnings)"
    acked = {}
    for a, errors in results:
        assert not errors, errors[:5]
        acked.update(a)
    assert len(acked) > 1000
    consumed = read_all(c.bootstrap, name, [0, 1], len(acked))
    assert_acked_read_once(acked, consumed)
    # The killed broker comes back, catches up and rejoins; then all three agree.
    c.broker(victim).start()
    for p in (0, 1):
        c.wait_full_isr(name, p)
        dumps = [c.dump(b, name, p) for b in range(3)]
        assert dumps[0] and dumps[0] == dumps[1] == dumps[2], f"replicas of {name}-{p} differ"


def test_controller_kill_moves_the_controller_and_elections_go_on(krab, zk):
    c = Cluster(krab, zk, 3)
    first = c.controller()
    epoch = c.controller_epoch()
    c.broker(first).kill()
    wait_until(lambda: zk.exists("/controller") and c.controller() != first,
               timeout=SESSION_MS / 1000 + 10, msg="a new controller")
    assert c.controller_epoch() > epoch
    survivors = [b for b in range(3) if b != first]
    name = unique_topic("ck")
    c.create_topic(name, 1, 2, assignment=f"{survivors[0]}:{survivors[1]}")
    c.broker(survivors[0]).kill()
    if c.controller() == survivors[0]:
        wait_until(lambda: zk.exists("/controller") and c.controller() == survivors[1],
                   timeout=SESSION_MS / 1000 + 10, msg="the last broker as controller")
    state = c.wait_leader_moved(name, 0, survivors[0], timeout=SESSION_MS / 1000 + 10)
    assert state["leader"] == survivors[1] and state["isr"] == [survivors[1]]
    acked, errors = produce_acks_all(c.bootstrap, name, [b"after-%d" % i for i in range(100)])
    assert not errors and len(acked) == 100
