#!/usr/bin/env bash
# Security benchmark (scripts/bench/security_bench.py): produce/consume throughput and broker
# CPU per record over PLAINTEXT, SSL and SASL_SSL (SCRAM-SHA-256), and SCRAM-SHA-256 logins
# per second (SASL_PLAINTEXT and SASL_SSL). Needs target/release/krab and the openssl CLI;
# builds the librdkafka client (scripts/bench/krab_bench.c, installing librdkafka-dev if
# missing). Knobs: RECORDS [1000000], ROUNDS [3], DURATION [10], LOGIN_WORKERS [3].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export KRAB_BIN="${KRAB_BIN:-$ROOT/target/release/krab}"
# A rebuild may replace the binary under us: wait a little for it to reappear.
for _ in $(seq 60); do [ -x "$KRAB_BIN" ] && break; sleep 2; done
[ -x "$KRAB_BIN" ] || { echo "build krab first: cargo build --release" >&2; exit 1; }
command -v openssl >/dev/null || { echo "the openssl command is needed (apt-get install openssl)" >&2; exit 1; }
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
exec "${PYTHON:-python3}" "$ROOT/scripts/bench/security_bench.py"
