#!/usr/bin/env bash
# kafka-server-start.sh for krab: `kafka-server-start.sh [-daemon] config/server.properties
# [--override key=value]...` runs `krab serve` with the same arguments.
# With -daemon the broker runs in the background, its output in logs/krabServer.out
# (Kafka writes logs/kafkaServer.out). The krab binary: $KRAB_BIN, else
# target/release/krab next to this script, else krab on PATH.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
krab="${KRAB_BIN:-}"
if [ -z "$krab" ]; then
  if [ -x "$here/../target/release/krab" ]; then krab="$here/../target/release/krab"; else krab=krab; fi
fi
if [ $# -lt 1 ]; then
  echo "USAGE: $0 [-daemon] server.properties [--override property=value]*" >&2
  exit 1
fi
daemon=0
if [ "$1" = "-daemon" ] || [ "$1" = "--daemon" ]; then
  daemon=1
  shift
fi
if [ "$daemon" = 1 ]; then
  log_dir="${LOG_DIR:-$here/../logs}"
  mkdir -p "$log_dir"
  nohup "$krab" serve "$@" >"$log_dir/krabServer.out" 2>&1 </dev/null &
  exit 0
fi
exec "$krab" serve "$@"
