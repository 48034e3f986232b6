#!/usr/bin/env python3
"""A consume-transform-produce app (confluent-kafka) for test_transactions.py.

Reads ``--input`` in consumer group ``--group`` (subscribe, isolation.level=read_committed,
enable.auto.commit=false) and, for every batch of up to ``--batch`` records, runs one
transaction with transactional.id ``--transactional-id``: produce ``out-<value>`` (same key)
to the same partition of ``--output``, send_offsets_to_transaction(consumer positions, group
metadata), commit.  Exits 0 once every input partition is processed up to the end it had
when the app started.

``--hang-after N``: once at least N records were committed by this run, open one more
transaction, produce its batch, flush it (so the records are in the log), send its offsets,
print ``HANGING n=<records>`` and sleep forever: the test SIGKILLs it there, in the middle of
an open transaction.

Progress goes to stdout, one line each, flushed:
``READY``, ``ASSIGNED <partitions>``, ``COMMITTED total=<n>``, ``HANGING n=<k>``,
``DONE processed=<n>``, ``ERROR <text>``.
"""
import argparse
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition


def say(*parts):
    print(*parts, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--transactional-id", required=True)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--hang-after", type=int, default=None)
    ap.add_argument("--transaction-timeout-ms", type=int, default=20000)
    ap.add_argument("--deadline-s", type=float, default=120.0)
    args = ap.parse_args()

    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
        "session.timeout.ms": 3000,
        "heartbeat.interval.ms": 300,
        "max.poll.interval.ms": 10000,
    })
    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "transactional.id": args.transactional_id,
        "transaction.timeout.ms": args.transaction_timeout_ms,
        "linger.ms": 5,
    })
    # Fences any previous instance with this transactional.id and aborts its open
    # transaction (records and pending offsets) before anything is consumed.
    producer.init_transactions(30)

    # The end of the input, as the app sees it at start (the input is complete by then).
    md = consumer.list_topics(args.input, timeout=10).topics[args.input]
    ends = {}
    for p in sorted(md.partitions):
        _, high = consumer.get_watermark_offsets(TopicPartition(args.input, p), timeout=10)
        ends[p] = high
    say("READY", " ".join(f"{p}:{e}" for p, e in sorted(ends.items())))

    def on_assign(c, parts):
        say("ASSIGNED", ",".join(str(tp.partition) for tp in parts))

    consumer.subscribe([args.input], on_assign=on_assign)

    reached = {}     # partition -> next offset known to be processed (or at the end)
    committed = 0    # records committed by this run
    deadline = time.monotonic() + args.deadline_s
    while True:
        if time.monotonic() > deadline:
            say("ERROR deadline passed, reached", reached, "ends", ends)
            return 3
        if all(reached.get(p, -1) >= e for p, e in ends.items()):
            break
        events = consumer.consume(num_messages=args.batch, timeout=0.5)
        batch = []
        for m in events:
            err = m.error()
            if err is None:
                batch.append(m)
            elif err.code() == KafkaError._PARTITION_EOF:
                reached[m.partition()] = max(reached.get(m.partition(), -1), m.offset())
            elif err.fatal():
                raise KafkaException(err)
            else:
                say("WARN consumer error:", err)
        if not batch:
            continue

        hang = args.hang_after is not None and committed >= args.hang_after
        producer.begin_transaction()
        for m in batch:
            while True:
                try:
                    producer.produce(args.output, key=m.key(), value=b"out-" + m.value(),
                                     partition=m.partition())
                    break
                except BufferError:
                    producer.poll(0.05)
        if hang:
            left = producer.flush(30)
            if left:
                say(f"ERROR {left} records of the hanging transaction not acknowledged")
                return 4
        positions = consumer.position(consumer.assignment())
        producer.send_offsets_to_transaction(positions, consumer.consumer_group_metadata(), 30)
        if hang:
            say(f"HANGING n={len(batch)}")
            while True:
                time.sleep(3600)
        producer.commit_transaction(30)
        committed += len(batch)
        for m in batch:
            reached[m.partition()] = max(reached.get(m.partition(), -1), m.offset() + 1)
        say(f"COMMITTED total={committed}")

    consumer.close()
    say(f"DONE processed={committed}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 - reported to the test through stdout + exit code
        say(f"ERROR {e!r}")
        sys.exit(2)
