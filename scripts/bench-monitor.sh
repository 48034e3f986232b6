#!/usr/bin/env bash
# Offset-monitor benchmark (scripts/bench/monitor_bench.py): refresh time against ZooKeeper as
# groups grow, page and JSON latency, history bytes per sample.
# Needs target/release/krab, the Debian zookeeper package and compat-tests/requirements.txt
# (scripts/test.sh installs both).  Knobs: GROUPS [10,100], PARTITIONS [16], REFRESHES [10].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KRAB_BIN="${KRAB_BIN:-$ROOT/target/release/krab}"
exec "${PYTHON:-python3}" "$ROOT/scripts/bench/monitor_bench.py"
