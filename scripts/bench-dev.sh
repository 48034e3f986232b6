#!/usr/bin/env bash
# Test-suite broker benchmark (scripts/bench/dev_bench.py): how long `krab dev` takes to
# accept connections, its idle RSS and CPU, and what a pytest session of 100 tests with a
# broker per test (the krab-broker plugin's krab_broker fixture) spends on brokers.
# Needs target/release/krab and pytest (scripts/test.sh installs it).  Knobs: STARTS [50],
# TESTS [100].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KRAB_BIN="${KRAB_BIN:-$ROOT/target/release/krab}"
exec "${PYTHON:-python3}" "$ROOT/scripts/bench/dev_bench.py"
