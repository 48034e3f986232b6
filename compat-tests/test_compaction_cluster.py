"""Compacted topics with replication factor 2 on ZooKeeper: a follower that was down while its
leader cleaned catches up by copying the leader's gapped log, rejoins the ISR, and, once it
leads, serves the latest value of every key (its own cleaner compacts what it had before)."""
from clustertest import Cluster
from krabtest import unique_topic, wait_until
from test_compaction import COMPACT, as_log, latest, metric, produce_keyed, read_until, roll


def test_follower_catches_up_from_a_cleaned_leader(krab, zk):
    c = Cluster(krab, zk, 2, overrides={"log.cleaner.backoff.ms": 100,
                                        "monitor.listener": "127.0.0.1:0"})
    t = unique_topic("cmprepl")
    c.create_topic(t, 1, 2, configs={**COMPACT, "segment.bytes": 16 * 1024})
    leader = c.leader(t, 0)
    follower = 1 - leader
    lb, fb = c.broker(leader), c.broker(follower)
    keys = [b"key%03d" % i for i in range(50)]
    acked = produce_keyed(lb.bootstrap, t, [(keys[i % 50], b"v%05d" % i + b"." * 100)
                                            for i in range(3000)])
    fb.kill()
    c.wait_state(t, 0, lambda s: s["isr"] == [leader], msg="the killed follower out of the ISR")
    acked += produce_keyed(lb.bootstrap, t, [(keys[i % 50], b"w%05d" % i + b"." * 100)
                                             for i in range(3000)],
                           conf={"acks": "1"})
    sentinel = roll(lb, t)
    expected = as_log(latest(acked + [sentinel]))
    read_until(lb, t, expected, timeout=30, msg="the leader's log cleaned")
    assert metric(lb, "krab_log_cleaner_runs_total") >= 1

    # The follower resumes from its old log end: the leader's batches there now have gaps.
    fb.restart()
    c.wait_full_isr(t, 0, timeout=40)
    after = produce_keyed(lb.bootstrap, t, [(b"key000", b"after-rejoin")])
    expected = as_log(latest(acked + [sentinel] + after))

    lb.kill()
    c.wait_leader_moved(t, 0, leader)
    c.wait_metadata(t, 1)
    # What it copied sits in its active segment: a roll makes it cleanable.
    second = roll(fb, t)
    expected = as_log(latest(acked + [sentinel] + after + [second]))
    got = read_until(fb, t, expected, timeout=40,
                     msg="the former follower serving every latest value, cleaned")
    wait_until(lambda: metric(fb, "krab_log_cleaner_runs_total") >= 1, timeout=10,
               msg="the follower's own cleaner ran")
    assert (after[0][0], b"key000", b"after-rejoin") in got
