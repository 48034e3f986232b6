"""Replication across three krab brokers on one ZooKeeper (issue 10): the user's notes'
scenario, leader and controller failures, zombie leaders, lagging followers, the whole ISR
lost. Every test checks that nothing acknowledged with acks=all is lost."""
import json
import subprocess
import threading
import time

import pytest

from admintools import Background, ok, topics, wrapper
from clustertest import (CLUSTER_OVERRIDES, LAG_MS, SESSION_MS, Cluster, assert_acked_read_once, produce_acks_all,
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


def _produce_raw(broker, topic, partition, values, acks=-1, timeout_ms=5000):
    """One Produce v3 straight to ``broker``; returns (error_code, base_offset)."""
    import kwire
    conn = kwire.Conn(broker.host, broker.port)
    try:
        return kwire.produce_v3(conn, topic, partition, kwire.record_batch(values), acks=acks,
                                timeout_ms=timeout_ms)
    finally:
        conn.close()


NOT_LEADER, NOT_ENOUGH_REPLICAS = 6, 19


def test_zombie_leader_acknowledges_nothing_after_losing_leadership(krab, zk):
    """The leader is paused (SIGSTOP) past its ZooKeeper session: the controller elects the
    follower, writes go there; resumed, the old leader acknowledges nothing, truncates and
    rejoins with a log identical to the new leader's."""
    c = Cluster(krab, zk, 3)
    name = unique_topic("zombie")
    c.create_topic(name, 1, 2, {"min.insync.replicas": 1}, assignment="0:1")
    before, errors = produce_acks_all(c.bootstrap, name, [b"before-%d" % i for i in range(200)])
    assert not errors and len(before) == 200
    c.pause(0)
    try:
        state = c.wait_leader_moved(name, 0, 0, timeout=SESSION_MS / 1000 + 10)
        assert state["leader"] == 1 and state["leader_epoch"] >= 1
        survivors = ",".join(c.broker(b).bootstrap for b in (1, 2))
        during, errors = produce_acks_all(survivors, name, [b"during-%d" % i for i in range(200)])
        assert not errors and len(during) == 200
    finally:
        c.resume(0)
    # Straight to the old leader, before and while it learns it lost leadership: it must
    # not acknowledge (NOT_LEADER_OR_FOLLOWER, or a timeout) - or, if it ever did, the
    # record must survive below.
    zombie_acked = {}
    for i in range(20):
        value = b"zombie-%d" % i
        code, offset = _produce_raw(c.broker(0), name, 0, [value], acks=-1, timeout_ms=2000)
        if code == 0:
            zombie_acked[value] = (0, offset)
        time.sleep(0.05)
    assert not zombie_acked, f"the old leader acknowledged {zombie_acked}"
    c.wait_full_isr(name, 0)
    acked = {**before, **during}
    consumed = read_all(c.bootstrap, name, [0], len(acked))
    assert_acked_read_once(acked, consumed)
    wait_until(lambda: c.dump(0, name, 0) == c.dump(1, name, 0), timeout=10,
               msg="identical logs on the old and the new leader")


def test_paused_follower_leaves_and_rejoins_the_isr(krab, zk):
    """A follower paused longer than replica.lag.time.max.ms (but shorter than its session)
    leaves the ISR; acks=all writes go on where min.insync.replicas allows and get
    NOT_ENOUGH_REPLICAS where it does not; resumed, the follower catches up and rejoins."""
    c = Cluster(krab, zk, 3, overrides={"zookeeper.session.timeout.ms": 6000,
                                         "replica.lag.time.max.ms": 1500})
    strict, relaxed = unique_topic("strict"), unique_topic("relaxed")
    c.create_topic(strict, 1, 2, {"min.insync.replicas": 2}, assignment="0:1")
    c.create_topic(relaxed, 1, 2, {"min.insync.replicas": 1}, assignment="0:1")
    assert _produce_raw(c.broker(0), strict, 0, [b"both in sync"])[0] == 0
    c.pause(1)
    try:
        for t in (strict, relaxed):
            state = c.wait_state(t, 0, lambda s: s["isr"] == [0], timeout=5, msg="ISR without 1")
            assert state["leader"] == 0
        assert 1 in c.live_ids(), "the paused follower's session must still be alive"
        code, _ = _produce_raw(c.broker(0), strict, 0, [b"refused"])
        assert code == NOT_ENOUGH_REPLICAS
        code, offset = _produce_raw(c.broker(0), relaxed, 0, [b"accepted"])
        assert code == 0
        assert _produce_raw(c.broker(0), strict, 0, [b"acks=1 still works"], acks=1)[0] == 0
    finally:
        c.resume(1)
    for t in (strict, relaxed):
        c.wait_full_isr(t, 0, timeout=15)
    assert _produce_raw(c.broker(0), strict, 0, [b"in sync again"])[0] == 0
    values = [v for _, v in read_all(c.bootstrap, strict, [0], 3)[0]]
    assert values == [b"both in sync", b"acks=1 still works", b"in sync again"]
    wait_until(lambda: c.dump(0, strict, 0) == c.dump(1, strict, 0), timeout=10,
               msg="identical replicas")


def test_follower_with_a_full_disk_leaves_the_isr_and_the_leader_goes_on(krab, zk):
    """A follower whose log directory fills up (a 2 MB tmpfs) stops replicating without
    crashing; the leader drops it from the ISR and keeps acknowledging acks=all writes
    (min.insync.replicas=1), and every acknowledged record is read back."""
    mounted = []

    def small_disk(brokers):
        target = brokers[1].log_dir
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(target)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.strip()}")
        mounted.append(target)

    try:
        c = Cluster(krab, zk, 2, overrides={"replica.lag.time.max.ms": 1500}, prepare=small_disk)
        name = unique_topic("diskfull")
        c.create_topic(name, 1, 2, {"min.insync.replicas": 1}, assignment="0:1")
        values = [b"%06d:" % i + bytes(1018) for i in range(3000)]  # ~3 MB > the follower's disk
        acked, errors = produce_acks_all(c.bootstrap, name, values)
        assert not errors, errors[:3]
        state = c.wait_state(name, 0, lambda s: s["isr"] == [0], timeout=15,
                             msg="the full follower out of the ISR")
        assert state["leader"] == 0
        assert c.broker(1).running(), "a full disk must not crash the follower"
        assert 1 in c.live_ids()
        more = [b"after:%06d" % i for i in range(200)]
        acked_more, errors = produce_acks_all(c.bootstrap, name, more)
        assert not errors, errors[:3]
        acked.update(acked_more)
        assert len(acked) == len(values) + len(more)
        consumed = read_all(c.bootstrap, name, [0], len(acked))
        assert_acked_read_once(acked, consumed)
        assert c.state(name, 0)["isr"] == [0], "a follower that cannot write must stay out"
    finally:
        for target in mounted:
            subprocess.run(["umount", "-l", str(target)], capture_output=True)


def test_whole_isr_lost_waits_for_an_isr_member_unless_unclean(krab, zk):
    c = Cluster(krab, zk, 3)
    clean, unclean = unique_topic("clean"), unique_topic("unclean")
    c.create_topic(clean, 1, 2, assignment="0:1")
    c.create_topic(unclean, 1, 2, {"unclean.leader.election.enable": "true"}, assignment="0:1")
    for t in (clean, unclean):
        assert _produce_raw(c.broker(0), t, 0, [b"first"])[0] == 0
    c.broker(1).kill()
    for t in (clean, unclean):
        c.wait_state(t, 0, lambda s: s["isr"] == [0], timeout=SESSION_MS / 1000 + 10, msg="ISR [0]")
    # Written while only 0 is in sync: 1 never saw it.
    for t in (clean, unclean):
        assert _produce_raw(c.broker(0), t, 0, [b"only on 0"])[0] == 0
    c.broker(0).kill()
    state = c.wait_state(clean, 0, lambda s: s["leader"] == -1, timeout=SESSION_MS / 1000 + 10,
                         msg="no leader")
    assert state["isr"] == [0]
    c.broker(1).start()
    c.wait_registered([1, 2])
    c.wait_state(unclean, 0, lambda s: s["leader"] == 1, timeout=10, msg="unclean leader 1")
    time.sleep(1.5)
    assert c.leader(clean, 0) == -1, "a replica outside the ISR must not lead with unclean off"
    c.broker(0).start()
    c.wait_state(clean, 0, lambda s: s["leader"] == 0, timeout=10, msg="leader 0 back")
    values = [v for _, v in read_all(c.bootstrap, clean, [0], 2)[0]]
    assert values == [b"first", b"only on 0"]
    # The unclean topic lost the record only 0 had; 0 truncated to 1's log.
    c.wait_full_isr(unclean, 0)
    values = [v for _, v in read_all(c.bootstrap, unclean, [0], 1)[0]]
    assert values == [b"first"]
    wait_until(lambda: c.dump(0, unclean, 0) == c.dump(1, unclean, 0), timeout=10,
               msg="0 truncated to the unclean leader's log")


def test_divergent_logs_end_identical_after_two_hard_crashes(krab, zk):
    """KIP-101/KIP-279: the follower crashes, the leader takes more writes alone and
    crashes, the follower comes back as (unclean) leader and takes different writes; when
    the old leader returns it truncates by leader epoch and both logs end identical."""
    c = Cluster(krab, zk, 3)
    name = unique_topic("kip101")
    c.create_topic(name, 1, 2, {"unclean.leader.election.enable": "true"}, assignment="0:1")
    common, errors = produce_acks_all(c.bootstrap, name, [b"common-%d" % i for i in range(500)])
    assert not errors and len(common) == 500
    c.broker(1).kill()
    c.wait_state(name, 0, lambda s: s["isr"] == [0], timeout=SESSION_MS / 1000 + 10, msg="ISR [0]")
    for i in range(30):
        assert _produce_raw(c.broker(0), name, 0, [b"lost-%d-%d" % (i, j) for j in range(10)], acks=1)[0] == 0
    c.broker(0).kill()
    c.broker(1).start()
    c.wait_state(name, 0, lambda s: s["leader"] == 1, timeout=SESSION_MS / 1000 + 10, msg="leader 1")
    for i in range(10):
        code = 6
        deadline = time.monotonic() + 10
        while code != 0 and time.monotonic() < deadline:
            code = _produce_raw(c.broker(1), name, 0, [b"new-%d" % i], acks=1)[0]
            time.sleep(0.05 if code else 0)
        assert code == 0
    c.broker(0).start()
    c.wait_full_isr(name, 0, timeout=20)
    wait_until(lambda: c.dump(0, name, 0) == c.dump(1, name, 0), timeout=10,
               msg="identical logs after truncation by leader epoch")
    values = [v for _, v in read_all(c.bootstrap, name, [0], 510)[0]]
    assert values == [b"common-%d" % i for i in range(500)] + [b"new-%d" % i for i in range(10)]


def test_rolling_controlled_restart_under_load(krab, zk):
    """Every broker restarted in turn with SIGTERM (controlled shutdown) while an idempotent
    acks=all producer runs: no acknowledged record lost, no delivery error."""
    c = Cluster(krab, zk, 3)
    name = unique_topic("rolling")
    c.create_topic(name, 3, 3, {"min.insync.replicas": 2})
    stop = threading.Event()
    results = []
    t = threading.Thread(target=_producer_thread, args=(c.bootstrap, name, b"roll", stop, results))
    t.start()
    try:
        for b in range(3):
            time.sleep(1)
            c.broker(b).stop()
            c.broker(b).start()
            c.wait_registered([0, 1, 2])
            for p in range(3):
                c.wait_full_isr(name, p, timeout=30)
        time.sleep(1)
    finally:
        stop.set()
        t.join(120)
    assert len(results) == 1
    acked, errors = results[0]
    assert not errors, errors[:5]
    assert len(acked) > 1000
    consumed = read_all(c.bootstrap, name, [0, 1, 2], len(acked))
    assert_acked_read_once(acked, consumed)


def _reassign(*args):
    return wrapper("kafka-reassign-partitions.sh", *args)


def test_reassignment_while_producing_then_preferred_election(krab, zk, zookeeper, tmp_path):
    """Partitions move from brokers {0,1} to {1,2} with kafka-reassign-partitions.sh while a
    producer runs (ZooKeeper mode for one topic, --bootstrap-server for the other); nothing
    acknowledged is lost and broker 0 drops its replicas. Then a controlled restart moves
    leadership away from broker 1 and the preferred-election tools bring it back."""
    c = Cluster(krab, zk, 3)
    a, b = unique_topic("move-zk"), unique_topic("move-bs")
    for t in (a, b):
        c.create_topic(t, 2, 2, assignment="0:1,1:0")
    stop = threading.Event()
    results = {a: [], b: []}
    threads = [threading.Thread(target=_producer_thread, args=(c.bootstrap, t, t.encode(), stop, results[t]))
               for t in (a, b)]
    for t in threads:
        t.start()
    try:
        _move_both(c, zookeeper, tmp_path, a, b)
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    assert all(len(r) == 1 for r in results.values()), "a producer thread failed"
    _after_move(c, zk, zookeeper, a, b, results)


def _move_both(c, zookeeper, tmp_path, a, b):
    time.sleep(1)
    plans = {}
    for t in (a, b):
        plan = tmp_path / f"{t}.json"
        plan.write_text(json.dumps({"version": 1, "partitions": [
            {"topic": t, "partition": 0, "replicas": [1, 2]},
            {"topic": t, "partition": 1, "replicas": [2, 1]}]}))
        plans[t] = plan
    out = ok(_reassign("--zookeeper", zookeeper.hosts, "--reassignment-json-file", plans[a], "--execute"))
    assert "Successfully started partition reassignment" in out
    assert '"replicas":[0,1]' in out, out
    ok(_reassign("--bootstrap-server", c.bootstrap, "--reassignment-json-file", plans[b], "--execute"))

    def complete(t, mode):
        r = _reassign(*mode, "--reassignment-json-file", plans[t], "--verify")
        return r.returncode == 0 and r.stdout.count("is complete.") == 2
    wait_until(lambda: complete(a, ["--zookeeper", zookeeper.hosts]), timeout=60, msg="reassignment done")
    wait_until(lambda: complete(b, ["--bootstrap-server", c.bootstrap]), timeout=60, msg="reassignment done")
    time.sleep(1)


def _after_move(c, zk, zookeeper, a, b, results):
    assert not zk.exists("/admin/reassign_partitions")
    for t in (a, b):
        assert c.replicas(t, 0) == [1, 2] and c.replicas(t, 1) == [2, 1]
        for p in (0, 1):
            assert set(c.state(t, p)["isr"]) <= {1, 2}
            wait_until(lambda: not (c.broker(0).log_dir / f"{t}-{p}").exists(), timeout=10,
                       msg="broker 0 deleting its moved replica")
    for t in (a, b):
        acked, errors = results[t][0]
        assert not errors, errors[:5]
        consumed = read_all(c.bootstrap, t, [0, 1], len(acked))
        assert_acked_read_once(acked, consumed)
    for p in (0, 1):
        c.wait_full_isr(a, p)
        assert c.dump(1, a, p) == c.dump(2, a, p)

    # Preferred leaders: a controlled restart of broker 1 hands partition 0 to broker 2...
    c.broker(1).stop()
    c.wait_state(a, 0, lambda s: s["leader"] == 2, timeout=10, msg="leader moved off 1")
    c.broker(1).start()
    c.wait_full_isr(a, 0)
    assert c.leader(a, 0) == 2
    # ...and the 0.9 tool (ZooKeeper) brings it back,
    out = ok(wrapper("kafka-preferred-replica-election.sh", "--zookeeper", zookeeper.hosts))
    assert "Successfully started preferred replica election" in out
    c.wait_state(a, 0, lambda s: s["leader"] == 1, timeout=10, msg="preferred leader 1")
    wait_until(lambda: not zk.exists("/admin/preferred_replica_election"), timeout=10,
               msg="the election request consumed")
    # as does kafka-leader-election.sh (ElectLeaders) after another restart.
    c.broker(1).stop()
    c.wait_state(a, 0, lambda s: s["leader"] == 2, timeout=10, msg="leader moved off 1")
    c.broker(1).start()
    c.wait_full_isr(a, 0)
    out = ok(wrapper("kafka-leader-election.sh", "--bootstrap-server", c.bootstrap,
                     "--election-type", "preferred", "--topic", a, "--partition", "0"))
    assert f"Successfully completed leader election (PREFERRED) for partitions {a}-0" in out
    assert c.leader(a, 0) == 1
    out = ok(wrapper("kafka-leader-election.sh", "--bootstrap-server", c.bootstrap,
                     "--election-type", "preferred", "--topic", a, "--partition", "0"))
    assert f"Valid replica already elected for partitions {a}-0" in out


def test_bad_reassignment_and_election_input_writes_nothing(krab, zk, zookeeper, tmp_path):
    c = Cluster(krab, zk, 2)
    name = unique_topic("badmove")
    c.create_topic(name, 1, 2)
    cases = {
        "not json": "{",
        "no partitions": '{"version":1}',
        "unknown broker": json.dumps({"partitions": [{"topic": name, "partition": 0, "replicas": [0, 9]}]}),
        "repeated replica": json.dumps({"partitions": [{"topic": name, "partition": 0, "replicas": [1, 1]}]}),
        "empty replicas": json.dumps({"partitions": [{"topic": name, "partition": 0, "replicas": []}]}),
        "unknown partition": json.dumps({"partitions": [{"topic": name, "partition": 7, "replicas": [0, 1]}]}),
        "unknown topic": json.dumps({"partitions": [{"topic": "nope", "partition": 0, "replicas": [0, 1]}]}),
    }
    for why, text in cases.items():
        f = tmp_path / "plan.json"
        f.write_text(text)
        for mode in (["--zookeeper", zookeeper.hosts], ["--bootstrap-server", c.bootstrap]):
            r = _reassign(*mode, "--reassignment-json-file", f, "--execute")
            assert r.returncode != 0, f"{why}: {r.stdout}"
            assert r.stderr.strip(), why
            assert not zk.exists("/admin/reassign_partitions"), why
    bad = tmp_path / "election.json"
    bad.write_text('{"partitions":[{"topic":"t"}]}')
    r = wrapper("kafka-preferred-replica-election.sh", "--zookeeper", zookeeper.hosts,
                "--path-to-json-file", bad)
    assert r.returncode != 0 and "partition" in r.stderr
    assert not zk.exists("/admin/preferred_replica_election")
    r = wrapper("kafka-leader-election.sh", "--bootstrap-server", c.bootstrap,
                "--election-type", "sideways", "--all-topic-partitions")
    assert r.returncode != 0 and "election-type" in r.stderr
    # min.insync.replicas above the replication factor is refused at creation.
    r = subprocess.run([str(KRAB_BIN), "topics", "--bootstrap-server", c.bootstrap, "--create",
                        "--topic", unique_topic("minisr"), "--partitions", "1",
                        "--replication-factor", "2", "--config", "min.insync.replicas=3"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "min.insync.replicas" in r.stderr


def test_pykafka_consumers_survive_a_broker_kill(krab, zk, zookeeper):
    """The notes' client: pykafka's balanced consumers (coordinated in ZooKeeper) keep
    consuming when a broker that leads partitions dies, and rebalance when one of them
    leaves; a simple consumer resumes from its committed offsets afterwards."""
    from pykafka import KafkaClient
    from pykafka.common import OffsetType
    c = Cluster(krab, zk, 3)
    name = unique_topic("pyk")
    c.create_topic(name, 4, 2)
    client = KafkaClient(hosts=c.bootstrap)
    topic = client.topics[name.encode()]
    with topic.get_sync_producer() as producer:
        for i in range(40):
            producer.produce(b"first %d" % i, partition_key=b"%d" % i)

    clients = []  # pykafka's topics hold their cluster weakly: keep the clients alive

    def balanced():
        clients.append(KafkaClient(hosts=c.bootstrap))
        return clients[-1].topics[name.encode()].get_balanced_consumer(
            consumer_group=b"pyk-group", zookeeper_connect=zookeeper.hosts, auto_commit_enable=True,
            auto_commit_interval_ms=100, consumer_timeout_ms=200, num_consumer_fetchers=1,
            auto_offset_reset=OffsetType.EARLIEST)
    consumers = [balanced(), balanced()]
    seen = set()

    def drain(until, timeout=60):
        deadline = time.monotonic() + timeout
        while not until() and time.monotonic() < deadline:
            for consumer in consumers:
                m = consumer.consume(block=False)
                if m is not None:
                    seen.add(m.value)
            time.sleep(0.01)
        return until()
    try:
        assert drain(lambda: len(seen) == 40), f"{len(seen)} of 40 before the kill"
        victim = c.leader(name, 0)
        c.broker(victim).kill()
        for p in range(4):
            if victim in c.replicas(name, p):
                c.wait_state(name, p, lambda s: s["leader"] not in (victim, -1),
                             timeout=SESSION_MS / 1000 + 10, msg="new leader")
        acked, errors = produce_acks_all(c.bootstrap, name, [b"second %d" % i for i in range(40)])
        assert not errors and len(acked) == 40
        assert drain(lambda: len(seen) == 80), f"{len(seen)} of 80 after the kill"
        consumers.pop().stop()
        wait_until(lambda: sorted(p if isinstance(p, int) else p.id
                                  for p in (consumers[0].partitions or ())) == [0, 1, 2, 3],
                   timeout=60, msg="the remaining consumer owning every partition")
        acked, errors = produce_acks_all(c.bootstrap, name, [b"third %d" % i for i in range(20)])
        assert not errors
        assert drain(lambda: len(seen) == 100), f"{len(seen)} of 100 after the rebalance"
    finally:
        for consumer in consumers:
            consumer.stop()
    # A simple consumer commits, stops, and the next one resumes where it left off.
    live_client = KafkaClient(hosts=c.bootstrap)
    live = live_client.topics[name.encode()]
    first = live.get_simple_consumer(consumer_group=b"pyk-simple", auto_commit_enable=False,
                                     auto_offset_reset=OffsetType.EARLIEST, consumer_timeout_ms=2000)
    got = [first.consume() for _ in range(30)]
    first.commit_offsets()
    first.stop()
    second = live.get_simple_consumer(consumer_group=b"pyk-simple", auto_commit_enable=False,
                                      auto_offset_reset=OffsetType.EARLIEST, consumer_timeout_ms=3000)
    rest = [m for m in second if m is not None]
    second.stop()
    assert len(got) + len(rest) == 100
    assert {m.value for m in got}.isdisjoint({m.value for m in rest})


def test_three_node_zookeeper_ensemble_survives_losing_its_leader(krab, tmp_path):
    """The notes' ensemble: three ZooKeeper servers and three brokers with
    zookeeper.connect listing all three; the ZooKeeper leader is killed and brokers,
    elections and acks=all writes carry on, then a broker is killed too."""
    from clustertest import ZooKeeperEnsemble
    ensemble = ZooKeeperEnsemble(tmp_path / "ensemble").start()
    try:
        brokers = []
        for i in range(3):
            b = krab(mode="embedded", broker_id=i, start=False,
                     overrides={**CLUSTER_OVERRIDES, "zookeeper.connect": ensemble.hosts,
                                "zookeeper.session.timeout.ms": 6000})
            b.start()
            brokers.append(b)
        zk = ensemble.client()
        try:
            wait_until(lambda: len(zk.get_children("/brokers/ids")) == 3, timeout=30, msg="3 brokers")
            bootstrap = ",".join(b.bootstrap for b in brokers)
            name = unique_topic("ens")
            r = subprocess.run([str(KRAB_BIN), "topics", "--zookeeper", ensemble.hosts, "--create", "--topic",
                                name, "--partitions", "3", "--replication-factor", "2"],
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
            before, errors = produce_acks_all(bootstrap, name, [b"before-%d" % i for i in range(300)])
            assert not errors and len(before) == 300
            ensemble.kill(ensemble.leader())
            during, errors = produce_acks_all(bootstrap, name, [b"zk-down-%d" % i for i in range(300)])
            assert not errors and len(during) == 300
            wait_until(lambda: len(zk.get_children("/brokers/ids")) == 3, timeout=30,
                       msg="brokers still registered after the ZooKeeper leader died")
            state = json.loads(zk.get(f"/brokers/topics/{name}/partitions/0/state")[0])
            victim = state["leader"]
            brokers[victim].kill()

            def moved():
                s = json.loads(zk.get(f"/brokers/topics/{name}/partitions/0/state")[0])
                return s["leader"] not in (victim, -1)
            wait_until(moved, timeout=30, msg="a new leader elected through the remaining quorum")
            live = ",".join(b.bootstrap for b in brokers if b.running())
            after, errors = produce_acks_all(live, name, [b"after-%d" % i for i in range(300)])
            assert not errors and len(after) == 300
            acked = {**before, **during, **after}
            assert_acked_read_once(acked, read_all(live, name, [0, 1, 2], len(acked)))
        finally:
            zk.stop()
            zk.close()
    finally:
        for b in brokers:
            if b.running():
                b.stop()
        ensemble.stop()


def committed_total(zk, group, topic):
    """The sum of the group's committed offsets in ZooKeeper (a partition never committed: 0)."""
    base = f"/consumers/{group}/offsets/{topic}"
    if not zk.exists(base):
        return 0
    return sum(int(zk.get(f"{base}/{p}")[0]) for p in zk.get_children(base))


def test_consumer_group_moves_to_a_live_coordinator_when_its_broker_dies(krab, zk):
    """A confluent-kafka group keeps consuming when the broker coordinating it is killed:
    the group moves to a live broker and resumes from the offsets committed in ZooKeeper."""
    from confluent_kafka import Consumer
    c = Cluster(krab, zk, 3)
    name = unique_topic("grp")
    c.create_topic(name, 3, 3)
    first, errors = produce_acks_all(c.bootstrap, name, [b"a-%d" % i for i in range(60)])
    assert not errors
    group = unique_topic("g")
    consumer = Consumer({"bootstrap.servers": c.bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                         "topic.metadata.refresh.interval.ms": 1000})
    consumer.subscribe([name])
    got = set()
    try:
        deadline = time.monotonic() + 60
        while len(got) < 60 and time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is not None and not m.error():
                got.add(m.value())
        assert len(got) == 60
        consumer.commit(asynchronous=False)
        assert committed_total(zk, group, name) == 60
        import kwire
        conn = kwire.Conn(c.broker(0).host, c.broker(0).port)
        try:
            r = conn.call(10, 0, kwire.string(group))  # FindCoordinator v0
            assert r.i16() == 0
            coordinator = r.i32()
        finally:
            conn.close()
        c.broker(coordinator).kill()
        second, errors = produce_acks_all(",".join(b.bootstrap for b in c.brokers if b.running()),
                                          name, [b"b-%d" % i for i in range(60)])
        assert not errors
        deadline = time.monotonic() + 60
        while len(got) < 120 and time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is not None and not m.error():
                got.add(m.value())
        assert got == set(first) | set(second)
        # Group membership lives in the coordinator's memory (offsets are in ZooKeeper), so
        # the new coordinator makes the member rejoin (which may redeliver from the last
        # commit) before its commits are accepted again.
        from confluent_kafka import KafkaException

        def committed_all():
            m = consumer.poll(0.2)
            if m is not None and not m.error():
                assert m.value() in got
            try:
                consumer.commit(asynchronous=False)
            except KafkaException:
                return False
            return committed_total(zk, group, name) == 120
        wait_until(committed_all, timeout=40, interval=0.05,
                   msg="all 120 offsets committed through the new coordinator")
    finally:
        consumer.close()


def test_monitor_counts_under_replicated_and_offline_partitions(krab, zk, zookeeper, tmp_path):
    """The monitor's cluster page and /api/cluster count partitions whose ISR lost a replica
    and partitions with no leader, as ZooKeeper's state znodes say."""
    from monitortest import MonitorProcess, api, http, refreshed_after, now_ms
    c = Cluster(krab, zk, 2)
    shared, alone = unique_topic("shared"), unique_topic("alone")
    c.create_topic(shared, 2, 2, assignment="0:1,1:0")
    c.create_topic(alone, 1, 1, assignment="1")
    with MonitorProcess(tmp_path / "mon", ["--zk", zookeeper.hosts]) as mon:
        refreshed_after(mon.url, now_ms())
        healthy = api(mon.url, "/api/cluster")
        assert healthy["under_replicated_partitions"] == 0 and healthy["offline_partitions"] == 0
        c.broker(1).kill()
        for p in range(2):
            c.wait_state(shared, p, lambda s: s["isr"] == [0], timeout=SESSION_MS / 1000 + 10,
                         msg="ISR without the killed broker")
        c.wait_state(alone, 0, lambda s: s["leader"] == -1, timeout=10, msg="no leader")
        refreshed_after(mon.url, now_ms())
        cluster = api(mon.url, "/api/cluster")
        assert cluster["partition_health"][shared] == {"partitions": 2, "under_replicated": 2, "offline": 0}
        assert cluster["partition_health"][alone] == {"partitions": 1, "under_replicated": 0, "offline": 1}
        assert cluster["under_replicated_partitions"] == 2 and cluster["offline_partitions"] == 1
        status, page, _ = http(mon.url + "/cluster")
        assert status == 200
        assert "3 partitions" in page and '<span class="under-replicated-total">2</span>' in page
        assert '<span class="offline-total">1</span>' in page


@pytest.mark.parametrize("mode", ["zookeeper", "bootstrap"])
def test_reassignment_throttle_limits_the_copy_and_verify_removes_it(krab, zk, zookeeper, tmp_path, mode):
    """--throttle writes Kafka's throttle configs (rates on the brokers involved, throttled
    replica lists on the topic); the new follower copies at about that rate; --verify removes
    every throttle once the move is complete."""
    c = Cluster(krab, zk, 2)
    name = unique_topic("throttled")
    c.create_topic(name, 1, 1, assignment="0")
    values = [b"%05d:" % i + bytes(994) for i in range(2000)]  # 2 MB
    acked, errors = produce_acks_all(c.bootstrap, name, values, idempotent=False)
    assert not errors and len(acked) == len(values)
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"version": 1, "partitions": [{"topic": name, "partition": 0, "replicas": [0, 1]}]}))
    source = ["--zookeeper", zookeeper.hosts] if mode == "zookeeper" else ["--bootstrap-server", c.bootstrap]
    out = ok(_reassign(*source, "--reassignment-json-file", plan, "--execute", "--throttle", "500000"))
    assert "The inter-broker throttle limit was set to 500000 B/s" in out
    for b in (0, 1):
        rates = json.loads(zk.get(f"/config/brokers/{b}")[0])["config"]
        assert rates == {"leader.replication.throttled.rate": "500000",
                         "follower.replication.throttled.rate": "500000"}
    topic_config = json.loads(zk.get(f"/config/topics/{name}")[0])["config"]
    assert topic_config["leader.replication.throttled.replicas"] == "0:0"
    assert topic_config["follower.replication.throttled.replicas"] == "0:1"
    # 2 MB at 500 kB/s takes about 4 s; unthrottled it takes milliseconds.
    time.sleep(1.5)
    r = _reassign(*source, "--reassignment-json-file", plan, "--verify")
    assert "is still in progress" in r.stdout, r.stdout
    assert "Throttle was removed" not in r.stdout
    c.wait_full_isr(name, 0, timeout=30)
    outputs = []

    def verified():
        outputs.append(ok(_reassign(*source, "--reassignment-json-file", plan, "--verify")))
        return "is complete." in outputs[-1]
    wait_until(verified, timeout=10, interval=0.2, msg="the controller completes the move")
    assert "Throttle was removed." in outputs[-1]
    for b in (0, 1):
        assert json.loads(zk.get(f"/config/brokers/{b}")[0])["config"] == {}
    assert json.loads(zk.get(f"/config/topics/{name}")[0])["config"] == {}
    wait_until(lambda: c.dump(0, name, 0) == c.dump(1, name, 0), timeout=10, msg="identical replicas")
