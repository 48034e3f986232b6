"""Kafka transactions (KIP-98 / KIP-447) as clients see them: commit and abort with
confluent-kafka, kafka-python 3 and aiokafka; read_committed readers stop at the last stable
offset and drop aborted data, read_uncommitted readers see it; commit/abort markers take one
offset each and are never handed to an application; consume-transform-produce is exactly once
across a SIGKILL of the app; a second instance with the same transactional.id fences the
first; the broker aborts transactions past their transaction.timeout.ms, also after a SIGKILL
of the broker; ListOffsets honours the isolation level; old clients (pykafka, Fetch v1/v2) see
committed and aborted data but no control records; DescribeTransactions / ListTransactions
(kafka-python's admin; confluent-kafka 2.16 has no such API); transactional offsets become
the group's committed offsets on commit only (also in ZooKeeper); transaction.max.timeout.ms;
transactional.id.expiration.ms.

Layout used by the exact-offset assertions: one producer's transactions go one after another,
each transaction's records are contiguous in every partition it wrote to, followed by exactly
one marker (control batch of one record) in each of those partitions (see :func:`layout`).

Markers are written after EndTxn has been answered (Kafka writes them asynchronously), so
reads after a commit/abort poll until the expected final state (:func:`read_until`).

Brokers run embedded with a 200 ms expired-transaction check interval and short group
sessions.  The consume-transform-produce app is txn_app.py, run as a subprocess."""
import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer,
                             TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic

from krabtest import REPO, eventually, unique_topic, wait_until

APP = Path(__file__).resolve().parent / "txn_app.py"

BASE_OVERRIDES = {
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "200",
    "group.min.session.timeout.ms": "1000",
    "group.initial.rebalance.delay.ms": "0",
}
TXN_TIMEOUT_MS = 20000  # transaction.timeout.ms where a test does not care
RC, RU = "read_committed", "read_uncommitted"
# librdkafka reports fencing as _FENCED (it normalizes PRODUCER_FENCED / INVALID_PRODUCER_EPOCH)
FENCED = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH}


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def start_broker(krab, extra=None, mode="embedded"):
    return krab(mode=mode, overrides={**BASE_OVERRIDES, **(extra or {})})


def create_topic(b, name, partitions=1):
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(15)

    def leaders():
        parts = admin.list_topics(name, timeout=5).topics[name].partitions
        return len(parts) == partitions and all(p.leader >= 0 for p in parts.values())
    wait_until(leaders, timeout=15, msg=f"a leader for every partition of {name}")
    return name


def txn_producer(bootstrap, txn_id, timeout_ms=TXN_TIMEOUT_MS, init=True, **conf):
    """A confluent transactional producer (init_transactions() already done unless init=False)."""
    c = {"bootstrap.servers": bootstrap, "transactional.id": txn_id,
         "transaction.timeout.ms": timeout_ms, "linger.ms": 5}
    c.update(conf)
    p = Producer(c)
    if init:
        p.init_transactions(30)
    return p


def send(p, topic, items, timeout=30):
    """Produce (partition, key, value) items and flush: every one must be acknowledged.
    Returns [(partition, offset, key, value)] in produce order."""
    results = [None] * len(items)

    def report(i):
        def cb(err, msg):
            results[i] = err if err is not None else (msg.partition(), msg.offset(), msg.key(),
                                                      msg.value())
        return cb

    for i, (part, key, value) in enumerate(items):
        p.produce(topic, key=key, value=value, partition=part, on_delivery=report(i))
        p.poll(0)
    left = p.flush(timeout)
    assert left == 0, f"{left} records still undelivered after {timeout}s"
    errors = [r for r in results if not isinstance(r, tuple)]
    assert not errors, f"delivery errors: {errors[:5]}"
    return results


def produce_plain(bootstrap, topic, items):
    """Non-transactional (idempotent) produce of (partition, key, value) items."""
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    return send(p, topic, items)


def items(prefix, n, partitions=1):
    """n (partition, key, value) items ``<prefix>-<i>``, round-robin over the partitions."""
    return [(i % partitions, b"%s-k%d" % (prefix, i), b"%s-%d" % (prefix, i)) for i in range(n)]


def layout(txns, start=None):
    """Where one producer's transactions (lists of (partition, key, value), run one after
    another) land: every transaction's records contiguous per partition, then one marker per
    partition it touched.  Returns ([[(partition, offset, key, value)] per txn], {partition:
    log end offset})."""
    nxt = dict(start or {})
    placed = []
    for txn in txns:
        out, touched = [], []
        for part, key, value in txn:
            off = nxt.get(part, 0)
            out.append((part, off, key, value))
            nxt[part] = off + 1
            if part not in touched:
                touched.append(part)
        for part in touched:
            nxt[part] += 1  # the commit/abort marker
        placed.append(out)
    return placed, nxt


def by_partition(records, partitions):
    """[(partition, offset, key, value)] -> {partition: [(offset, key, value)]} in offset order."""
    out = {p: [] for p in partitions}
    for part, off, key, value in records:
        out[part].append((off, key, value))
    return {p: sorted(v) for p, v in out.items()}


def read_partitions(bootstrap, topic, partitions=(0,), isolation=RC, timeout=20):
    """{partition: [(offset, key, value)]} from the log start to the end this consumer sees
    (the LSO for read_committed, the high watermark for read_uncommitted), read by a confluent
    consumer (assign, enable.partition.eof)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("txn-reader"),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": True, "isolation.level": isolation})
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        out = {p: [] for p in partitions}
        at_end = set()
        deadline = time.monotonic() + timeout
        while at_end != set(partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"no end of partition(s) {sorted(set(partitions) - at_end)} "
                                     f"after {timeout}s ({ {p: len(v) for p, v in out.items()} })")
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(m.partition())
                    continue
                raise AssertionError(f"consumer error: {m.error()}")
            out[m.partition()].append((m.offset(), m.key(), m.value()))
        return out
    finally:
        c.close()


def diff(got, expected):
    if not isinstance(got, dict):
        return repr(got)[:800]
    parts = []
    for p in sorted(set(got) | set(expected)):
        g, e = got.get(p, []), expected.get(p, [])
        if g == e:
            continue
        first = next((i for i, (x, y) in enumerate(zip(g, e)) if x != y), min(len(g), len(e)))
        parts.append(f"partition {p}: {len(g)} read, {len(e)} expected, first difference at "
                     f"#{first}: got {g[first:first + 3]} expected {e[first:first + 3]}")
    return "; ".join(parts) or "equal"


def read_until(bootstrap, topic, expected, isolation, timeout=20, project=None, msg=None):
    """Read ``expected``'s partitions until they are exactly ``expected`` ({partition: list});
    ``project`` maps each (offset, key, value) first (e.g. to compare values only)."""
    proj = project or (lambda r: r)

    def read():
        got = read_partitions(bootstrap, topic, tuple(sorted(expected)), isolation)
        return {p: [proj(r) for r in rs] for p, rs in got.items()}
    return eventually(read, lambda got: got == expected, timeout,
                      msg or f"the {isolation} view of {topic}",
                      show=lambda got: diff(got, expected))


def values(recs):
    return [v for _, _, v in recs]


def watermarks(bootstrap, topic, partition=0, isolation=RC):
    """(low, high) from ListOffsets with the consumer's isolation.level: high is the LSO for
    read_committed, the high watermark for read_uncommitted."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("txn-wm"),
                  "enable.auto.commit": False, "isolation.level": isolation})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
    finally:
        c.close()


def committed(bootstrap, group, topic, partitions=(0,)):
    """The group's committed offsets (OffsetFetch, require_stable as read_committed)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                  "isolation.level": RC})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return [tp.offset for tp in tps]
    finally:
        c.close()


def attempt(errors, fn):
    """Run a transactional call; on KafkaException record its KafkaError and return False."""
    try:
        fn()
        return True
    except KafkaException as e:
        errors.append(e.args[0])
        return False


def describe_errors(errors):
    return [(e.name(), e.fatal(), e.retriable(), e.txn_requires_abort(), e.str())
            for e in errors]


# ---------------------------------------------------------------------------------------------
# 1. confluent-kafka: commit, abort, commit on two partitions; read_committed vs uncommitted
# ---------------------------------------------------------------------------------------------
def test_confluent_commit_abort_read_committed_and_uncommitted(krab):
    b = start_broker(krab)
    t = create_topic(b, unique_topic("txn"), 2)
    first, aborted, second = items(b"c1", 20, 2), items(b"ab", 15, 2), items(b"c2", 10, 2)
    (exp1, exp_ab, exp2), ends = layout([first, aborted, second])

    p = txn_producer(b.bootstrap, unique_topic("tid"))
    p.begin_transaction()
    acked1 = send(p, t, first)
    p.commit_transaction(30)
    p.begin_transaction()
    acked_ab = send(p, t, aborted)  # flushed: the records are in the log before the abort
    p.abort_transaction(30)
    p.begin_transaction()
    acked2 = send(p, t, second)
    p.commit_transaction(30)

    # the delivery reports already show the markers' gaps
    assert acked1 == exp1
    assert acked_ab == exp_ab, "the 2nd transaction starts after the 1st one's marker"
    assert acked2 == exp2, "the 3rd transaction starts after the abort marker"

    rc = read_until(b.bootstrap, t, by_partition(exp1 + exp2, (0, 1)), RC,
                    msg="the read_committed view: both committed transactions, in order")
    ru = read_until(b.bootstrap, t, by_partition(exp1 + exp_ab + exp2, (0, 1)), RU,
                    msg="the read_uncommitted view: all data records, no control records")
    for part in (0, 1):
        # offsets never handed out: exactly the three markers
        data = {o for o, _, _ in ru[part]}
        gaps = sorted(set(range(ends[part])) - data)
        assert len(gaps) == 3, (part, gaps)
        assert not any(v.startswith(b"ab-") for v in values(rc[part]))
        assert watermarks(b.bootstrap, t, part, RC) == (0, ends[part])
        assert watermarks(b.bootstrap, t, part, RU) == (0, ends[part])


# ---------------------------------------------------------------------------------------------
# 2. kafka-python 3
# ---------------------------------------------------------------------------------------------
def kp_read(bootstrap, topic, isolation, timeout=20):
    """kafka-python consumer (assign): (end_offsets() with its isolation_level, [(offset, key,
    value)] read until its position reaches that end)."""
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTP

    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="earliest", isolation_level=isolation,
                      request_timeout_ms=15000)
    try:
        tp = KTP(topic, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        end = c.end_offsets([tp])[tp]
        recs = []
        deadline = time.monotonic() + timeout
        while c.position(tp) < end and time.monotonic() < deadline:
            for _tp, rs in c.poll(timeout_ms=300).items():
                recs.extend((r.offset, r.key, r.value) for r in rs)
        return end, recs
    finally:
        c.close()


def test_kafka_python_transactions(krab):
    from kafka import KafkaProducer
    from kafka import TopicPartition as KTP
    from kafka.structs import OffsetAndMetadata

    b = start_broker(krab)
    t = create_topic(b, unique_topic("kptxn"))
    group = unique_topic("kp-group")
    first, aborted, second = items(b"kp1", 8), items(b"kpab", 6), items(b"kp2", 5)
    (exp1, exp_ab, exp2), ends = layout([first, aborted, second])

    p = KafkaProducer(bootstrap_servers=b.bootstrap, transactional_id=unique_topic("kp-tid"),
                      transaction_timeout_ms=TXN_TIMEOUT_MS, request_timeout_ms=15000,
                      max_block_ms=30000)
    try:
        p.init_transactions()

        def run(txn, offset, commit):
            p.begin_transaction()
            futs = [p.send(t, key=k, value=v, partition=part) for part, k, v in txn]
            p.flush(30)
            p.send_offsets_to_transaction({KTP(t, 0): OffsetAndMetadata(offset, "", -1)}, group)
            if commit:
                p.commit_transaction()
            else:
                p.abort_transaction()
            return [(f.get(10).partition, f.get(10).offset) for f in futs]

        assert run(first, 4, True) == [(part, off) for part, off, _, _ in exp1]
        assert run(aborted, 14, False) == [(part, off) for part, off, _, _ in exp_ab]
        assert run(second, 9, True) == [(part, off) for part, off, _, _ in exp2]
    finally:
        p.close(timeout=5)

    # offsets sent in the committed transactions count, the aborted one's (14) never
    eventually(lambda: committed(b.bootstrap, group, t), lambda v: v == [9], timeout=15,
               msg="the group's committed offset from the last committed transaction (9)")

    committed_view = by_partition(exp1 + exp2, (0,))
    read_until(b.bootstrap, t, committed_view, RC, msg="markers written")
    end, recs = kp_read(b.bootstrap, t, RC)
    assert end == ends[0], "end_offsets(read_committed) is the LSO == high watermark here"
    assert recs == committed_view[0], diff({0: recs}, committed_view)
    end, recs = kp_read(b.bootstrap, t, RU)
    assert end == ends[0]
    expected_all = by_partition(exp1 + exp_ab + exp2, (0,))[0]
    assert recs == expected_all, diff({0: recs}, {0: expected_all})


# ---------------------------------------------------------------------------------------------
# 3. aiokafka
# ---------------------------------------------------------------------------------------------
async def aio_read(bootstrap, topic, isolation, timeout=20):
    """aiokafka consumer (assign): (high watermark from end_offsets(), last_stable_offset()
    seen in fetch responses, [(offset, key, value)] read until the position reaches the end)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition as ATP

    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest", isolation_level=isolation,
                         request_timeout_ms=15000)
    await c.start()
    try:
        tp = ATP(topic, 0)
        c.assign([tp])
        await c.seek_to_beginning(tp)
        end = (await c.end_offsets([tp]))[tp]  # ListOffsets v1: the high watermark
        recs = []
        deadline = time.monotonic() + timeout
        while await c.position(tp) < end and time.monotonic() < deadline:
            for rs in (await c.getmany(tp, timeout_ms=300)).values():
                recs.extend((r.offset, r.key, r.value) for r in rs)
        return end, c.last_stable_offset(tp), recs
    finally:
        await c.stop()


def test_aiokafka_transactions(krab):
    from aiokafka import AIOKafkaProducer
    from aiokafka.structs import TopicPartition as ATP

    b = start_broker(krab)
    t = create_topic(b, unique_topic("aiotxn"))
    group = unique_topic("aio-group")
    first, aborted, second = items(b"aio1", 7), items(b"aioab", 9), items(b"aio2", 4)
    (exp1, exp_ab, exp2), ends = layout([first, aborted, second])

    async def produce():
        p = AIOKafkaProducer(bootstrap_servers=b.bootstrap,
                             transactional_id=unique_topic("aio-tid"),
                             transaction_timeout_ms=TXN_TIMEOUT_MS, request_timeout_ms=15000)
        await p.start()
        try:
            placed = []
            async with p.transaction():
                futs = [await p.send(t, key=k, value=v, partition=part) for part, k, v in first]
                await p.send_offsets_to_transaction({ATP(t, 0): 3}, group)
            placed.append([(md.partition, md.offset) for md in [await f for f in futs]])

            await p.begin_transaction()
            futs = [await p.send(t, key=k, value=v, partition=part) for part, k, v in aborted]
            await p.flush()  # in the log before the abort
            await p.send_offsets_to_transaction({ATP(t, 0): 12}, group)
            await p.abort_transaction()
            placed.append([(md.partition, md.offset) for md in [await f for f in futs]])

            async with p.transaction():
                futs = [await p.send(t, key=k, value=v, partition=part) for part, k, v in second]
                await p.send_offsets_to_transaction({ATP(t, 0): 5}, group)
            placed.append([(md.partition, md.offset) for md in [await f for f in futs]])
            return placed
        finally:
            await p.stop()

    placed = asyncio.run(produce())
    assert placed == [[(part, off) for part, off, _, _ in exp] for exp in (exp1, exp_ab, exp2)]
    eventually(lambda: committed(b.bootstrap, group, t), lambda v: v == [5], timeout=15,
               msg="the group's committed offset from the last committed transaction (5)")

    committed_view = by_partition(exp1 + exp2, (0,))
    read_until(b.bootstrap, t, committed_view, RC, msg="markers written")
    end, lso, recs = asyncio.run(aio_read(b.bootstrap, t, RC))
    assert end == ends[0]
    assert lso == ends[0], "the LSO in fetch responses equals the high watermark once all ended"
    assert recs == committed_view[0], diff({0: recs}, committed_view)
    end, _, recs = asyncio.run(aio_read(b.bootstrap, t, RU))
    expected_all = by_partition(exp1 + exp_ab + exp2, (0,))[0]
    assert recs == expected_all, diff({0: recs}, {0: expected_all})


# ---------------------------------------------------------------------------------------------
# 4. consume-transform-produce, exactly once across a SIGKILL of the app
# ---------------------------------------------------------------------------------------------
def launch_app(tmp_path, run, args):
    out = tmp_path / f"txn_app.{run}.out"
    f = open(out, "wb")
    proc = subprocess.Popen([sys.executable, str(APP), *map(str, args)], stdout=f,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=str(APP.parent))
    f.close()
    return proc, out


def wait_for_line(proc, out, pattern, timeout):
    deadline = time.monotonic() + timeout
    while True:
        text = out.read_text(errors="replace")
        m = re.search(pattern, text, re.M)
        if m:
            return m, text
        if proc.poll() is not None:
            pytest.fail(f"the app exited with {proc.returncode} before printing {pattern!r}:\n"
                        f"{text[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"the app printed no {pattern!r} within {timeout}s:\n{text[-4000:]}")
        time.sleep(0.05)


@pytest.mark.timeout(240)  # ~20 s when it passes; room for the 60 s + 90 s waits when not
def test_consume_transform_produce_exactly_once_across_app_sigkill(krab, tmp_path):
    """txn_app.py turns 2000 input records (2 partitions) into out-<v> records, 50 per
    transaction.  Run 1 is SIGKILLed inside an open transaction (records in the log, offsets
    sent) after >= 500 committed records; run 2 (same transactional.id and group) must fence it,
    resume at the committed offsets and finish: every input exactly once in the output."""
    b = start_broker(krab)
    src = create_topic(b, unique_topic("eos-in"), 2)
    dst = create_topic(b, unique_topic("eos-out"), 2)
    group, tid = unique_topic("eos-group"), unique_topic("eos-tid")
    n = 2000
    produce_plain(b.bootstrap, src, [(i % 2, b"%d" % i, b"%d" % i) for i in range(n)])
    expected = {p: [(b"%d" % i, b"out-%d" % i) for i in range(n) if i % 2 == p] for p in (0, 1)}
    args = ["--bootstrap", b.bootstrap, "--input", src, "--output", dst, "--group", group,
            "--transactional-id", tid, "--batch", 50]

    procs = []
    try:
        # run 1: after >= 500 committed records it opens one more transaction (records flushed
        # to the log, offsets sent) and hangs; SIGKILL it there
        proc1, out1 = launch_app(tmp_path, 1, args + ["--hang-after", 500])
        procs.append(proc1)
        m, text = wait_for_line(proc1, out1, r"^HANGING n=(\d+)$", timeout=60)
        proc1.kill()
        proc1.wait(10)
        hung = int(m.group(1))
        done1 = [int(x) for x in re.findall(r"^COMMITTED total=(\d+)$", text, re.M)]
        assert done1 and done1[-1] >= 500, text[-2000:]
        committed1 = done1[-1]

        # the zombie's open transaction: its records are in the log, hidden from read_committed
        eventually(lambda: read_partitions(b.bootstrap, dst, (0, 1), RC),
                   lambda got: sum(map(len, got.values())) == committed1, timeout=15,
                   msg=f"{committed1} committed output records before the restart",
                   show=lambda got: {p: len(v) for p, v in got.items()})
        ru = read_partitions(b.bootstrap, dst, (0, 1), RU)
        assert sum(map(len, ru.values())) == committed1 + hung, \
            "the hung transaction's records are in the log (read_uncommitted)"

        # run 2, same transactional.id and group: init_transactions fences the zombie and aborts
        # its transaction (records and pending offsets); it resumes at the committed offsets
        proc2, out2 = launch_app(tmp_path, 2, args)
        procs.append(proc2)
        try:
            rc = proc2.wait(90)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the restarted app did not finish in 90s:\n"
                        f"{out2.read_text(errors='replace')[-4000:]}")
        text2 = out2.read_text(errors="replace")
        assert rc == 0, f"the restarted app exited with {rc}:\n{text2[-4000:]}"
        m = re.search(r"^DONE processed=(\d+)$", text2, re.M)
        assert m, text2[-4000:]
        assert int(m.group(1)) == n - committed1, \
            "the restarted app starts exactly where the committed transactions left off"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)

    # every input exactly once, in order, per partition
    read_until(b.bootstrap, dst, expected, RC, timeout=30, project=lambda r: (r[1], r[2]),
               msg="exactly one out-<v> per input record, in input order")
    ru = read_partitions(b.bootstrap, dst, (0, 1), RU)
    assert sum(map(len, ru.values())) == n + hung, \
        "read_uncommitted: every output record plus the zombie's aborted batch"
    eventually(lambda: committed(b.bootstrap, group, src, (0, 1)),
               lambda v: v == [n // 2, n // 2], timeout=15,
               msg=f"the group's committed offsets at the input's end ({n // 2} each)")


# ---------------------------------------------------------------------------------------------
# 5. fencing: a second instance with the same transactional.id
# ---------------------------------------------------------------------------------------------
def test_second_instance_fences_the_first(krab):
    b = start_broker(krab)
    t = create_topic(b, unique_topic("fence"))
    tid = unique_topic("fence-tid")

    first = txn_producer(b.bootstrap, tid)
    first.begin_transaction()
    zombie = send(first, t, items(b"zombie", 3))
    assert [o for _, o, _, _ in zombie] == [0, 1, 2]

    # init_transactions of the second instance bumps the epoch and aborts the open transaction
    second = txn_producer(b.bootstrap, tid)

    errors = []
    attempt(errors, lambda: first.produce(t, value=b"zombie-late", partition=0))
    # librdkafka raises the fatal fencing error from flush() once the broker refuses the epoch
    attempt(errors, lambda: first.flush(10))
    commit_ok = attempt(errors, lambda: first.commit_transaction(15))
    assert not commit_ok, "the fenced producer's commit succeeded"
    if not errors[-1].fatal() and errors[-1].txn_requires_abort():
        attempt(errors, lambda: first.abort_transaction(15))
    assert any(e.fatal() and e.code() in FENCED for e in errors), \
        f"expected a fatal fencing error, got {describe_errors(errors)}"

    second.begin_transaction()
    fresh = send(second, t, items(b"second", 4))
    second.commit_transaction(30)
    # the abort marker of the fenced transaction sits at 3, before the new instance's records
    assert [o for _, o, _, _ in fresh] == [4, 5, 6, 7]

    read_until(b.bootstrap, t, {0: [(o, k, v) for _, o, k, v in fresh]}, RC,
               msg="only the new instance's records, read_committed")
    ru = read_until(b.bootstrap, t, {0: [(o, k, v) for _, o, k, v in zombie + fresh]}, RU,
                    msg="read_uncommitted: the fenced producer's records, then the new ones")
    assert b"zombie-late" not in values(ru[0]), "a produce with the fenced epoch was appended"
    assert watermarks(b.bootstrap, t, 0, RC) == (0, 9)


# ---------------------------------------------------------------------------------------------
# 6. transaction.timeout.ms: the broker aborts an abandoned transaction
# ---------------------------------------------------------------------------------------------
def test_broker_aborts_transaction_past_its_timeout(krab):
    timeout_ms = 2000
    b = start_broker(krab)
    t = create_topic(b, unique_topic("txntimeout"))

    stuck = txn_producer(b.bootstrap, unique_topic("stuck"), timeout_ms=timeout_ms)
    t0 = time.monotonic()
    stuck.begin_transaction()
    stuck_recs = send(stuck, t, items(b"stuck", 5))
    assert [o for _, o, _, _ in stuck_recs] == [0, 1, 2, 3, 4]
    assert watermarks(b.bootstrap, t, 0, RC) == (0, 0), "the open transaction holds the LSO at 0"
    assert watermarks(b.bootstrap, t, 0, RU) == (0, 5)

    # another producer commits on the same partition; its data is behind the stuck records
    other = txn_producer(b.bootstrap, unique_topic("other"))
    other.begin_transaction()
    later = send(other, t, items(b"later", 3))
    other.commit_transaction(30)

    # 5 + 3 records and two markers: the LSO reaches the end once the stuck one is aborted
    wait_until(lambda: watermarks(b.bootstrap, t, 0, RC) == (0, 10), timeout=15,
               interval=0.05, msg="the broker to abort the timed-out transaction (LSO == 10)")
    elapsed = time.monotonic() - t0
    assert elapsed >= timeout_ms / 1000 - 0.2, \
        f"transaction aborted after {elapsed:.2f}s, before transaction.timeout.ms"
    assert watermarks(b.bootstrap, t, 0, RU) == (0, 10)

    expected_rc = {0: [b"later-%d" % i for i in range(3)]}
    read_until(b.bootstrap, t, expected_rc, RC, project=lambda r: r[2],
               msg="read_committed: the later committed records, never the stuck ones")
    read_until(b.bootstrap, t, {0: values((o, k, v) for _, o, k, v in stuck_recs + later)}, RU,
               project=lambda r: r[2], msg="read_uncommitted: stuck (aborted) + later records")

    # the stuck producer was fenced by the timeout abort: its commit fails
    errors = []
    assert not attempt(errors, lambda: stuck.commit_transaction(10)), \
        "commit of a transaction the broker aborted on timeout succeeded"
    print("stuck producer's commit failed with", describe_errors(errors))
    read_until(b.bootstrap, t, expected_rc, RC, project=lambda r: r[2],
               msg="still no stuck records after the failed commit")


# ---------------------------------------------------------------------------------------------
# 7. broker SIGKILL with transactions open
# ---------------------------------------------------------------------------------------------
def test_broker_sigkill_with_open_transactions(krab):
    """Two producers have a transaction open (records acknowledged) when the broker is
    SIGKILLed.  After the restart: "abandoned" does nothing, so the broker must time its
    transaction out (3 s); "resumed" tries to commit, then a new instance with its id
    fences it and commits more.  Committed-before-kill data survives; read_committed sees the
    open transactions' records only if their commit succeeded."""
    b = start_broker(krab)
    t = create_topic(b, unique_topic("txnkill"), 2)
    ab_id, re_id = unique_topic("abandoned"), unique_topic("resumed")
    pa = txn_producer(b.bootstrap, ab_id, timeout_ms=3000)
    pb = txn_producer(b.bootstrap, re_id, timeout_ms=15000)

    def txn(p, part, prefix, n, commit):
        p.begin_transaction()
        recs = send(p, t, [(part, None, b"%s-%d" % (prefix, i)) for i in range(n)])
        if commit:
            p.commit_transaction(30)
        return [v for _, _, _, v in recs]

    before_a = txn(pa, 0, b"a-before", 5, True)
    before_b = txn(pb, 1, b"b-before", 5, True)
    read_until(b.bootstrap, t, {0: before_a, 1: before_b}, RC, project=lambda r: r[2],
               msg="the transactions committed before the kill")
    open_a = txn(pa, 0, b"a-open", 4, False)
    open_b = txn(pb, 1, b"b-open", 4, False)

    b.kill()
    b.restart()

    # the abandoned transaction is aborted by the broker's timeout after the restart
    wait_until(lambda: watermarks(b.bootstrap, t, 0, RC) == watermarks(b.bootstrap, t, 0, RU),
               timeout=25, msg="partition 0's LSO to reach its high watermark (abandoned "
                               "transaction aborted on timeout after the restart)")
    read_until(b.bootstrap, t, {0: before_a}, RC, project=lambda r: r[2],
               msg="partition 0 read_committed: only what was committed before the kill")
    read_until(b.bootstrap, t, {0: before_a + open_a}, RU, project=lambda r: r[2],
               msg="partition 0 read_uncommitted: the acknowledged open records survived")

    # the resumed producer tries to commit its open transaction
    errors = []
    committed_b = attempt(errors, lambda: pb.commit_transaction(30))
    if not committed_b:
        if errors[-1].txn_requires_abort():
            attempt(errors, lambda: pb.abort_transaction(30))
        # a retriable error (e.g. a timeout) leaves the outcome open
        committed_b = None if errors[0].retriable() else False
    print("resumed producer's commit:", committed_b, describe_errors(errors))

    # a new instance with the same id: fences pb, finishes anything still open, commits more
    pb2 = txn_producer(b.bootstrap, re_id)
    after_b = txn(pb2, 1, b"b-after", 3, True)

    with_open = {1: before_b + open_b + after_b}
    without_open = {1: before_b + after_b}
    if committed_b is None:
        got = eventually(lambda: {1: values(read_partitions(b.bootstrap, t, (1,), RC)[1])},
                         lambda g: g in (with_open, without_open), timeout=20,
                         msg="partition 1 read_committed with all or none of the open records",
                         show=lambda g: diff(g, with_open))
        print("outcome of the ambiguous commit: records", "visible" if got == with_open
              else "aborted")
    else:
        read_until(b.bootstrap, t, with_open if committed_b else without_open, RC,
                   project=lambda r: r[2],
                   msg="partition 1 read_committed: open records iff the commit succeeded")
    read_until(b.bootstrap, t, with_open, RU, project=lambda r: r[2],
               msg="partition 1 read_uncommitted: every acknowledged record")
    for part in (0, 1):
        wait_until(lambda: watermarks(b.bootstrap, t, part, RC)
                   == watermarks(b.bootstrap, t, part, RU),
                   timeout=15, msg=f"no transaction left open on partition {part}")

    # the abandoned producer's transaction was aborted (and it was fenced): commit fails
    errors = []
    assert not attempt(errors, lambda: pa.commit_transaction(15)), \
        "commit of the transaction the broker aborted on timeout succeeded"
    read_until(b.bootstrap, t, {0: before_a}, RC, project=lambda r: r[2],
               msg="partition 0 still without the abandoned records")


# ---------------------------------------------------------------------------------------------
# 8. ListOffsets and Fetch with an open transaction
# ---------------------------------------------------------------------------------------------
def test_list_offsets_honours_isolation_level(krab):
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KTP

    b = start_broker(krab)
    t = create_topic(b, unique_topic("lso"))
    plain = produce_plain(b.bootstrap, t, items(b"plain", 5))
    p = txn_producer(b.bootstrap, unique_topic("lso-tid"))
    p.begin_transaction()
    open_recs = send(p, t, items(b"open", 3))
    assert [o for _, o, _, _ in open_recs] == [5, 6, 7]

    assert watermarks(b.bootstrap, t, 0, RC) == (0, 5), "read_committed: the LSO"
    assert watermarks(b.bootstrap, t, 0, RU) == (0, 8), "read_uncommitted: the high watermark"
    for isolation, end in ((RC, 5), (RU, 8)):
        c = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=None, isolation_level=isolation,
                          request_timeout_ms=15000)
        try:
            got = c.end_offsets([KTP(t, 0)])[KTP(t, 0)]
        finally:
            c.close()
        assert got == end, f"kafka-python end_offsets with {isolation}"

    # Fetch: a read_committed consumer reaches its end at the LSO
    plain_view = [(o, k, v) for _, o, k, v in plain]
    assert read_partitions(b.bootstrap, t, (0,), RC) == {0: plain_view}
    assert read_partitions(b.bootstrap, t, (0,), RU) == \
        {0: plain_view + [(o, k, v) for _, o, k, v in open_recs]}

    p.commit_transaction(30)
    wait_until(lambda: watermarks(b.bootstrap, t, 0, RC) == (0, 9), timeout=15,
               msg="the LSO past the commit marker (9)")
    assert watermarks(b.bootstrap, t, 0, RU) == (0, 9)
    read_until(b.bootstrap, t, {0: plain_view + [(o, k, v) for _, o, k, v in open_recs]}, RC)


# ---------------------------------------------------------------------------------------------
# 9. old clients: pykafka (Fetch v1/v2) and kcat (librdkafka, read_committed by default)
# ---------------------------------------------------------------------------------------------
def test_old_and_default_clients_read_a_transactional_topic(krab):
    from pykafka import KafkaClient
    from pykafka.common import OffsetType
    from pykafka.utils import VERSIONS_CACHE
    from test_kcat import kcat_ok

    b = start_broker(krab)
    t = create_topic(b, unique_topic("txnold"))
    plain = produce_plain(b.bootstrap, t, items(b"plain", 2))
    p = txn_producer(b.bootstrap, unique_topic("old-tid"))
    (c1, ab, c2), ends = layout([items(b"c1", 5), items(b"ab", 4), items(b"c2", 3)], start={0: 2})
    for txn, commit in ((c1, True), (ab, False), (c2, True)):
        p.begin_transaction()
        assert send(p, t, [(part, k, v) for part, _, k, v in txn]) == txn
        if commit:
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)
    as_ov = lambda recs: [(o, v) for _, o, _, v in recs]  # noqa: E731
    committed_ov = as_ov(plain + c1 + c2)
    all_ov = as_ov(plain + c1 + ab + c2)
    read_until(b.bootstrap, t, {0: committed_ov}, RC, project=lambda r: (r[0], r[2]),
               msg="markers written")
    assert ends[0] == 17 and watermarks(b.bootstrap, t, 0, RU) == (0, 17)

    # kcat: librdkafka's default isolation.level is read_committed
    def kcat_read(*extra):
        out = kcat_ok("-C", "-b", b.bootstrap, "-t", t, "-p", "0", "-o", "beginning", "-e", "-q",
                      *extra, "-f", "%o %s\n").stdout
        return [(int(o), v.encode()) for o, v in (line.split(" ", 1) for line in out.splitlines())]
    assert kcat_read() == committed_ov
    assert kcat_read("-X", "isolation.level=read_uncommitted") == all_ov

    # pykafka: Fetch v1 (magic 0) and, with broker_version 0.10.0, Fetch v2 (magic 1).  Like
    # Kafka, the broker drops control batches for these versions and keeps aborted data (old
    # fetch versions cannot filter).  Markers leave offset gaps, hence compacted_topic=True.
    for version in ("0.9.0", "0.10.0"):
        VERSIONS_CACHE.clear()
        try:
            client = KafkaClient(hosts=b.bootstrap, broker_version=version)
            consumer = client.topics[t.encode()].get_simple_consumer(
                auto_offset_reset=OffsetType.EARLIEST, reset_offset_on_start=True,
                consumer_timeout_ms=3000, compacted_topic=True)
            try:
                got = [(m.offset, m.value) for m in consumer if m is not None]
            finally:
                consumer.stop()
        finally:
            VERSIONS_CACHE.clear()
        assert all(v for _, v in got), f"pykafka {version}: an empty value (control record?)"
        assert got == all_ov, f"pykafka {version}: {got}"


# ---------------------------------------------------------------------------------------------
# 10. DescribeTransactions / ListTransactions (kafka-python admin)
# ---------------------------------------------------------------------------------------------
def test_describe_and_list_transactions(krab):
    from kafka import KafkaAdminClient
    from kafka import TopicPartition as KTP
    from kafka.errors import TransactionalIdNotFoundError

    b = start_broker(krab)
    t = create_topic(b, unique_topic("desctxn"), 2)
    tid = unique_topic("desc-tid")
    p = txn_producer(b.bootstrap, tid, timeout_ms=45000)
    before_ms = time.time() * 1000
    p.begin_transaction()
    send(p, t, items(b"d", 4, 2))

    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=15000)

    def listed(**filters):
        return {x.transactional_id: x for xs in admin.list_transactions(**filters).values()
                for x in xs}

    def describe():
        return admin.describe_transactions([tid])[tid]

    try:
        d = describe()
        assert d.state.value == "Ongoing", d
        assert d.topic_partitions == {KTP(t, 0), KTP(t, 1)}, d
        assert d.transaction_timeout_ms == 45000, d
        assert d.producer_id >= 0 and d.producer_epoch >= 0, d
        assert before_ms - 5000 <= d.transaction_start_time_ms <= time.time() * 1000 + 5000, d
        pid = d.producer_id

        row = listed().get(tid)
        assert row is not None and row.state.value == "Ongoing" and row.producer_id == pid, row
        assert tid in listed(state_filters=["Ongoing"])
        assert tid not in listed(state_filters=["CompleteCommit"])
        assert set(listed(producer_id_filters=[pid])) == {tid}

        p.commit_transaction(30)
        d = eventually(describe, lambda d: d.state.value == "CompleteCommit", timeout=15,
                       msg="DescribeTransactions state CompleteCommit")
        assert d.producer_id == pid and d.topic_partitions == set(), d
        assert tid not in listed(state_filters=["Ongoing"])
        assert tid in listed(state_filters=["CompleteCommit"])

        p.begin_transaction()
        send(p, t, items(b"x", 1))
        assert describe().state.value == "Ongoing"
        p.abort_transaction(30)
        d = eventually(describe, lambda d: d.state.value == "CompleteAbort", timeout=15,
                       msg="DescribeTransactions state CompleteAbort")
        assert d.producer_id == pid, d
        assert listed(state_filters=["CompleteAbort"])[tid].producer_id == pid

        with pytest.raises(TransactionalIdNotFoundError):
            admin.describe_transactions([unique_topic("no-such-tid")])
    finally:
        admin.close()


def test_kafka_transactions_script_lists_and_describes(krab):
    """scripts/kafka-transactions.sh (krab transactions): Kafka's list and describe columns."""
    import subprocess
    script = str(REPO / "scripts" / "kafka-transactions.sh")
    b = start_broker(krab)
    t = create_topic(b, unique_topic("scripttxn"), 2)
    tid = unique_topic("script-tid")
    p = txn_producer(b.bootstrap, tid, timeout_ms=45000)
    p.begin_transaction()
    send(p, t, items(b"s", 2, 2))

    def tool(*args):
        r = subprocess.run([script, "--bootstrap-server", b.bootstrap, *args],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return [line.split() for line in r.stdout.splitlines()]

    rows = tool("list")
    assert rows[0] == ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"]
    assert [tid, "0"] == rows[1][:2] and rows[1][3] == "Ongoing", rows
    header, row = tool("describe", "--transactional-id", tid)
    d = dict(zip(header, row))
    assert d["TransactionState"] == "Ongoing" and d["TransactionTimeoutMs"] == "45000", d
    assert sorted(d["TopicPartitions"].split(",")) == [f"{t}-0", f"{t}-1"], d
    p.commit_transaction(30)
    header, row = tool("describe", "--transactional-id", tid)
    d = dict(zip(header, row))
    assert d["TransactionState"] == "CompleteCommit" and d["CurrentTransactionStartTimeMs"] == "None", d
    r = subprocess.run([script, "--bootstrap-server", b.bootstrap, "describe", "--transactional-id",
                        "no-such-id"], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "not found" in r.stderr, r


# ---------------------------------------------------------------------------------------------
# 11. transactional offsets: committed with the transaction, never when aborted (+ ZooKeeper)
# ---------------------------------------------------------------------------------------------
def test_transactional_offsets_become_committed_offsets(krab, metadata_mode, request):
    b = start_broker(krab, mode=metadata_mode)
    src = create_topic(b, unique_topic("offs-in"))
    dst = create_topic(b, unique_topic("offs-out"))
    produce_plain(b.bootstrap, src, items(b"in", 20))
    group = unique_topic("offs-group")
    zk = request.getfixturevalue("zk") if metadata_mode == "zookeeper" else None
    znode = f"/consumers/{group}/offsets/{src}/0"

    def zk_offset():
        return int(zk.get(znode)[0]) if zk.exists(znode) else None

    gm_consumer = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group,
                            "enable.auto.commit": False})
    try:
        gm = gm_consumer.consumer_group_metadata()
        p = txn_producer(b.bootstrap, unique_topic("offs-tid"))

        # records + offsets, committed
        p.begin_transaction()
        send(p, dst, items(b"out", 3))
        p.send_offsets_to_transaction([TopicPartition(src, 0, 7)], gm, 30)
        p.commit_transaction(30)
        eventually(lambda: committed(b.bootstrap, group, src), lambda v: v == [7], timeout=15,
                   msg="committed offset 7 after the first commit")
        if zk:
            wait_until(lambda: zk_offset() == 7, timeout=10, msg=f"{znode} == 7")

        # offsets only, aborted: nothing changes
        p.begin_transaction()
        p.send_offsets_to_transaction([TopicPartition(src, 0, 15)], gm, 30)
        p.abort_transaction(30)
        seen = set()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            seen.add(tuple(committed(b.bootstrap, group, src)))
            if zk:
                seen.add(("zk", zk_offset()))
        assert (15,) not in seen and ("zk", 15) not in seen, seen

        # offsets only, committed: a lower offset than the aborted one
        p.begin_transaction()
        p.send_offsets_to_transaction([TopicPartition(src, 0, 12)], gm, 30)
        p.commit_transaction(30)
        got = []
        eventually(lambda: got.append(committed(b.bootstrap, group, src)) or got[-1],
                   lambda v: v == [12], timeout=15, msg="committed offset 12")
        assert [15] not in got, got
        if zk:
            wait_until(lambda: zk_offset() == 12, timeout=10, msg=f"{znode} == 12")
    finally:
        gm_consumer.close()

    # a group member starts where the committed transactions left off
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": group,
                  "enable.auto.commit": False, "isolation.level": RC,
                  "session.timeout.ms": 3000, "auto.offset.reset": "earliest"})
    try:
        c.subscribe([src])
        first = None
        deadline = time.monotonic() + 20
        while first is None and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                first = m
        assert first is not None and first.offset() == 12 and first.value() == b"in-12", first
    finally:
        c.close()


# ---------------------------------------------------------------------------------------------
# 12. transaction.max.timeout.ms
# ---------------------------------------------------------------------------------------------
def test_transaction_timeout_above_broker_maximum_refused(krab):
    b = start_broker(krab, {"transaction.max.timeout.ms": "5000"})
    t = create_topic(b, unique_topic("maxto"))
    too_long = txn_producer(b.bootstrap, unique_topic("too-long"), timeout_ms=10000, init=False)
    with pytest.raises(KafkaException) as ei:
        too_long.init_transactions(20)
    err = ei.value.args[0]
    assert err.code() == KafkaError.INVALID_TRANSACTION_TIMEOUT and err.fatal(), \
        describe_errors([err])

    ok = txn_producer(b.bootstrap, unique_topic("at-max"), timeout_ms=5000)
    ok.begin_transaction()
    recs = send(ok, t, items(b"ok", 2))
    ok.commit_transaction(30)
    read_until(b.bootstrap, t, {0: [(o, k, v) for _, o, k, v in recs]}, RC)


# ---------------------------------------------------------------------------------------------
# 13. transactional.id.expiration.ms
# ---------------------------------------------------------------------------------------------
def test_idle_transactional_id_expires(krab):
    from kafka import KafkaAdminClient
    from kafka.errors import TransactionalIdNotFoundError

    # Kafka checks for expired ids every transaction.remove.expired.transaction.cleanup.interval.ms
    # (1 h by default); set it short too in case krab honours it.
    b = start_broker(krab, {"transactional.id.expiration.ms": "1000",
                            "transaction.remove.expired.transaction.cleanup.interval.ms": "200"})
    t = create_topic(b, unique_topic("expire"))
    idle_id, busy_id = unique_topic("idle"), unique_topic("busy")
    idle = txn_producer(b.bootstrap, idle_id)
    idle.begin_transaction()
    send(idle, t, items(b"idle", 2))
    idle.commit_transaction(30)
    # an open transaction's id does not expire, however long it stays open
    busy = txn_producer(b.bootstrap, busy_id, timeout_ms=60000)
    busy.begin_transaction()
    send(busy, t, items(b"busy", 2))

    admin = KafkaAdminClient(bootstrap_servers=b.bootstrap, request_timeout_ms=15000)
    try:
        def gone():
            try:
                admin.describe_transactions([idle_id])
                return False
            except TransactionalIdNotFoundError:
                return True
        wait_until(gone, timeout=20, interval=0.2,
                   msg=f"{idle_id} to expire (DescribeTransactions TRANSACTIONAL_ID_NOT_FOUND)")
        names = {x.transactional_id for xs in admin.list_transactions().values() for x in xs}
        assert idle_id not in names
        assert busy_id in names
        assert admin.describe_transactions([busy_id])[busy_id].state.value == "Ongoing"
    finally:
        admin.close()
    busy.commit_transaction(30)

    # the expired id can be used again
    again = txn_producer(b.bootstrap, idle_id)
    again.begin_transaction()
    send(again, t, items(b"again", 1))
    again.commit_transaction(30)
    read_until(b.bootstrap, t, {0: [b"idle-0", b"idle-1", b"busy-0", b"busy-1", b"again-0"]}, RC,
               project=lambda r: r[2])
