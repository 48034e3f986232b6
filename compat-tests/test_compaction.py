"""Log compaction (cleanup.policy=compact / compact,delete) as Kafka clients see it: the cleaner
keeps the latest record per key at its original offset (gaps appear), drops tombstones once
delete.retention.ms has passed, survives a SIGKILL in the middle of a pass, keeps its
cleaner-offset-checkpoint across restarts, and compact,delete still honours retention.ms.
Producing a keyless record to a compacted topic is refused with INVALID_RECORD (87).

How a test makes data cleanable: the cleaner never touches the active segment, and a segment
rolls on the first append after ``segment.ms``.  So topics get ``segment.ms=500`` and
``min.cleanable.dirty.ratio=0.01``; :func:`roll` waits past segment.ms and appends one
"sentinel" record with a fresh key, which seals everything produced before it.

Brokers run embedded with ``log.cleaner.backoff.ms=100`` and the monitor listener on, so the
``krab_log_cleaner_*`` metrics (see test_metrics.scrape) can be polled."""
import itertools
import random
import time

import pytest
from confluent_kafka import (OFFSET_BEGINNING, Consumer, KafkaError, Producer,
                             TopicPartition)
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewTopic)

from krabtest import confluent_watermarks, eventually, unique_topic, wait_until
from test_metrics import scrape

SEGMENT_MS = 500
BASE_OVERRIDES = {
    "monitor.listener": "127.0.0.1:0",
    "log.cleaner.backoff.ms": "100",
    "log.retention.check.interval.ms": "200",
}
COMPACT = {
    "cleanup.policy": "compact",
    "segment.ms": str(SEGMENT_MS),
    "min.cleanable.dirty.ratio": "0.01",
}
TEMP_SUFFIXES = (".cleaned", ".swap")

_sentinels = itertools.count()


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def start_broker(krab, extra=None):
    return krab(mode="embedded", overrides={**BASE_OVERRIDES, **(extra or {})})


def admin_for(b):
    return AdminClient({"bootstrap.servers": b.bootstrap})


def create_topic(b, name, config):
    admin = admin_for(b)
    admin.create_topics([NewTopic(name, 1, 1, config=dict(config))])[name].result(15)
    wait_until(lambda: admin.list_topics(name, timeout=5).topics[name].partitions[0].leader >= 0,
               timeout=15, msg=f"a leader for {name}-0")


def describe(b, name):
    res = ConfigResource(ConfigResource.Type.TOPIC, name)
    admin = admin_for(b)  # kept alive until the result is in
    return admin.describe_configs([res])[res].result(15)


def produce_keyed(bootstrap, topic, records, conf=None, timeout=60):
    """Produce (key, value) pairs to partition 0 with confluent-kafka; every one must be
    acknowledged.  Returns the delivery reports as (offset, key, value) in completion order."""
    c = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 10,
         "batch.num.messages": 10000, "message.timeout.ms": 30000}
    c.update(conf or {})
    p = Producer(c)
    acked, errors = [], []

    def cb(err, msg):
        if err is not None:
            errors.append(err)
        else:
            acked.append((msg.offset(), msg.key(), msg.value()))

    for key, value in records:
        while True:
            try:
                p.produce(topic, key=key, value=value, partition=0, on_delivery=cb)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    left = p.flush(timeout)
    assert left == 0, f"{left} records still undelivered after {timeout}s"
    assert not errors, f"{len(errors)} delivery errors, e.g. {errors[:3]}"
    return acked


def produce_expect_refused(bootstrap, topic, records, timeout=20):
    """Produce (key, value) pairs in one batch (linger) and return each delivery error (None
    for a success) in produce order."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 300,
                  "message.timeout.ms": 10000, "retries": 0})
    results = {}
    for i, (key, value) in enumerate(records):
        p.produce(topic, key=key, value=value, partition=0,
                  on_delivery=lambda err, msg, i=i: results.__setitem__(i, err))
    assert p.flush(timeout) == 0, "delivery reports missing"
    return [results[i] for i in range(len(records))]


def latest(acked):
    """{key: (offset, value)} of the highest offset per key."""
    out = {}
    for off, key, value in acked:
        if key not in out or off > out[key][0]:
            out[key] = (off, value)
    return out


def as_log(latest_by_key):
    """The (offset, key, value) list a fully cleaned log reads as."""
    return sorted((off, key, value) for key, (off, value) in latest_by_key.items())


def read_all(bootstrap, topic, timeout=30):
    """Everything in partition 0 from the log start to the high watermark, as a list of
    (offset, key, value), read by a confluent consumer (assign, no commits)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique_topic("cmp-reader"),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "enable.partition.eof": True})
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        out = []
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"no end of partition after {timeout}s ({len(out)} read)")
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    return out
                raise AssertionError(f"consumer error: {m.error()}")
            out.append((m.offset(), m.key(), m.value()))
    finally:
        c.close()


def roll(b, topic):
    """Seal the active segment: wait past segment.ms, then append a record with a fresh key.
    Returns its (offset, key, value)."""
    time.sleep(SEGMENT_MS / 1000 + 0.3)
    key = b"sentinel-%d" % next(_sentinels)
    (rec,) = produce_keyed(b.bootstrap, topic, [(key, b"roll")])
    return rec


def partition_dir(b, topic):
    return b.log_dir / f"{topic}-0"


def temp_files(b, topic):
    d = partition_dir(b, topic)
    return sorted(p.name for p in d.iterdir() if p.name.endswith(TEMP_SUFFIXES))


def read_checkpoint(b):
    """The broker's cleaner-offset-checkpoint as {(topic, partition): offset}; checks Kafka's
    layout (version 0, entry count, one "topic partition offset" line per entry)."""
    path = b.log_dir / "cleaner-offset-checkpoint"
    lines = path.read_text().splitlines()
    assert lines[0] == "0", f"checkpoint version line {lines[0]!r}"
    n = int(lines[1])
    entries = [l for l in lines[2:] if l.strip()]
    assert len(entries) == n, f"checkpoint says {n} entries, has {entries}"
    out = {}
    for line in entries:
        topic, partition, offset = line.split(" ")
        out[(topic, int(partition))] = int(offset)
    return out


def checkpoint_of(b, topic):
    try:
        return read_checkpoint(b).get((topic, 0))
    except FileNotFoundError:
        return None


def metric(b, name, **labels):
    """Sum of every series of ``name`` (0 if the family is absent)."""
    return scrape(b).total(name, **labels)


def log_size(b, topic):
    return scrape(b).get("krab_log_size_bytes", topic=topic, partition=0)


def log_diff(got, expected):
    """A short description of how two (offset, key, value) lists differ."""
    if not isinstance(got, list):
        return repr(got)[:500]
    order = lambda r: (r[0], repr(r))  # noqa: E731 - values may be None (tombstones)
    missing = sorted(set(expected) - set(got), key=order)
    extra = sorted(set(got) - set(expected), key=order)
    return (f"{len(got)} records read, {len(expected)} expected; missing {len(missing)} "
            f"e.g. {missing[:5]}; unexpected {len(extra)} e.g. {extra[:5]}")


def read_until(b, topic, expected, timeout, msg):
    """Read the partition until it is exactly ``expected`` (a list of (offset, key, value))."""
    return eventually(lambda: read_all(b.bootstrap, topic), lambda r: r == expected, timeout,
                      msg, show=lambda r: log_diff(r, expected))


def dirty_ratio(b, topic):
    return scrape(b).get("krab_log_cleaner_dirty_ratio", topic=topic, partition=0)


def assert_gapped(records):
    offs = [o for o, _, _ in records]
    assert offs == sorted(set(offs)), "offsets must strictly increase"
    # Offsets are kept: removed records leave gaps (here or before the first).
    assert offs[0] > 0 or offs[-1] - offs[0] + 1 > len(offs), "a cleaned log has offset gaps"


# ---------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------
def test_compaction_keeps_latest_value_per_key(krab):
    b = start_broker(krab)
    t = unique_topic("cmp")
    # min.compaction.lag.ms: segments are left alone for 2 s after their last write, so the
    # size measured right after producing is (mostly) uncleaned
    create_topic(b, t, {**COMPACT, "segment.bytes": str(64 * 1024),
                        "min.compaction.lag.ms": "2000"})
    rng = random.Random(1)
    nkeys, total = 1000, 100_000
    order = list(range(nkeys))
    rng.shuffle(order)  # every key at least once, then at random
    order += [rng.randrange(nkeys) for _ in range(total - nkeys)]
    records = [(b"k%04d" % k, b"k%04d:%06d:" % (k, seq) + b"." * 20)
               for seq, k in enumerate(order)]
    acked = produce_keyed(b.bootstrap, t, records)
    assert sorted(o for o, _, _ in acked) == list(range(total))
    m = scrape(b)
    size_before = m.get("krab_log_size_bytes", topic=t, partition=0)
    segments = m.get("krab_log_segments", topic=t, partition=0)
    assert segments >= 5, f"segment.bytes=64KiB should give many segments, got {segments}"
    sentinel = roll(b, t)
    assert sentinel[0] == total
    expected = as_log(latest(acked + [sentinel]))
    assert len(expected) == nkeys + 1
    bytes_in = scrape(b).get("krab_topic_bytes_in_total", topic=t)
    assert bytes_in > 3_000_000 and size_before > 0, (bytes_in, size_before)

    eventually(lambda: (metric(b, "krab_log_cleaner_runs_total"), log_size(b, t)),
               lambda v: v[0] >= 1 and v[1] < bytes_in / 10, timeout=60,
               msg=f"a cleaner pass shrinking the log below {bytes_in / 10:.0f} bytes "
                   "(runs_total, log size)")
    got = eventually(lambda: read_all(b.bootstrap, t), lambda r: len(r) == nkeys + 1,
                     timeout=30, msg=f"{nkeys + 1} records after cleaning",
                     show=lambda r: log_diff(r, expected))
    assert got == expected, ("the cleaned log must be the latest (offset, value) per key + the "
                             "sentinel: " + log_diff(got, expected))
    assert_gapped(got)

    # the checkpoint records how far the log was cleaned: up to the active segment (sentinel)
    # (Kafka's semantics: the offset is the first dirty one, here the active segment's base)
    ckpt = eventually(lambda: checkpoint_of(b, t), lambda c: c == sentinel[0], timeout=10,
                      msg=f"an entry for {t} at offset {sentinel[0]} in cleaner-offset-checkpoint")
    assert ckpt > 0

    size_after = log_size(b, t)
    assert size_after < size_before, (size_after, size_before)
    assert size_after < bytes_in / 10, (size_after, bytes_in)

    removed = total + 1 - len(expected)
    eventually(lambda: metric(b, "krab_log_cleaner_records_removed_total"),
               lambda v: v == removed, timeout=10, msg=f"records_removed_total == {removed}")
    m = scrape(b)
    read_b = m.total("krab_log_cleaner_bytes_read_total")
    written_b = m.total("krab_log_cleaner_bytes_written_total")
    assert read_b > 0 and 0 < written_b < read_b, (read_b, written_b)
    assert m.types.get("krab_log_cleaner_runs_total") == "counter"
    assert m.types.get("krab_log_cleaner_dirty_ratio") == "gauge"
    eventually(lambda: dirty_ratio(b, t), lambda v: v is not None and 0 <= v < 0.01,
               timeout=10, msg="the dirty ratio of the cleaned partition near 0")
    assert m.get("krab_log_cleaner_uncleanable_partitions") == 0


def test_tombstones_removed_after_delete_retention(krab):
    retention_ms = 4000
    b = start_broker(krab)
    t = unique_topic("tomb")
    create_topic(b, t, {**COMPACT, "delete.retention.ms": str(retention_ms)})
    keys = [bytes([c]) for c in b"abcdefghij"]
    acked = produce_keyed(b.bootstrap, t, [(k, k + b"-1") for k in keys]
                          + [(k, k + b"-2") for k in keys])
    deleted = keys[:5]
    t_tombstones = time.time()
    acked += produce_keyed(b.bootstrap, t, [(k, None) for k in deleted])
    sentinel = roll(b, t)
    by_key = latest(acked + [sentinel])
    with_tombstones = as_log(by_key)
    assert sum(1 for _, _, v in with_tombstones if v is None) == len(deleted)
    without = as_log({k: v for k, v in by_key.items() if k not in deleted})

    # First pass: old versions go, the tombstones stay (they are younger than delete.retention.ms)
    # so that a consumer that already read a deleted key's value learns of the delete.
    left = t_tombstones + retention_ms / 1000 - 0.3 - time.time()
    read_until(b, t, with_tombstones, timeout=max(left, 0.5),
               msg="the first cleaning (old versions gone, tombstones kept) before "
                   "delete.retention.ms")

    # Later the cleaner drops the tombstones themselves, without any new data.
    got = read_until(b, t, without, timeout=15, msg="tombstones removed after delete.retention.ms")
    assert time.time() >= t_tombstones + retention_ms / 1000, \
        "tombstones removed before delete.retention.ms had passed"
    assert all(v is not None for _, _, v in got)
    assert not {k for _, k, _ in got} & set(deleted)
    assert {k: v for _, k, v in got if k in keys} == {k: k + b"-2" for k in keys[5:]}


def test_sigkill_during_cleaning_loses_nothing(krab):
    throttle = "log.cleaner.io.max.bytes.per.second"
    b = start_broker(krab, {throttle: "2000000"})
    t = unique_topic("cmpkill")
    create_topic(b, t, {**COMPACT, "segment.bytes": str(1 << 20)})
    rng = random.Random(3)
    keys = [b"key-%05d" % i for i in range(2000)]
    records = []
    for ver in range(10):
        rng.shuffle(keys)
        pad = bytes([65 + ver]) * 1000
        records += [(k, k + b"|v%02d|" % ver + pad) for k in keys]
    acked = produce_keyed(b.bootstrap, t, records, conf={"linger.ms": 20})
    sentinel = roll(b, t)
    expected_by_key = latest(acked + [sentinel])
    expected = as_log(expected_by_key)
    bytes_in = scrape(b).get("krab_topic_bytes_in_total", topic=t)
    assert bytes_in > 20_000_000, bytes_in

    # wait for the throttled pass to be visibly under way, then SIGKILL it
    deadline = time.monotonic() + 10
    seen = []
    while time.monotonic() < deadline and not seen:
        seen = temp_files(b, t)
        time.sleep(0.02)
    m = scrape(b)
    runs_at_kill = m.total("krab_log_cleaner_runs_total")
    read_at_kill = m.total("krab_log_cleaner_bytes_read_total")
    b.kill()
    left_behind = temp_files(b, t)
    print(f"temp files seen before kill: {seen}; left by the kill: {left_behind}; "
          f"runs at kill: {runs_at_kill}; bytes read at kill: {read_at_kill}")

    # restart on the same log dir, unthrottled
    b.overrides.pop(throttle)
    b.restart()

    # straight after recovery (cleaning may be running again): every key's latest value is
    # there, offsets are unique and increasing
    got = read_all(b.bootstrap, t, timeout=60)
    offs = [o for o, _, _ in got]
    assert offs == sorted(set(offs)), "duplicate or unordered offsets after recovery"
    assert latest(got) == expected_by_key, "a key lost its latest value across the kill"

    # once cleaning settled: the fully cleaned log, no temporary files
    wait_until(lambda: not temp_files(b, t) and log_size(b, t) < bytes_in / 4, timeout=60,
               msg="cleaning to finish after the restart")
    got = read_until(b, t, expected, timeout=30, msg="the fully cleaned log after the restart")
    assert_gapped(got)
    assert temp_files(b, t) == []
    eventually(lambda: checkpoint_of(b, t), lambda c: c == sentinel[0], timeout=10,
               msg=f"the checkpoint at the active segment ({sentinel[0]}) after the restart")


def test_compact_delete_honours_retention(krab):
    b = start_broker(krab)
    both = unique_topic("cmpdel")
    compact_only = unique_topic("cmponly")
    create_topic(b, both, {**COMPACT, "cleanup.policy": "compact,delete", "retention.ms": "2000"})
    create_topic(b, compact_only, {**COMPACT, "retention.ms": "2000"})
    keys = [b"k%02d" % i for i in range(10)]
    records = [(k, k + b"-v%d" % v) for v in range(3) for k in keys]
    acked_both = produce_keyed(b.bootstrap, both, records)
    acked_only = produce_keyed(b.bootstrap, compact_only, records)
    sentinel_both = roll(b, both)
    sentinel_only = roll(b, compact_only)

    # compact,delete: the old segment goes by age although it held the only (latest) value of
    # every key
    wait_until(lambda: confluent_watermarks(b.bootstrap, both)[0] >= sentinel_both[0],
               timeout=15, msg="retention.ms to move the log start offset of the compact,delete topic")
    low, high = confluent_watermarks(b.bootstrap, both)
    assert low > 0 and high == sentinel_both[0] + 1, (low, high)
    got = read_all(b.bootstrap, both)
    assert set(got) <= {sentinel_both}, got
    assert not {k for _, k, _ in got} & set(keys)

    # compact only: retention.ms does not apply, the latest value of every key stays
    expected = as_log(latest(acked_only + [sentinel_only]))
    read_until(b, compact_only, expected, timeout=15,
               msg="the compact-only topic cleaned, not trimmed by retention")
    low, _ = confluent_watermarks(b.bootstrap, compact_only)
    assert low <= expected[0][0], (low, expected[0])
    assert len(acked_both) == len(acked_only) == len(records)


def test_keyless_records_refused_on_compacted_topic(krab):
    from kafka import KafkaProducer
    from kafka.errors import InvalidRecordError

    b = start_broker(krab)
    t = unique_topic("nokey")
    create_topic(b, t, COMPACT)
    assert produce_keyed(b.bootstrap, t, [(b"a", b"first")]) == [(0, b"a", b"first")]

    # confluent-kafka: the keyless record fails with INVALID_RECORD
    (err,) = produce_expect_refused(b.bootstrap, t, [(None, b"no key")])
    assert err is not None and err.code() == KafkaError.INVALID_RECORD, err
    # a batch mixing keyed and keyless records is refused as a whole
    errs = produce_expect_refused(b.bootstrap, t, [(b"b", b"keyed"), (None, b"keyless"),
                                                   (b"c", b"keyed too")])
    assert all(e is not None for e in errs), errs
    assert errs[1].code() == KafkaError.INVALID_RECORD, errs
    assert confluent_watermarks(b.bootstrap, t) == (0, 1)

    # kafka-python: send().get() raises InvalidRecordError
    p = KafkaProducer(bootstrap_servers=b.bootstrap, acks="all", request_timeout_ms=10000,
                      max_block_ms=15000)
    try:
        with pytest.raises(InvalidRecordError):
            p.send(t, value=b"kafka-python, no key", partition=0).get(timeout=20)
    finally:
        p.close(5)
    assert confluent_watermarks(b.bootstrap, t) == (0, 1), "nothing appended"

    # keyed records still go in, right after the refused ones
    assert produce_keyed(b.bootstrap, t, [(b"b", b"second")]) == [(1, b"b", b"second")]
    assert read_all(b.bootstrap, t) == [(0, b"a", b"first"), (1, b"b", b"second")]


def test_kcat_and_pykafka_read_a_cleaned_topic(krab):
    from pykafka import KafkaClient
    from pykafka.common import OffsetType
    from pykafka.utils import VERSIONS_CACHE
    from test_kcat import kcat_ok

    b = start_broker(krab)
    t = unique_topic("cmpread")
    create_topic(b, t, COMPACT)
    keys = [b"key%02d" % i for i in range(20)]
    rng = random.Random(6)
    records = [(k, k + b"-v%03d" % i) for i, k in enumerate(rng.choice(keys) for _ in range(300))]
    records += [(k, k + b"-last") for k in keys[::3]]
    acked = produce_keyed(b.bootstrap, t, records)
    sentinel = roll(b, t)
    expected = as_log(latest(acked + [sentinel]))
    got = read_until(b, t, expected, timeout=20, msg="the topic to be cleaned")
    assert_gapped(got)

    # kcat (librdkafka's consumer, offsets printed)
    out = kcat_ok("-C", "-b", b.bootstrap, "-t", t, "-p", "0", "-o", "beginning", "-e", "-q",
                  "-f", "%o %k %s\n").stdout
    kc = []
    for line in out.splitlines():
        o, k, v = line.split(" ", 2)
        kc.append((int(o), k.encode(), v.encode()))
    assert kc == expected

    # pykafka (broker_version 0.9.0: Fetch v1, the cleaned batches down-converted to magic 0)
    VERSIONS_CACHE.clear()
    try:
        client = KafkaClient(hosts=b.bootstrap)
        # compacted_topic=True is how pykafka reads compacted topics on Kafka
        # too: without it, its consumer insists on dense offsets.
        consumer = client.topics[t.encode()].get_simple_consumer(
            auto_offset_reset=OffsetType.EARLIEST, reset_offset_on_start=True,
            consumer_timeout_ms=3000, compacted_topic=True)
        try:
            pk = [(m.offset, m.partition_key, m.value) for m in consumer if m is not None]
        finally:
            consumer.stop()
    finally:
        VERSIONS_CACHE.clear()
    assert pk == expected


def test_alter_delete_topic_to_compact(krab):
    b = start_broker(krab)
    t = unique_topic("tocompact")
    create_topic(b, t, {"segment.ms": str(SEGMENT_MS), "min.cleanable.dirty.ratio": "0.01"})
    assert describe(b, t)["cleanup.policy"].value == "delete"
    # a delete topic takes keyless records and is no cleaner candidate
    assert produce_keyed(b.bootstrap, t, [(None, b"keyless before")]) == [(0, None, b"keyless before")]
    acked = produce_keyed(b.bootstrap, t, [(b"k%d" % (i % 4), b"v%d" % i) for i in range(40)])
    assert dirty_ratio(b, t) is None, "a delete-only partition has no dirty ratio"

    admin = admin_for(b)
    inc = ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=[
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND)])
    admin.incremental_alter_configs([inc])[inc].result(15)
    assert describe(b, t)["cleanup.policy"].value == "delete,compact"

    # now it is compacted: keyless records refused, the partition gets a dirty ratio
    (err,) = produce_expect_refused(b.bootstrap, t, [(None, b"keyless after")])
    assert err is not None and err.code() == KafkaError.INVALID_RECORD, err
    eventually(lambda: dirty_ratio(b, t), lambda v: v is not None, timeout=10,
               msg="a dirty-ratio gauge for the now compacted partition")

    # SUBTRACT delete: compact only
    inc = ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=[
        ConfigEntry("cleanup.policy", "delete", incremental_operation=AlterConfigOpType.SUBTRACT)])
    admin.incremental_alter_configs([inc])[inc].result(15)
    assert describe(b, t)["cleanup.policy"].value == "compact"

    # and the cleaner compacts what was written before the change (the keyless record goes too)
    sentinel = roll(b, t)
    expected = as_log(latest(acked + [sentinel]))
    got = read_until(b, t, expected, timeout=20, msg="the altered topic to be cleaned")
    assert all(k is not None for _, k, _ in got)


def test_checkpoint_survives_restart(krab):
    b = start_broker(krab)
    t = unique_topic("cmprestart")
    create_topic(b, t, COMPACT)
    keys = [b"key%02d" % i for i in range(30)]
    acked = produce_keyed(b.bootstrap, t, [(k, k + b"-v%d" % v) for v in range(5) for k in keys])
    sentinel = roll(b, t)
    expected = as_log(latest(acked + [sentinel]))
    read_until(b, t, expected, timeout=20, msg="first cleaning")
    ckpt = eventually(lambda: checkpoint_of(b, t), lambda c: c == sentinel[0], timeout=10,
                      msg=f"a checkpoint entry at the active segment ({sentinel[0]})")

    b.restart()
    assert checkpoint_of(b, t) == ckpt, "the checkpoint entry survived the restart"
    assert read_all(b.bootstrap, t) == expected
    # the checkpoint is used: the log counts as clean (a lost one would make it all dirty)
    ratio = eventually(lambda: dirty_ratio(b, t), lambda v: v is not None, timeout=10,
                       msg="the dirty-ratio gauge after the restart")
    assert ratio < 0.01, f"dirty ratio {ratio} after restart: checkpoint ignored?"
    assert checkpoint_of(b, t) == ckpt

    # and cleaning resumes from it: new versions of half the keys, then roll again
    acked2 = produce_keyed(b.bootstrap, t, [(k, k + b"-after-restart") for k in keys[::2]])
    sentinel2 = roll(b, t)
    expected2 = as_log(latest(acked + [sentinel] + acked2 + [sentinel2]))
    read_until(b, t, expected2, timeout=20, msg="cleaning after the restart")
    eventually(lambda: checkpoint_of(b, t), lambda c: c == sentinel2[0], timeout=10,
               msg=f"the checkpoint to move to the new active segment ({sentinel2[0]})")


def test_transactions_on_a_compacted_topic_keep_their_meaning(krab):
    """An aborted value never supersedes a committed one, and the cleaner keeps the markers:
    after cleaning, read_committed and read_uncommitted both see each key's latest committed
    value, and the aborted records are gone."""
    from test_transactions import RC, RU, read_partitions, send, txn_producer
    b = start_broker(krab)
    t = unique_topic("cmptxn")
    create_topic(b, t, COMPACT)
    p = txn_producer(b.bootstrap, unique_topic("cmptxn-id"))
    p.begin_transaction()
    committed = send(p, t, [(0, b"k%d" % i, b"committed-%d" % i) for i in range(10)])
    p.commit_transaction(30)
    p.begin_transaction()
    send(p, t, [(0, b"k%d" % i, b"aborted-%d" % i) for i in range(10)])
    p.abort_transaction(30)
    sentinel = roll(b, t)
    expected = sorted([(o, k, v) for _, o, k, v in committed] + [sentinel])
    wait_until(lambda: metric(b, "krab_log_cleaner_runs_total") >= 1, timeout=20,
               msg="a cleaning pass")
    for isolation in (RC, RU):
        got = eventually(lambda: read_partitions(b.bootstrap, t, (0,), isolation)[0],
                         lambda r: r == expected, 20, f"{isolation}: the committed values only",
                         show=lambda r: log_diff(r, expected))
        assert all(not v.startswith(b"aborted") for _, _, v in got)
