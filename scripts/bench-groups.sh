#!/usr/bin/env bash
# Consumer-group benchmark (scripts/bench/groups_bench.py): offset commit rate and latency
# against krab in ZooKeeper mode (new offset each time, and the seed's unchanged re-commits),
# the ZooKeeper writes they cost, and the time for a second member to join a group.
# Needs target/release/krab, the Debian zookeeper package and compat-tests/requirements.txt
# (scripts/test.sh installs both).  Knobs: COMMIT_CLIENTS [4], COMMIT_SECONDS [5].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KRAB_BIN="${KRAB_BIN:-$ROOT/target/release/krab}"
exec "${PYTHON:-python3}" "$ROOT/scripts/bench/groups_bench.py" 2> >(grep -v '^%[0-9]|' >&2)
