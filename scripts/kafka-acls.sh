#!/usr/bin/env bash
# kafka-acls.sh for krab: the same flags as Kafka's script, run by `krab acls`.
# The krab binary: $KRAB_BIN, else target/release/krab next to this script, else krab on PATH.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
krab="${KRAB_BIN:-}"
if [ -z "$krab" ]; then
  if [ -x "$here/../target/release/krab" ]; then krab="$here/../target/release/krab"; else krab=krab; fi
fi
exec "$krab" acls "$@"
