#!/usr/bin/env bash
# Log cleaner benchmark (scripts/bench/compaction_bench.py): cleaner MB/s on a compacted
# topic and produce p50/p99 on another topic while it runs, with broker CPU beside.
# Needs target/release/krab and confluent-kafka (scripts/test.sh installs it).
# Knobs: DATA_MB [512], KEYS [50000], VALUE_BYTES [1000], PROBE_S [4].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KRAB_BIN="${KRAB_BIN:-$ROOT/target/release/krab}"
exec "${PYTHON:-python3}" "$ROOT/scripts/bench/compaction_bench.py"
