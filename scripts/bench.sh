#!/usr/bin/env bash
# krab performance benchmark, with a librdkafka client (scripts/bench/krab_bench.c).
#
#   scripts/bench.sh [RECORDS]
#
# Measures, against target/release/krab on a fresh temporary log dir:
#   - start-up time, spawn -> "listening on" line (median of STARTUP_RUNS fresh starts)
#   - idle RSS of the broker (VmRSS one second after start-up)
#   - produce records/s and MB/s, 100-byte records, acks=1 and acks=all
#   - consume records/s (legacy consumer, all partitions from the beginning)
#   - end-to-end latency p50/p99 (one message per ms, timestamp in the payload)
#   - broker RSS after the load, and start-up time with that data on disk
# and prints a summary with the targets. It never leaves a broker running.
#
# Environment knobs (defaults in brackets):
#   RECORDS [2000000]          records per produce run (also the first argument)
#   RECORDS_ALL [RECORDS]      records for the acks=all run
#   RECORD_SIZE [100]          bytes per record
#   PARTITIONS [1]             partitions of the produce/consume topics
#   LINGER_MS [5]              producer linger.ms for the throughput runs
#   LAT_MESSAGES [5000]        measured latency messages (after LAT_WARMUP [1000])
#   LAT_INTERVAL_US [1000]     gap between latency messages
#   LAT_ACKS [1]               acks for the latency producer
#   FETCH_WAIT_MS [5]          consumer fetch.wait.max.ms for the latency run
#   START_OFFSET [beginning]   where consume/latency start: "beginning" (OFFSET_BEGINNING,
#                              a ListOffsets request first) or an offset such as 0 (topics are fresh)
#   STARTUP_RUNS [5]           fresh start-ups timed for the start-up figure
#   KRAB_BIN [target/release/krab]
#   BENCH_BUILD_DIR [target/bench]   where the C client is compiled
#   KEEP_LOGS=1                keep the temporary dir (broker logs) after the run
#   STRICT=1                   exit 1 if a target is missed (errors always exit 1)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RECORDS="${1:-${RECORDS:-2000000}}"
RECORDS_ALL="${RECORDS_ALL:-$RECORDS}"
RECORD_SIZE="${RECORD_SIZE:-100}"
PARTITIONS="${PARTITIONS:-1}"
LINGER_MS="${LINGER_MS:-5}"
LAT_MESSAGES="${LAT_MESSAGES:-5000}"
LAT_WARMUP="${LAT_WARMUP:-1000}"
LAT_INTERVAL_US="${LAT_INTERVAL_US:-1000}"
LAT_ACKS="${LAT_ACKS:-1}"
FETCH_WAIT_MS="${FETCH_WAIT_MS:-5}"
STARTUP_RUNS="${STARTUP_RUNS:-5}"
START_OFFSET="${START_OFFSET:-beginning}"
KRAB="${KRAB_BIN:-$ROOT/target/release/krab}"
BUILD_DIR="${BENCH_BUILD_DIR:-$ROOT/target/bench}"

log() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'bench.sh: ERROR: %s\n' "$*" >&2; exit 1; }

[ -x "$KRAB" ] || fail "$KRAB not found; build it first (cargo build --release)"

# ---------------------------------------------------------------- build the client
if [ ! -e /usr/include/librdkafka/rdkafka.h ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  log "apt-get install librdkafka-dev"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y librdkafka-dev >&2 \
    || { $SUDO apt-get update >&2 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y librdkafka-dev >&2; }
fi
mkdir -p "$BUILD_DIR"
CLIENT="$BUILD_DIR/krab_bench"
if [ ! -x "$CLIENT" ] || [ scripts/bench/krab_bench.c -nt "$CLIENT" ]; then
  log "compiling $CLIENT"
  gcc -O2 -Wall -o "$CLIENT" scripts/bench/krab_bench.c -lrdkafka -lpthread
fi

# ---------------------------------------------------------------- broker lifecycle
TMP="$(mktemp -d "${TMPDIR:-/tmp}/krab-bench.XXXXXX")"
BROKER_PID=""
DRAIN_PID=""
PORT=""
STARTUP_MS=""

stop_broker() {
  if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$BROKER_PID" 2>/dev/null; then
      printf 'bench.sh: WARNING: broker %s ignored SIGTERM for 5 s, killing it\n' "$BROKER_PID" >&2
      kill -KILL "$BROKER_PID" 2>/dev/null || true
    fi
    wait "$BROKER_PID" 2>/dev/null || true
  fi
  BROKER_PID=""
  if [ -n "$DRAIN_PID" ]; then kill "$DRAIN_PID" 2>/dev/null || true; wait "$DRAIN_PID" 2>/dev/null || true; fi
  DRAIN_PID=""
}

cleanup() {
  local rc=$?
  stop_broker
  if [ "${KEEP_LOGS:-0}" = 1 ] || [ $rc -ne 0 ]; then
    if [ $rc -ne 0 ] && [ -s "$TMP/broker.log" ]; then
      echo "---- last lines of the broker log ($TMP/broker.log) ----" >&2
      tail -n 20 "$TMP/broker.log" | sed "s/\x1b\[[0-9;]*m//g" >&2 || true
    fi
    rm -rf "$TMP/data" "$TMP"/data-* 2>/dev/null || true
    echo "bench.sh: logs kept in $TMP" >&2
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_broker DATA_DIR: spawns the broker, sets BROKER_PID, PORT and STARTUP_MS
# (spawn -> "listening on" line on its stdout, read through a FIFO, no polling).
start_broker() {
  local data="$1" fifo="$TMP/stdout.fifo" line t0 t1
  rm -f "$fifo"; mkfifo "$fifo"
  t0=$EPOCHREALTIME
  "$KRAB" serve --override listeners=PLAINTEXT://127.0.0.1:0 --override "log.dirs=$data" \
    >"$fifo" 2>>"$TMP/broker.log" &
  BROKER_PID=$!
  exec 3<"$fifo"
  if ! IFS= read -r -t 30 line <&3; then
    fail "broker did not print its listening line within 30 s"
  fi
  t1=$EPOCHREALTIME
  case "$line" in
    *"listening on "*) ;;
    *) fail "unexpected first stdout line from the broker: $line" ;;
  esac
  PORT="${line##*:}"
  STARTUP_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
  # keep draining stdout so the broker can never block on it
  cat <&3 >>"$TMP/broker.stdout" &
  DRAIN_PID=$!
  exec 3<&-
  rm -f "$fifo"
}

alive() { kill -0 "$BROKER_PID" 2>/dev/null || fail "the broker (pid $BROKER_PID) exited unexpectedly (killed by someone else, or crashed: see its log)"; }
rss_kb() { alive; awk '/^VmRSS:/ { print $2 }' "/proc/$BROKER_PID/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$BROKER_PID/status"; }
threads() { awk '/^Threads:/ { print $2 }' "/proc/$BROKER_PID/status"; }
# broker CPU time (user+system) in centiseconds
cpu_cs() { awk '{ print $14 + $15 }' "/proc/$BROKER_PID/stat"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# field KEY LINE: value of key=value in a RESULT line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# run_client LABEL ARGS...: runs the C client, echoes its RESULT line, records broker CPU.
# Called in $(...), so failures are recorded in a file.
run_client() {
  local label="$1"; shift
  local c0 c1 out rc=0
  c0=$(cpu_cs)
  out=$("$CLIENT" "$@" 2>"$TMP/client-$label.err") || rc=$?
  c1=$(cpu_cs)
  if [ $rc -ne 0 ] || [ -z "$out" ]; then
    echo "$label" >>"$TMP/failed"
    printf 'bench.sh: %s FAILED (exit %s):\n' "$label" "$rc" >&2
    tail -n 15 "$TMP/client-$label.err" >&2
  elif grep -q "client error\|rdkafka log [0-4] " "$TMP/client-$label.err"; then
    printf 'bench.sh: %s: client-side errors/warnings:\n' "$label" >&2
    grep "client error\|rdkafka log [0-4] " "$TMP/client-$label.err" | head -n 5 >&2
  fi
  kill -0 "$BROKER_PID" 2>/dev/null || { echo "$label (broker died)" >>"$TMP/failed"; echo "bench.sh: the broker died during $label" >&2; }
  printf '%s broker_cpu_s=%s\n' "${out:-RESULT $label failed}" \
    "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", (b - a) / 100 }')"
}

create_topic() {
  "$KRAB" topics --bootstrap-server "127.0.0.1:$PORT" --create --topic "$1" \
    --partitions "$2" --replication-factor 1 >/dev/null \
    || fail "cannot create topic $1"
}

# Anything else busy (a cargo build on a 2-core machine) makes the figures meaningless.
BUSY=$(pgrep -x 'rustc|cargo|cc1|cc1plus|ld' 2>/dev/null | wc -l || true)

# ---------------------------------------------------------------- start-up and idle
log "start-up time: $STARTUP_RUNS fresh starts"
startups=()
for i in $(seq "$STARTUP_RUNS"); do
  start_broker "$TMP/data-startup-$i"
  startups+=("$STARTUP_MS")
  stop_broker
  rm -rf "$TMP/data-startup-$i"
done
STARTUP_MEDIAN=$(printf '%s\n' "${startups[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
STARTUP_MAX=$(printf '%s\n' "${startups[@]}" | sort -n | tail -n 1)

start_broker "$TMP/data"
log "broker pid $BROKER_PID on 127.0.0.1:$PORT (start-up ${STARTUP_MS} ms); idling 1 s"
sleep 1
IDLE_RSS_KB=$(rss_kb)
IDLE_THREADS=$(threads)

# ---------------------------------------------------------------- load
create_topic bench-acks1 "$PARTITIONS"
create_topic bench-acksall "$PARTITIONS"
create_topic bench-latency 1

log "produce $RECORDS x $RECORD_SIZE B, acks=1"
R_P1=$(run_client produce-acks1 produce -b "127.0.0.1:$PORT" -t bench-acks1 -n "$RECORDS" \
  -s "$RECORD_SIZE" -a 1 -l "$LINGER_MS" -T 120)
echo "$R_P1"
log "produce $RECORDS_ALL x $RECORD_SIZE B, acks=all"
R_PA=$(run_client produce-acksall produce -b "127.0.0.1:$PORT" -t bench-acksall -n "$RECORDS_ALL" \
  -s "$RECORD_SIZE" -a all -l "$LINGER_MS" -T 120)
echo "$R_PA"
log "consume $RECORDS records"
R_C=$(run_client consume consume -b "127.0.0.1:$PORT" -t bench-acks1 -n "$RECORDS" \
  -s "$RECORD_SIZE" -o "$START_OFFSET" -T 15)
echo "$R_C"
log "end-to-end latency: $LAT_WARMUP warm-up + $LAT_MESSAGES messages"
R_L=$(run_client latency latency -b "127.0.0.1:$PORT" -t bench-latency -n "$LAT_MESSAGES" \
  -w "$LAT_WARMUP" -i "$LAT_INTERVAL_US" -s "$RECORD_SIZE" -a "$LAT_ACKS" -f "$FETCH_WAIT_MS" -o "$START_OFFSET" -T 15)
echo "$R_L"

sleep 1
LOAD_RSS_KB=$(rss_kb)
LOAD_HWM_KB=$(hwm_kb)
LOAD_THREADS=$(threads)
DATA_MB=$(du -sm "$TMP/data" | cut -f1)
stop_broker

log "restart on the ${DATA_MB} MB of data just written"
start_broker "$TMP/data"
RESTART_MS="$STARTUP_MS"
sleep 1
RESTART_RSS_KB=$(rss_kb)
stop_broker

# broker log without ANSI colours and timestamps
sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^[0-9T:.Z-]* *//' "$TMP/broker.log" >"$TMP/broker.plain.log"
BROKER_WARN=$(grep -c '^WARN' "$TMP/broker.plain.log" || true)
BROKER_ERR=$(grep -c '^ERROR' "$TMP/broker.plain.log" || true)

# ---------------------------------------------------------------- summary
verdict() { # verdict VALUE OP TARGET -> ok / MISS
  awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
    if (v == "" || v == "-") { print "n/a"; exit }
    ok = (op == ">=") ? (v + 0 >= t + 0) : (v + 0 <= t + 0); print ok ? "ok" : "MISS" }'
}
P1_RPS=$(field rps "$R_P1"); PA_RPS=$(field rps "$R_PA"); C_RPS=$(field rps "$R_C")
P99=$(field p99_ms "$R_L")
IDLE_RSS_MB=$(mb "$IDLE_RSS_KB")
V_P1=$(verdict "$P1_RPS" ">=" 800000)
V_P99=$(verdict "$P99" "<=" 5)
V_RSS=$(verdict "$IDLE_RSS_MB" "<=" 30)
V_START=$(verdict "$STARTUP_MEDIAN" "<=" 100)

CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
cat <<EOF

================================ krab benchmark ================================
machine      : $(nproc) CPUs, ${CPU_MODEL:-unknown CPU}, Linux $(uname -r), $(awk '/^MemTotal/ { printf "%.1f GB RAM", $2 / 1048576 }' /proc/meminfo)
broker       : $KRAB ($(date -r "$KRAB" '+%Y-%m-%d %H:%M')), log.dirs on $(df -P "$TMP" | awk 'NR == 2 { print $1 }')
client       : librdkafka $(dpkg-query -W -f '${Version}' librdkafka1 2>/dev/null || echo '?'), $RECORD_SIZE-byte records, linger.ms=$LINGER_MS, no compression
topics       : produce/consume $PARTITIONS partition(s), latency 1 partition, all on 127.0.0.1; consumers start at offset $START_OFFSET

metric                          value                 target        verdict
------------------------------  --------------------  ------------  -------
EOF
row() { printf '%-30s  %-20s  %-12s  %s\n' "$@"; }
row "produce acks=1  records/s"   "$P1_RPS"                               ">= 800000"  "$V_P1"
row "produce acks=1  MB/s"        "$(field mbps "$R_P1")"                  "" ""
row "produce acks=all records/s"  "$PA_RPS"                               "" ""
row "produce acks=all MB/s"       "$(field mbps "$R_PA")"                  "" ""
row "consume records/s"           "$C_RPS"                                "" ""
row "consume MB/s"                "$(field mbps "$R_C")"                   "" ""
row "e2e latency p50 ms"          "$(field p50_ms "$R_L")"                 "" ""
row "e2e latency p99 ms"          "$P99"                                  "<= 5"       "$V_P99"
row "e2e latency max ms"          "$(field max_ms "$R_L")"                 "" ""
row "idle RSS MB"                 "$IDLE_RSS_MB ($IDLE_THREADS threads)"  "<= 30"      "$V_RSS"
row "start-up to listening ms"    "$STARTUP_MEDIAN (max $STARTUP_MAX)"    "<= 100"     "$V_START"
row "RSS after load MB"           "$(mb "$LOAD_RSS_KB") (peak $(mb "$LOAD_HWM_KB"))" "" ""
row "restart with ${DATA_MB} MB data ms" "$RESTART_MS (RSS $(mb "$RESTART_RSS_KB") MB)" "" ""
cat <<EOF

broker CPU s : produce acks=1 $(field broker_cpu_s "$R_P1"), acks=all $(field broker_cpu_s "$R_PA"), consume $(field broker_cpu_s "$R_C"), latency $(field broker_cpu_s "$R_L")
runs         : produce acks=1 $(field records "$R_P1") rec in $(field secs "$R_P1") s, acks=all $(field records "$R_PA") rec in $(field secs "$R_PA") s, consume $(field records "$R_C") rec in $(field secs "$R_C") s (first record after $(field first_record_ms "$R_C") ms)
latency run  : $(field messages "$R_L") msgs every $LAT_INTERVAL_US us, acks=$LAT_ACKS, fetch.wait.max.ms=$FETCH_WAIT_MS, p90 $(field p90_ms "$R_L") ms, p99.9 $(field p999_ms "$R_L") ms
start-ups ms : ${startups[*]}
broker log   : $BROKER_WARN WARN, $BROKER_ERR ERROR lines
EOF
if [ "$BROKER_WARN$BROKER_ERR" != "00" ]; then
  grep '^WARN\|^ERROR' "$TMP/broker.plain.log" | sort | uniq -c | sort -rn | head -n 8 | cut -c1-200
fi
BUSY_AFTER=$(pgrep -x 'rustc|cargo|cc1|cc1plus|ld' 2>/dev/null | wc -l || true)
if [ "$BUSY" != 0 ] || [ "$BUSY_AFTER" != 0 ]; then
  echo "NOTE         : compilers (rustc/cargo/cc) were running during the run: figures are unreliable"
fi
echo "================================================================================"

[ ! -s "$TMP/failed" ] || fail "client run(s) failed: $(tr '\n' ' ' <"$TMP/failed")"
if [ "${STRICT:-0}" = 1 ]; then
  for v in "$V_P1" "$V_P99" "$V_RSS" "$V_START"; do [ "$v" = ok ] || exit 1; done
fi
exit 0
