#!/usr/bin/env bash
# Transactional produce benchmark (scripts/bench/txn_bench.py): transactions of 10,000 and
# 100 records against idempotent produce, commit latency p50/p99, broker CPU per record.
# Needs target/release/krab; builds the librdkafka client (scripts/bench/krab_bench.c,
# installing librdkafka-dev if missing). Knobs: RECORDS [1000000], SMALL_TXN_RECORDS [100000].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export KRAB_BIN="${KRAB_BIN:-$ROOT/target/release/krab}"
[ -x "$KRAB_BIN" ] || { echo "build krab first: cargo build --release" >&2; exit 1; }
if [ ! -e /usr/include/librdkafka/rdkafka.h ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y librdkafka-dev >&2 \
    || { $SUDO apt-get update >&2 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y librdkafka-dev >&2; }
fi
BUILD_DIR="${BENCH_BUILD_DIR:-$ROOT/target/bench}"
mkdir -p "$BUILD_DIR"
export BENCH_CLIENT="$BUILD_DIR/krab_bench"
if [ ! -x "$BENCH_CLIENT" ] || [ scripts/bench/krab_bench.c -nt "$BENCH_CLIENT" ]; then
  gcc -O2 -Wall -o "$BENCH_CLIENT" scripts/bench/krab_bench.c -lrdkafka -lpthread
fi
exec "${PYTHON:-python3}" "$ROOT/scripts/bench/txn_bench.py"
