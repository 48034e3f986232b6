"""Transactions on a three-broker ZooKeeper cluster: markers reach partitions led by other
brokers (WriteTxnMarkers), and when the transaction coordinator's broker is killed (-9)
mid-transaction, another broker takes the transactional id over from its state in the store
and the producer's commit completes: every record visible exactly once to read_committed."""
import zlib

from clustertest import Cluster
from krabtest import unique_topic
from test_transactions import RC, RU, read_partitions, send, txn_producer


def coordinator_of(txn_id, live_ids):
    """krab picks a coordinator by CRC-32 of the key over the sorted live brokers."""
    live = sorted(live_ids)
    return live[zlib.crc32(txn_id.encode()) % len(live)]


def test_markers_across_brokers_and_coordinator_failover(krab, zk):
    c = Cluster(krab, zk, 3, overrides={"transaction.abort.timed.out.transaction.cleanup.interval.ms": 500})
    t = unique_topic("txncl")
    c.create_topic(t, 3, 2)
    leaders = {p: c.leader(t, p) for p in range(3)}
    assert len(set(leaders.values())) > 1, f"leaders spread over brokers: {leaders}"

    tid = unique_topic("txncl-id")
    p = txn_producer(c.bootstrap, tid, timeout_ms=60000)
    p.begin_transaction()
    first = send(p, t, [(i % 3, b"k%d" % i, b"first-%d" % i) for i in range(30)])
    p.commit_transaction(30)
    rc = read_partitions(c.bootstrap, t, (0, 1, 2), RC)
    assert sorted(v for recs in rc.values() for _, _, v in recs) == sorted(r[3] for r in first)

    # A transaction open when its coordinator dies: the next coordinator finishes it.
    p.begin_transaction()
    second = send(p, t, [(i % 3, b"k%d" % i, b"second-%d" % i) for i in range(30)])
    victim = coordinator_of(tid, c.live_ids())
    c.broker(victim).kill()
    c.wait_registered([i for i in range(3) if i != victim])
    for part in range(3):
        c.wait_state(t, part, lambda s: s["leader"] not in (victim, -1), msg="a live leader")
    p.commit_transaction(60)
    rc = read_partitions(c.bootstrap, t, (0, 1, 2), RC, timeout=40)
    got = sorted(v for recs in rc.values() for _, _, v in recs)
    assert got == sorted(r[3] for r in first + second), "every committed record exactly once"
    ru = read_partitions(c.bootstrap, t, (0, 1, 2), RU, timeout=40)
    assert sorted(v for recs in ru.values() for _, _, v in recs) == got

    # The id lives on at its new coordinator: a new instance fences the old one and commits.
    fresh = txn_producer(c.bootstrap, tid, timeout_ms=60000)
    fresh.begin_transaction()
    third = send(fresh, t, [(0, b"k", b"third")])
    fresh.commit_transaction(30)
    rc = read_partitions(c.bootstrap, t, (0,), RC, timeout=40)
    assert rc[0][-1][2] == b"third" and third[0][1] == rc[0][-1][0]
