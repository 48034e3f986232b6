#!/usr/bin/env bash
# Full krab test run, usable on a fresh Debian machine and in CI:
#   1. system packages for the compat suite (zookeeper, kcat, chromium, openssl) if missing
#   2. Python packages (compat-tests/requirements.txt)
#   3. cargo build --release, cargo test --release
#   4. python3 -m pytest -v compat-tests   (client compatibility against target/release/krab;
#      browser tests drive headless chromium, compat-tests/browser.py, and must not skip)
#
# Environment knobs:
#   SKIP_CARGO_TEST=1   skip step 3's `cargo test` (the release build still runs)
#   SKIP_INSTALL=1      skip steps 1-2
#   PYTHON=python3.11   interpreter for pip/pytest (default python3)
#   KRAB_REQUIRE_CHROMIUM=0  let browser tests skip when no chromium is installed (default: fail)
# Extra arguments are passed to pytest (e.g. scripts/test.sh -k kcat -x).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"

log() { printf '\n==> %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# ---------------------------------------------------------------------------- 1. apt packages
if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  need=()
  if ! command -v kcat >/dev/null 2>&1 && ! command -v kafkacat >/dev/null 2>&1; then
    need+=(kcat)
  fi
  # Browser tests (compat-tests/browser.py) drive headless Chromium over the DevTools pipe.
  if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
      && ! command -v google-chrome >/dev/null 2>&1; then
    need+=(chromium)
  fi
  # The suite runs ZooKeeper from the Debian package's jars (/usr/share/java/zookeeper.jar,
  # its manifest pulls in the dependencies); it needs a JRE too (a dependency of the package).
  if [ -z "${ZOOKEEPER_CLASSPATH:-}" ] && [ ! -e /usr/share/java/zookeeper.jar ]; then
    need+=(zookeeper)
  fi
  if ! command -v java >/dev/null 2>&1; then
    need+=(default-jre-headless)
  fi
  # The TLS tests make their certificates with the openssl CLI (compat-tests/certs.py).
  if ! command -v openssl >/dev/null 2>&1; then
    need+=(openssl)
  fi
  if ! "$PY" -m pip --version >/dev/null 2>&1; then
    need+=(python3-pip)
  fi
  if [ "${#need[@]}" -gt 0 ]; then
    log "apt-get install ${need[*]}"
    $SUDO apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
  fi

  # -------------------------------------------------------------------------- 2. pip packages
  log "pip install -r compat-tests/requirements.txt"
  pip_log="$(mktemp)"
  if ! "$PY" -m pip install --disable-pip-version-check -q -r compat-tests/requirements.txt \
        >"$pip_log" 2>&1; then
    if grep -q externally-managed-environment "$pip_log"; then
      # Debian's system Python (PEP 668): this is a throw-away test machine.
      "$PY" -m pip install --disable-pip-version-check -q --break-system-packages \
        -r compat-tests/requirements.txt
    else
      cat "$pip_log"
      exit 1
    fi
  fi
  rm -f "$pip_log"
fi

status=0

# ---------------------------------------------------------------------------- 3. cargo
log "cargo build --release"
start=$SECONDS
cargo build --release
echo "build took $((SECONDS - start))s"

if [ "${SKIP_CARGO_TEST:-0}" != 1 ]; then
  log "cargo test --release"
  start=$SECONDS
  # ZooKeeper is installed by now: the Rust ZooKeeper tests must run, not skip themselves.
  KRAB_REQUIRE_ZOOKEEPER=1 cargo test --release -- --test-threads=2 || status=$?
  echo "cargo test took $((SECONDS - start))s (exit $status)"
fi

# ---------------------------------------------------------------------------- 4. compat suite
log "pytest compat-tests"
start=$SECONDS
export KRAB_BIN="${KRAB_BIN:-$ROOT/target/release/krab}"
# Chromium is installed by step 1: browser tests must run, not skip themselves.
export KRAB_REQUIRE_CHROMIUM="${KRAB_REQUIRE_CHROMIUM:-1}"
py_status=0
"$PY" -m pytest -v compat-tests "$@" || py_status=$?
echo "compat suite took $((SECONDS - start))s (exit $py_status)"

if [ "$status" -ne 0 ] || [ "$py_status" -ne 0 ]; then
  echo "FAILED: cargo test exit $status, pytest exit $py_status" >&2
  exit 1
fi
