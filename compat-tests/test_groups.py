"""Broker-coordinated consumer groups with real clients: librdkafka (confluent-kafka, kcat -G)
and kafka-python.  Membership lives in the broker, so these run on the embedded store; the
ZooKeeper-specific behaviour (offsets in znodes, ZooKeeper-balanced consumers) is in
test_groups_zookeeper.py.

Brokers here allow short sessions (group.min.session.timeout.ms=1000) and skip the initial
rebalance delay so that rebalances take a second, not the defaults' tens of seconds."""
import random
import subprocess
import sys
import textwrap
import time

import pytest
from confluent_kafka import Consumer, Producer

from krabtest import unique_topic, wait_until

GROUP_BROKER = {"group.min.session.timeout.ms": 1000, "group.initial.rebalance.delay.ms": 0,
                "num.partitions": 4}
SESSION_MS = 3000


def produce(bootstrap, topic, values, partitions=4):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i, v in enumerate(values):
        p.produce(topic, v, partition=i % partitions)
    assert p.flush(30) == 0


def consumer(bootstrap, group, name, **extra):
    conf = {"bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
            "auto.offset.reset": "earliest", "session.timeout.ms": SESSION_MS,
            "heartbeat.interval.ms": 200, "enable.partition.eof": False,
            "auto.commit.interval.ms": 200}
    conf.update(extra)
    return Consumer(conf)


def parts(c):
    return sorted(tp.partition for tp in c.assignment())


def pump(consumers, seen, until, timeout=30, msg="condition"):
    """Poll every consumer in turn, recording (name, partition, value), until ``until()``."""
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {msg}: "
                                 f"{ {n: parts(c) for n, c in consumers.items()} }")
        for name, c in consumers.items():
            m = c.poll(0.05)
            if m is not None and not m.error():
                seen.append((name, m.partition(), m.value()))


def test_two_consumers_split_then_one_closes_and_the_other_takes_all(krab):
    broker = krab(overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("g")
    produce(broker.bootstrap, topic, [b"warm-up"])  # creates the topic (4 partitions)
    c1 = consumer(broker.bootstrap, group, "one")
    c2 = consumer(broker.bootstrap, group, "two")
    c1.subscribe([topic])
    c2.subscribe([topic])
    seen = []
    both = {"one": c1, "two": c2}
    pump(both, seen, lambda: len(parts(c1)) == 2 and len(parts(c2)) == 2, msg="a 2+2 split")
    assert set(parts(c1)).isdisjoint(parts(c2))
    assert sorted(parts(c1) + parts(c2)) == [0, 1, 2, 3]
    # Produced once the split is settled: each partition's messages go to its one owner.
    first = [b"a-%03d" % i for i in range(200)]
    produce(broker.bootstrap, topic, first)
    pump(both, seen, lambda: {v for _, _, v in seen} >= set(first), msg="every message")
    by_consumer = {}
    for name, p, v in seen:
        if v in set(first):
            by_consumer.setdefault(p, set()).add(name)
    assert all(len(names) == 1 for names in by_consumer.values()), \
        f"a partition was read by both consumers: {by_consumer}"

    c2.close()  # commits and sends LeaveGroup
    second = [b"b-%03d" % i for i in range(100)]
    produce(broker.bootstrap, topic, second)
    pump({"one": c1}, seen, lambda: parts(c1) == [0, 1, 2, 3]
         and {v for _, _, v in seen} >= set(second), msg="the survivor owning all four")
    c1.close()
    assert {v for _, _, v in seen} == set(first) | set(second) | {b"warm-up"}, "no message lost"


KILLABLE = textwrap.dedent("""
    import sys, time
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2],
                  "session.timeout.ms": %d, "heartbeat.interval.ms": 200,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([sys.argv[3]])
    while True:
        c.poll(0.1)
        print(",".join(str(tp.partition) for tp in c.assignment()), flush=True)
""" % SESSION_MS)


def test_killed_member_is_replaced_after_its_session_times_out(krab, tmp_path):
    broker = krab(overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("g")
    produce(broker.bootstrap, topic, [b"x-%d" % i for i in range(40)])
    script = tmp_path / "member.py"
    script.write_text(KILLABLE)
    other = subprocess.Popen([sys.executable, str(script), broker.bootstrap, group, topic],
                             stdout=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: other.stdout.readline().strip() != "", timeout=30,
                   msg="the other member to get partitions")
        c1 = consumer(broker.bootstrap, group, "survivor")
        c1.subscribe([topic])
        seen = []
        pump({"s": c1}, seen, lambda: len(parts(c1)) == 2, msg="a 2+2 split")
        other.kill()  # SIGKILL: no LeaveGroup, no commit
        other.wait()
        killed_at = time.monotonic()
        pump({"s": c1}, seen, lambda: parts(c1) == [0, 1, 2, 3],
             msg="the survivor taking all four after the session timeout")
        # The killed member never committed: the survivor reads its partitions from the start.
        pump({"s": c1}, seen, lambda: {v for _, _, v in seen} >= {b"x-%d" % i for i in range(40)},
             msg="every message")
        assert time.monotonic() - killed_at >= SESSION_MS / 1000 * 0.5, \
            "taken over before the dead member's session could have expired"
        c1.close()
    finally:
        if other.poll() is None:
            other.kill()
        other.wait()


def test_cooperative_sticky_assignment(krab):
    broker = krab(overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("g")
    produce(broker.bootstrap, topic, [b"c-%d" % i for i in range(40)])
    events = []
    extra = {"partition.assignment.strategy": "cooperative-sticky"}
    c1 = consumer(broker.bootstrap, group, "one", **extra)
    c2 = consumer(broker.bootstrap, group, "two", **extra)
    c1.subscribe([topic], on_assign=lambda c, ps: events.append(("one+", len(ps))),
                 on_revoke=lambda c, ps: events.append(("one-", len(ps))))
    seen = []
    pump({"one": c1}, seen, lambda: parts(c1) == [0, 1, 2, 3], msg="the first member owning all")
    c2.subscribe([topic], on_assign=lambda c, ps: events.append(("two+", len(ps))),
                 on_revoke=lambda c, ps: events.append(("two-", len(ps))))
    pump({"one": c1, "two": c2}, seen, lambda: len(parts(c1)) == 2 and len(parts(c2)) == 2,
         msg="an incremental 2+2 split")
    assert set(parts(c1)).isdisjoint(parts(c2))
    # Incremental: c1 gave up only two partitions and never had all four revoked.
    assert ("one-", 4) not in events, events
    assert ("one-", 2) in events, events
    assert c1.memberid() != c2.memberid()
    c1.close()
    c2.close()


def test_static_membership_rejoins_without_rebalance(krab):
    broker = krab(overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("g")
    produce(broker.bootstrap, topic, [b"s-%d" % i for i in range(8)])
    revoked = []
    static = {"session.timeout.ms": 10000}
    a = consumer(broker.bootstrap, group, "a", **static, **{"group.instance.id": "inst-a"})
    b = consumer(broker.bootstrap, group, "b", **static, **{"group.instance.id": "inst-b"})
    a.subscribe([topic])
    b.subscribe([topic], on_revoke=lambda c, ps: revoked.append(len(ps)))
    seen = []
    pump({"a": a, "b": b}, seen, lambda: len(parts(a)) == 2 and len(parts(b)) == 2,
         msg="a 2+2 split")
    before_a, before_b = parts(a), parts(b)
    revoked.clear()
    a.close()  # a static member does not leave the group on close
    a2 = consumer(broker.bootstrap, group, "a-restarted", **static,
                  **{"group.instance.id": "inst-a"})
    a2.subscribe([topic])
    pump({"a2": a2, "b": b}, seen, lambda: len(parts(a2)) == 2, msg="the restarted member")
    # Let b heartbeat a few times: a rebalance would show up as a revocation.
    end = time.monotonic() + 2
    while time.monotonic() < end:
        b.poll(0.1)
        a2.poll(0.1)
    assert parts(a2) == before_a, "the restarted static member keeps its partitions"
    assert parts(b) == before_b
    assert revoked == [], "no rebalance: b never had partitions revoked"
    a2.close()
    b.close()


def test_kafka_python_group_commits_and_resumes(krab):
    from kafka import KafkaConsumer
    broker = krab(overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("g")
    produce(broker.bootstrap, topic, [b"k-%03d" % i for i in range(60)], partitions=1)

    def kp_consumer():
        return KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             session_timeout_ms=6000, heartbeat_interval_ms=500,
                             consumer_timeout_ms=3000)

    c = kp_consumer()
    got = []
    for m in c:
        got.append(m.value)
        if len(got) == 25:
            break
    c.commit()
    c.close()
    assert got == [b"k-%03d" % i for i in range(25)]
    c = kp_consumer()
    rest = [m.value for m in c]
    c.close()
    assert rest == [b"k-%03d" % i for i in range(25, 60)], "resumes exactly after the commit"


def test_kcat_balanced_consumer(krab):
    broker = krab(overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("g")
    values = [b"kc-%03d" % i for i in range(50)]
    produce(broker.bootstrap, topic, values)
    out = subprocess.run(["kcat", "-b", broker.bootstrap, "-G", group, "-o", "beginning",
                          "-e", "-q", "-f", "%s\n", "-X", "session.timeout.ms=3000", topic],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.split()) == values


def test_pykafka_managed_balanced_consumers(krab):
    """pykafka's broker-coordinated consumer (managed=True): GroupCoordinator, JoinGroup,
    SyncGroup, Heartbeat and LeaveGroup v0, with pykafka's own assignment encoding."""
    from pykafka import KafkaClient
    from pykafka.utils import VERSIONS_CACHE
    VERSIONS_CACHE.clear()
    broker = krab(overrides=GROUP_BROKER)
    topic, group = unique_topic(), unique_topic("g")
    values = [b"pm-%03d" % i for i in range(40)]
    produce(broker.bootstrap, topic, values)

    def managed():
        client = KafkaClient(hosts=broker.bootstrap)
        return client.topics[topic.encode()].get_balanced_consumer(
            consumer_group=group.encode(), managed=True, consumer_timeout_ms=200,
            auto_commit_enable=True, auto_commit_interval_ms=100, heartbeat_interval_ms=300)

    def owned(c):
        return sorted(p if isinstance(p, int) else p.id for p in (c.partitions or ()))

    a, b = managed(), managed()
    try:
        got = set()

        def split_and_read():
            for c in (a, b):
                m = c.consume(block=False)
                if m is not None:
                    got.add(m.value)
            return len(owned(a)) == 2 and len(owned(b)) == 2 and got >= set(values)

        wait_until(split_and_read, timeout=60, interval=0.01, msg="a 2+2 split and every message")
        assert sorted(owned(a) + owned(b)) == [0, 1, 2, 3]
    finally:
        a.stop()
        b.stop()
    VERSIONS_CACHE.clear()


@pytest.mark.parametrize("strategy", ["roundrobin", "cooperative-sticky"])
def test_membership_churn_settles_with_every_partition_owned_once(krab, strategy):
    """Members joining and leaving while others consume (where peers' coordinators lose
    members to UNKNOWN_MEMBER_ID): the group always settles, each partition owned once, and
    every message is read."""
    broker = krab(overrides={**GROUP_BROKER, "num.partitions": 8})
    topic, group = unique_topic(), unique_topic("g")
    values = {b"ch-%03d" % i for i in range(400)}
    produce(broker.bootstrap, topic, sorted(values), partitions=8)
    rng = random.Random(7)
    live, seen, made = {}, set(), 0

    def poll_all(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for c in list(live.values()):
                m = c.poll(0.02)
                if m is not None and not m.error():
                    seen.add(m.value())

    for _ in range(10):
        if len(live) < 2 or rng.random() < 0.6:
            c = consumer(broker.bootstrap, group, f"churn-{made}",
                         **{"partition.assignment.strategy": strategy})
            c.subscribe([topic])
            live[made] = c
            made += 1
        else:
            live.pop(rng.choice(sorted(live))).close()
        poll_all(rng.uniform(0.2, 1.0))

    def settled():
        poll_all(0.2)
        owned = sorted(p for c in live.values() for p in parts(c))
        return owned == list(range(8)) and seen >= values

    wait_until(settled, timeout=60, interval=0, msg="the group to settle and read everything")
    assert all(parts(c) for c in live.values()), "every live member got partitions"
    for c in live.values():
        c.close()
