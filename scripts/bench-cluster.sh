#!/usr/bin/env bash
# Three-broker benchmark (issue 10), with the librdkafka client of scripts/bench.sh:
#
#   scripts/bench-cluster.sh
#
# Starts ZooKeeper and three krab brokers on this machine and prints, as JSON:
#   - produce records/s (and broker CPU µs per record, all brokers) for an RF 1 topic with
#     acks=1 and an RF 3 topic with acks=all (min.insync.replicas=2), and their ratio
#   - end-to-end latency percentiles with RF 3, acks=all
#   - failover: the longest gap between acknowledged writes after kill -9 / SIGTERM of a leader
#     (zookeeper.session.timeout.ms=SESSION_MS)
#   - catch-up MB/s of a follower restarted CATCHUP_MB behind
# Knobs: RECORDS [1000000], RECORD_SIZE [100], CATCHUP_MB [1024], SESSION_MS [3000],
#        REPLICA_FETCH_MAX_BYTES [1048576, Kafka's default],
#        KRAB_BIN, KEEP_LOGS=1. Needs zookeeper, librdkafka-dev and the compat-tests Python
#        packages (scripts/test.sh installs them).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
KRAB="${KRAB_BIN:-$ROOT/target/release/krab}"
[ -x "$KRAB" ] || { echo "build krab first (cargo build --release)" >&2; exit 1; }
BUILD_DIR="${BENCH_BUILD_DIR:-$ROOT/target/bench}"
CLIENT="$BUILD_DIR/krab_bench"
if [ ! -e /usr/include/librdkafka/rdkafka.h ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y librdkafka-dev >/dev/null
fi
if [ ! -x "$CLIENT" ] || [ scripts/bench/krab_bench.c -nt "$CLIENT" ]; then
  mkdir -p "$BUILD_DIR"
  gcc -O2 -Wall -o "$CLIENT" scripts/bench/krab_bench.c -lrdkafka -lpthread
fi
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
KRAB_BIN="$KRAB" BENCH_CLIENT="$CLIENT" exec python3 scripts/bench/cluster_bench.py
