#!/usr/bin/env bash
# run.sh - Meridian at the design's scale (issue 16): 10k services, 100k endpoints, 50 probers.
#
# Usage: bash test/bench/scale/run.sh [-s SERVICES] [-p POOLS] [-e ENDPOINTS] [-n PROBERS] [-b BINARY]
#                                     [-o OUTDIR] [-d SECS] [-r ROUNDS] [-Q RATE] [-w SETTLE] [-P SECS]
#                                     [-H HOURS] [-x "PHASE ..."] [-F] [-N]
#   -s -p -e  services (default 10000), pools (1000), endpoints (100000; an equal share per pool,
#             half of the pools monitored at a 10 s interval): gen/'s -services -pools -endpoints
#   -n  remote probers (`meridian probe` processes) for the probers phase (default 50)
#   -b  Meridian binary (default: go build ./cmd/meridian into the temp dir)
#   -o  output directory (default /tmp/meridian-scale.DATE): configs, query files, logs, summary.txt
#   -d  seconds per max-qps dnsperf run (default 10)   -r  rounds of the qps comparison (default 3)
#   -Q  the offered rate of the reload stream (default 20000 q/s)
#   -w  seconds the node runs before "RSS after a while" and the probe lag window (default 60)
#   -P  seconds the remote probers run (default 60)     -H  simulated hours of the store phase (24)
#   -x  phases to skip: reload qps probers quiet store (e.g. -x "probers store")
#   -F  perf record the node for 10 s in the settle window and in the probers phase (needs perf)
#   -N  write the configs in the natural layout (a table per service, a line per endpoint: ~180k
#       lines at the default size) instead of gen's -compact one (a line per pool and per
#       service: ~15k lines). The same config; config loading is quadratic in the line count
#       (see README), so -N takes far longer to check, start and reload
#
# What it does, every step bounded in time, every address on 127.0.0.0/8:
#   1. gen/ writes scale.toml (the design's size), one.toml (one geo service over the same three
#      pools as scale.toml's svc00000, the same regions, monitors and server settings) and the
#      dnsperf -B query files: queries-all.bin (every service twice, half with an ECS /24) and
#      queries-one.bin (svc00000 only, the same ECS mix). backend/ serves the probe targets: HTTP
#      on 127.0.0.1:19101-19116, the first port flapping (503 for 2 min, 200 for 2 min): the
#      endpoints probed there (~3% of the monitored ones) go down and up. Pools picked by gen's
#      -down-pools probe 127.x.y.z:19099, where nothing listens.
#   2. `meridian check` wall time on both configs.
#   3. starts `meridian serve -c scale.toml` on an empty data dir: time to the first answer
#      (dig every 50 ms for svc00000), RSS (VmRSS) then and after -w seconds, its CPU over that
#      window, and the probe schedule lag (meridian_health_schedule_lag_seconds, from two scrapes
#      of /metrics: the window's own histogram), probes and commits in the window.
#   4. reload: a dnsperf stream at -Q q/s over queries-all.bin for 24 s without reloads (the
#      control), then another, long enough for three reloads (from the start-up time), with a
#      SIGHUP at 4 s and then 3 s after each reload is done; each reload's time is from the
#      signal to the "config reloaded" log line's own timestamp; lost queries from dnsperf.
#   5. qps: also starts one.toml's node (127.0.0.1:5411); -r rounds, rotating the order, of max-qps
#      runs (dnsperf -c 4 -T 1 -q 100 -t 2, as dns.sh) of one.toml with queries-one.bin, scale.toml
#      with queries-one.bin (the same name and answers: the cost of the config's size alone) and
#      scale.toml with queries-all.bin (every name); medians, server CPU µs per query, ratios.
#   6. probers: -n `meridian probe` processes against the node for -P s (each fetches the remote
#      plan: every monitored endpoint); the node's CPU and RSS, the probers' total, the node's
#      lag, the probers the node sees fresh (/api/v1/probers), their warnings, DNS still
#      answering, the state file's size. Stopped by PID.
#   6b. quiet: gen's same configs with no monitor (-monitored 0: the same names, pools and
#      endpoints; step 5's query files) on 127.0.0.1:5412 and :5411, and step 5's rounds again, so that the DNS cost
#      of 10,000 services is measured without the probing of 50,000 endpoints sharing the cores;
#      and step 4's reloads under a stream on the unmonitored scale config.
#   7. store: storesim/ runs store.Store on a simulated clock for -H hours (100k targets, 3%
#      flapping) and reports the bbolt file's size, hour by hour.
# Needs Go, dnsperf, dig, curl (installed from Debian when missing and run as root). Refuses to
# start when one of its ports is taken. Only the processes started here are stopped, by PID.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
SERVICES=10000 POOLS=1000 ENDPOINTS=100000 PROBERS=50 BIN="" OUT="" SECS=10 ROUNDS=3 RATE=20000
SETTLE=60 PROBE_SECS=60 HOURS=24 SKIP="" PERF=0 COMPACT=-compact
HOST=127.0.0.1 DNS_PORT=5410 HTTP_PORT=8410 ONE_DNS_PORT=5411 ONE_HTTP_PORT=8411 QUIET_DNS_PORT=5412 QUIET_HTTP_PORT=8412
BACKEND_PORT=19101 BACKENDS=16 CLOSED_PORT=19099

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts "s:p:e:n:b:o:d:r:Q:w:P:H:x:FNh" o; do
  case $o in
    s) SERVICES=$OPTARG;; p) POOLS=$OPTARG;; e) ENDPOINTS=$OPTARG;; n) PROBERS=$OPTARG;; b) BIN=$OPTARG;;
    o) OUT=$OPTARG;; d) SECS=$OPTARG;; r) ROUNDS=$OPTARG;; Q) RATE=$OPTARG;; w) SETTLE=$OPTARG;;
    P) PROBE_SECS=$OPTARG;; H) HOURS=$OPTARG;; x) SKIP=$OPTARG;; F) PERF=1;; N) COMPACT="";; *) usage;;
  esac
done
(($# < OPTIND)) || usage
log() { printf '%s [scale] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
in_range() { [[ "$1" =~ ^[0-9]+$ ]] && (($1 >= $2 && $1 <= $3)); }
in_range "$SERVICES" 1 100000 || die "-s must be 1..100000"
in_range "$POOLS" 3 10000 || die "-p must be 3..10000"
in_range "$ENDPOINTS" 3 131072 || die "-e must be 3..131072"
in_range "$PROBERS" 0 100 || die "-n must be 0..100"
in_range "$SECS" 1 120 || die "-d must be 1..120"
in_range "$ROUNDS" 1 10 || die "-r must be 1..10"
in_range "$RATE" 100 200000 || die "-Q must be 100..200000"
in_range "$SETTLE" 5 1800 || die "-w must be 5..1800"
in_range "$PROBE_SECS" 5 600 || die "-P must be 5..600"
in_range "$HOURS" 1 48 || die "-H must be 1..48"
skip() { [[ " $SKIP " == *" $1 "* ]]; }
[[ -z "$BIN" || -x "$BIN" ]] || die "-b $BIN is not executable"

TMP=$(mktemp -d /tmp/meridian-scale.XXXXXX)
OUT=${OUT:-/tmp/meridian-scale.$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/logs"
CFG=$OUT/cfg
declare -A PID=()   # our long-lived children by role: backend, scale, one
PROBER_PIDS=() LOAD_PID=""

# stop_pid PID: TERM, up to 10 s for it to exit, then KILL. Only ever called on our own children.
stop_pid() {
  local i
  kill -TERM "$1" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
stop_probers() {
  local p
  for p in "${PROBER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PROBER_PIDS[@]}"; do stop_pid "$p"; done
  PROBER_PIDS=()
}
cleanup() {
  local n
  trap '' INT TERM
  [[ -z "$LOAD_PID" ]] || stop_pid "$LOAD_PID"
  stop_probers
  for n in scale one backend; do [[ -z "${PID[$n]:-}" ]] || stop_pid "${PID[$n]}"; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'exit 143' TERM

# Tools, from Debian when missing (needs root).
need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v dig >/dev/null || need+=(dnsutils)
command -v curl >/dev/null || need+=(curl)
((PERF == 0)) || command -v perf >/dev/null || need+=(linux-perf)
if ((${#need[@]})); then
  ((EUID == 0)) || die "missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root"
  log "installing ${need[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >"$TMP/apt.log" 2>&1 \
    || { cat "$TMP/apt.log" >&2; die "apt-get install ${need[*]} failed"; }
fi
command -v go >/dev/null || die "needs Go"

port_busy() { ss -Hltun "sport = :$1" 2>/dev/null | grep -q .; }
for p in $DNS_PORT $HTTP_PORT $ONE_DNS_PORT $ONE_HTTP_PORT $QUIET_DNS_PORT $QUIET_HTTP_PORT $CLOSED_PORT $(seq $BACKEND_PORT $((BACKEND_PORT + BACKENDS - 1))); do
  ! port_busy "$p" || die "port $p is in use: this script only measures processes it starts"
done

log "building into $TMP/bin"
mkdir -p "$TMP/bin"
(cd "$ROOT" && for t in gen backend storesim; do go build -o "$TMP/bin/$t" "./test/bench/scale/$t"; done) || die "go build failed"
if [[ -z "$BIN" ]]; then
  (cd "$ROOT" && go build -o "$TMP/bin/meridian" ./cmd/meridian) || die "go build ./cmd/meridian failed"
  BIN=$TMP/bin/meridian
fi

# Small helpers over /proc and /metrics.
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
rss_mib() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo -; }
CLK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }   # utime + stime
scrape() { curl -fsS --max-time 10 "http://$HOST:$1/metrics" > "$2" || : > "$2"; }
# metric FILE NAME: the sum of NAME's samples (any labels)
metric() { awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%.0f", s }' "$1"; }
# hist_window OLD NEW NAME: the histogram NAME between two scrapes: "p50<=X p99<=Y mean=Z n=N" (seconds)
hist_window() {
  awk -v n="$3" '
    FNR == 1 { f++ }
    index($1, n "_bucket{") == 1 { match($1, /le="[^"]*"/); le = substr($1, RSTART + 4, RLENGTH - 5)
      if (f == 1) old[le] = $2; else { new[le] = $2; if (!(le in seen)) { seen[le] = 1; order[++k] = le } } }
    $1 == n "_sum" { if (f == 1) os = $2; else ns = $2 }
    $1 == n "_count" { if (f == 1) oc = $2; else nc = $2 }
    END { c = nc - oc; if (c <= 0) { print "n=0"; exit }
      p50 = p99 = ""; for (i = 1; i <= k; i++) { d = new[order[i]] - old[order[i]]
        if (p50 == "" && d >= 0.5 * c) p50 = order[i]; if (p99 == "" && d >= 0.99 * c) p99 = order[i] }
      printf "p50<=%s p99<=%s mean=%.4f n=%d", p50, p99, (ns - os) / c, c }' "$1" "$2"
}
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"
row() { printf '%-44s %s\n' "$1" "$2" | tee -a "$SUMMARY"; }

# 1. inputs
GEO_DB=$ROOT/.cache/geoip/GeoLite2-City.mmdb
[[ -r "$GEO_DB" ]] || { log "no $GEO_DB (test/geodata.sh fetches it): geo by [geo.nets] only"; GEO_DB=""; }
log "generating $SERVICES services, $POOLS pools, $ENDPOINTS endpoints into $CFG"
rm -rf "$CFG" && mkdir -p "$CFG"
"$TMP/bin/gen" $COMPACT -o "$CFG" -services "$SERVICES" -pools "$POOLS" -endpoints "$ENDPOINTS" -geo-db "$GEO_DB" \
  -dns "$HOST:$DNS_PORT" -http "$HOST:$HTTP_PORT" -one-dns "$HOST:$ONE_DNS_PORT" -one-http "$HOST:$ONE_HTTP_PORT" \
  -backend-port "$BACKEND_PORT" -backends "$BACKENDS" -closed-port "$CLOSED_PORT" | tee "$OUT/gen.txt" >&2
od -An -tx1 -N16 /dev/urandom | tr -d ' \n' > "$CFG/peer.secret"
od -An -tx1 -N16 /dev/urandom | tr -d ' \n' > "$CFG/api.token"
chmod 600 "$CFG/peer.secret" "$CFG/api.token"
QNAME=$(awk 'NR == 1 { print $1 }' "$CFG/names.txt")
row "sizes" "$(cat "$OUT/gen.txt")"
row "config" "scale.toml $(du -h "$CFG/scale.toml" | cut -f1), $(wc -l < "$CFG/scale.toml") lines"

MAXLIFE=$((SETTLE + PROBE_SECS + 60 * ROUNDS * SECS / 10 + 1800))
"$TMP/bin/backend" -port "$BACKEND_PORT" -n "$BACKENDS" -flap 2m -max "${MAXLIFE}s" > "$OUT/logs/backend.log" 2>&1 &
PID[backend]=$!

# 2. check
t=$(now); "$BIN" check -c "$CFG/scale.toml" > "$OUT/logs/check.txt" 2>&1 || { cat "$OUT/logs/check.txt" >&2; die "check failed"; }
row "check scale.toml (wall s)" "$(since "$t")"
t=$(now); "$BIN" check -c "$CFG/one.toml" >> "$OUT/logs/check.txt" 2>&1 || { cat "$OUT/logs/check.txt" >&2; die "check one.toml failed"; }
row "check one.toml (wall s)" "$(since "$t")"

# 3. start-up, RSS, idle CPU and probe lag
answers() { dig +time=1 +tries=1 +norec +short @"$HOST" -p "$1" "$2" A 2>/dev/null | grep -q '^[0-9.]*$'; }
# start_node NAME CONFIG DNS_PORT: start it, wait for its first answer (at most 900 s); STARTED = the seconds
start_node() {
  local t end=$((SECONDS + 900))
  t=$(now)
  "$BIN" serve -c "$CFG/$2" > "$OUT/logs/$1.log" 2>&1 &
  PID[$1]=$!
  until answers "$3" "$QNAME"; do
    kill -0 "${PID[$1]}" 2>/dev/null || { tail -20 "$OUT/logs/$1.log" >&2; die "$1 exited"; }
    ((SECONDS < end)) || die "$1 did not answer within 900 s"
    sleep 0.05
  done
  STARTED=$(since "$t")
}
log "starting the scale node"
start_node scale scale.toml $DNS_PORT
row "start-up to first answer (s)" "$STARTED"
START_S=${STARTED%.*}
SP=${PID[scale]}
row "RSS at first answer (MiB)" "$(rss_mib "$SP")"
log "letting it run for $SETTLE s"
scrape $HTTP_PORT "$TMP/m0"; c0=$(cpu_ticks "$SP"); t=$(now)
if ((PERF)); then
  sleep $((SETTLE > 20 ? SETTLE - 15 : 0))
  timeout 30 perf record -g -F 199 -p "$SP" -o "$OUT/perf-settle.data" -- sleep 10 > /dev/null 2>&1 || log "perf record failed"
fi
while [[ $(since "$t" | cut -d. -f1) -lt $SETTLE ]]; do sleep 1; done
scrape $HTTP_PORT "$TMP/m1"; c1=$(cpu_ticks "$SP"); el=$(since "$t")
row "RSS after ${SETTLE}s (MiB)" "$(rss_mib "$SP")"
row "node CPU while idle (cores)" "$(awk -v d=$((c1 - c0)) -v k="$CLK" -v e="$el" 'BEGIN { printf "%.2f", d / k / e }')"
row "probe schedule lag, ${SETTLE}s window (s)" "$(hist_window "$TMP/m0" "$TMP/m1" meridian_health_schedule_lag_seconds)"
row "probes/s in the window" "$(awk -v a="$(metric "$TMP/m0" meridian_health_probes_total)" -v b="$(metric "$TMP/m1" meridian_health_probes_total)" -v e="$el" 'BEGIN { printf "%.0f", (b - a) / e }')"
row "skipped probes (total)" "$(metric "$TMP/m1" meridian_health_skipped_probes_total)"
row "store commit time, window (s)" "$(hist_window "$TMP/m0" "$TMP/m1" meridian_store_commit_duration_seconds)"
row "transitions (total) / stale reports" "$(metric "$TMP/m1" meridian_health_transitions_total) / $(metric "$TMP/m1" meridian_health_stale_reports)"
row "ECS scope maps ready (log)" "$(grep -c 'ECS scope map ready' "$OUT/logs/scale.log") lines, took: $(grep -o 'took=[^ ]*' "$OUT/logs/scale.log" | tr '\n' ' ')"
row "state.db after ${SETTLE}s (bytes)" "$(stat -c %s "$CFG/data/state.db")"
if ((PERF)) && [[ -s "$OUT/perf-settle.data" ]]; then
  perf report -i "$OUT/perf-settle.data" --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -25 > "$OUT/perf-settle.txt" || true
fi

# dnsperf_run OUTFILE ARGS...: bounded by timeout; prints nothing
dnsperf_run() { local f=$1; shift; timeout 300 dnsperf -s "$HOST" "$@" > "$f" 2>&1 || true; }
dp() { awk -v k="$2" 'index($0, k) { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { print $i; exit } }' "$1"; }

# reloads TAG PID PORT LOG: a dnsperf stream at RATE q/s over every name for 24 s without reloads
# (the control), then another, long enough for three reloads, with a SIGHUP at 4 s and then 3 s
# after each reload is done; each reload's time is from the signal to the "config reloaded" log
# line's own timestamp (whose load/prepare/commit fields say where it went); rows tagged TAG.
reloads() {
  local tag=$1 pid=$2 port=$3 nlog=$4 L k before ts end line lt times=() phases=()
  log "reload ($tag): control stream, $RATE q/s for 24 s"
  dnsperf_run "$OUT/reload-$tag-control.txt" -p "$port" -B -d "$CFG/queries-all.bin" -Q "$RATE" -l 24 -c 4 -T 1 -q 500 -t 2
  row "$tag control stream: sent / lost" "$(dp "$OUT/reload-$tag-control.txt" 'Queries sent') / $(dp "$OUT/reload-$tag-control.txt" 'Queries lost')"
  # long enough for three reloads that take about as long as the start-up did (a reload parses
  # and builds everything again), at most 900 s
  L=$((3 * (START_S * 2 + 5) + 10)); ((L >= 24)) || L=24; ((L <= 900)) || L=900
  log "reload ($tag): the same stream for $L s with 3 SIGHUPs, from 4 s on, 3 s apart after each reload"
  dnsperf -s "$HOST" -p "$port" -B -d "$CFG/queries-all.bin" -Q "$RATE" -l "$L" -c 4 -T 1 -q 500 -t 2 > "$OUT/reload-$tag-stream.txt" 2>&1 &
  LOAD_PID=$!
  sleep 4
  for k in 1 2 3; do
    kill -0 "$LOAD_PID" 2>/dev/null || { log "the stream ended before reload $k"; break; }
    before=$(grep -c 'msg="config reloaded"' "$nlog" || true)
    ts=$(now); kill -HUP "$pid"
    end=$((SECONDS + 900))
    until (($(grep -c 'msg="config reloaded"\|msg="config rejected' "$nlog" || true) > before)); do
      ((SECONDS < end)) || die "no reload log line within 900 s of SIGHUP"
      sleep 0.02
    done
    line=$(grep 'msg="config reloaded"\|msg="config rejected' "$nlog" | tail -1)
    [[ $line == *'config reloaded'* ]] || die "reload rejected: $line"
    lt=$(date -d "$(sed -E 's/^time=([^ ]*).*/\1/' <<< "$line")" +%s.%N)
    times+=("$(awk -v a="$ts" -v b="$lt" 'BEGIN { printf "%.2f", b - a }')")
    phases+=("$(grep -o 'load=[^ ]* prepare=[^ ]* commit=[^ ]*' <<< "$line" || echo -)")
    sleep 3
  done
  wait "$LOAD_PID" || true; LOAD_PID=""
  row "$tag SIGHUP to 'config reloaded' (s)" "${times[*]} (stream of $L s)"
  row "$tag reloads' load/prepare/commit" "${phases[*]}"
  row "$tag stream with reloads: sent / lost" "$(dp "$OUT/reload-$tag-stream.txt" 'Queries sent') / $(dp "$OUT/reload-$tag-stream.txt" 'Queries lost')"
  row "$tag stream with reloads: latency max (s)" "$(awk '/Average Latency/ { gsub(/[(),]/, " "); for (i = 1; i <= NF; i++) if ($i == "max") print $(i + 1) }' "$OUT/reload-$tag-stream.txt")"
  row "$tag RSS after the reloads (MiB)" "$(rss_mib "$pid")"
}

# 4. reloads under a steady stream, the node probing
if ! skip reload; then
  reloads probing "$SP" $DNS_PORT "$OUT/logs/scale.log"
fi

# qps_compare TAG: ROUNDS rounds, rotating the order, of max-qps runs of the three pairs RUNPORT, RUNPID
# and RUNQ name (one, scale-one, scale-all); medians, server CPU per query and the ratios, as rows
# tagged TAG; the runs in $OUT/qps-TAG.tsv.
qps_compare() {
  local tag=$1 r i k f q done_ lost noerr us c0 c1 tsv=$OUT/qps-$1.tsv
  local order=(one scale-one scale-all)
  : > "$tsv"
  for ((r = 1; r <= ROUNDS; r++)); do
    for ((i = 0; i < 3; i++)); do
      k=${order[$(((i + r - 1) % 3))]}
      dnsperf_run "$TMP/warm.txt" -p "${RUNPORT[$k]}" -B -d "$CFG/${RUNQ[$k]}" -l 2 -c 4 -T 1 -q 100 -t 2
      c0=$(cpu_ticks "${RUNPID[$k]}")
      f=$OUT/qps-$tag-r$r-$k.txt
      dnsperf_run "$f" -p "${RUNPORT[$k]}" -B -d "$CFG/${RUNQ[$k]}" -l "$SECS" -c 4 -T 1 -q 100 -t 2
      c1=$(cpu_ticks "${RUNPID[$k]}")
      q=$(dp "$f" 'Queries per second'); done_=$(dp "$f" 'Queries completed'); lost=$(dp "$f" 'Queries lost')
      noerr=$(awk '/NOERROR/ { for (i = 1; i < NF; i++) if ($i == "NOERROR") { print $(i + 1); exit } }' "$f")
      us=$(awk -v d=$((c1 - c0)) -v k="$CLK" -v n="$done_" 'BEGIN { printf "%.2f", n ? d / k * 1e6 / n : 0 }')
      printf '%s\t%d\t%s\t%s\t%s\t%s\t%s\n' "$k" "$r" "$q" "$us" "$done_" "$lost" "$noerr" >> "$tsv"
      log "qps $tag round $r $k: $q q/s, $us us CPU/query, lost $lost, NOERROR $noerr of $done_"
    done
  done
  med() { awk -F'\t' -v k="$1" -v c="$2" '$1 == k { print $c }' "$tsv" | sort -g |
    awk '{ v[++n] = $1 } END { if (n) printf "%.2f", n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }'; }
  for k in one scale-one scale-all; do
    row "qps $tag $k (median q/s, CPU us/query)" "$(med "$k" 3) $(med "$k" 4)"
  done
  row "ratio $tag scale-all / one (goal >= 0.9)" "$(awk -v a="$(med scale-all 3)" -v b="$(med one 3)" 'BEGIN { printf "%.2f (%s)", a / b, ((a / b >= 0.9) ? "met" : "MISSED") }')"
  row "ratio $tag scale-one / one" "$(awk -v a="$(med scale-one 3)" -v b="$(med one 3)" 'BEGIN { printf "%.2f", a / b }')"
  row "non-NOERROR or lost in the $tag qps runs" "$(awk -F'\t' '{ bad += $5 - $7 + $6 } END { print bad + 0 }' "$tsv")"
}

# 5. qps: one.toml vs scale.toml, the scale node probing its 50,000 endpoints meanwhile
declare -A RUNPORT RUNPID RUNQ=([one]=queries-one.bin [scale-one]=queries-one.bin [scale-all]=queries-all.bin)
if ! skip qps; then
  log "starting the one-service node"
  start_node one one.toml $ONE_DNS_PORT
  row "one.toml start-up to first answer (s)" "$STARTED"
  row "one.toml RSS (MiB)" "$(rss_mib "${PID[one]}")"
  RUNPORT=([one]=$ONE_DNS_PORT [scale-one]=$DNS_PORT [scale-all]=$DNS_PORT)
  RUNPID=([one]=${PID[one]} [scale-one]=$SP [scale-all]=$SP)
  qps_compare probing
  stop_pid "${PID[one]}"; unset 'PID[one]'
fi

# 6. remote probers
if ! skip probers && ((PROBERS > 0)); then
  log "starting $PROBERS probers for $PROBE_SECS s"
  scrape $HTTP_PORT "$TMP/p0"; c0=$(cpu_ticks "$SP"); t=$(now)
  regions=(na-east na-west sa eu-west eu-central af ap oc)
  for ((i = 1; i <= PROBERS; i++)); do
    n=$(printf 'prober-%02d' "$i")
    "$BIN" probe -name "$n" -region "${regions[$((i % 8))]}" -node "http://$HOST:$HTTP_PORT" -secret-file "$CFG/peer.secret" \
      -log-level warn > "$OUT/logs/$n.log" 2>&1 &
    PROBER_PIDS+=($!)
  done
  pt0=0; for p in "${PROBER_PIDS[@]}"; do pt0=$((pt0 + $(cpu_ticks "$p"))); done
  if ((PERF)); then
    sleep $((PROBE_SECS > 25 ? PROBE_SECS - 20 : 0))
    timeout 30 perf record -g -F 199 -p "$SP" -o "$OUT/perf-probers.data" -- sleep 10 > /dev/null 2>&1 || log "perf record failed"
  fi
  dig_ok=0 dig_n=0
  while [[ $(since "$t" | cut -d. -f1) -lt $PROBE_SECS ]]; do
    dig_n=$((dig_n + 1)); ! answers $DNS_PORT "$QNAME" || dig_ok=$((dig_ok + 1)); sleep 1
  done
  scrape $HTTP_PORT "$TMP/p1"; c1=$(cpu_ticks "$SP"); el=$(since "$t")
  pt1=0 prss=0
  for p in "${PROBER_PIDS[@]}"; do pt1=$((pt1 + $(cpu_ticks "$p"))); r=$(rss_mib "$p"); [[ $r == - ]] || prss=$((prss + r)); done
  curl -fsS --max-time 20 "http://$HOST:$HTTP_PORT/api/v1/probers" > "$OUT/probers.json" || : > "$OUT/probers.json"
  fresh=$(grep -o '"fresh": *true' "$OUT/probers.json" | wc -l || true) # none when the node did not answer
  alive=0; for p in "${PROBER_PIDS[@]}"; do ! kill -0 "$p" 2>/dev/null || alive=$((alive + 1)); done
  row "probers running / fresh at the node" "$alive of $PROBERS / $fresh (the node's own prober included)"
  row "node CPU with probers (cores)" "$(awk -v d=$((c1 - c0)) -v k="$CLK" -v e="$el" 'BEGIN { printf "%.2f", d / k / e }')"
  row "probers' CPU (cores, all) / RSS (MiB, all)" "$(awk -v d=$((pt1 - pt0)) -v k="$CLK" -v e="$el" 'BEGIN { printf "%.2f", d / k / e }') / $prss"
  row "node RSS with probers (MiB)" "$(rss_mib "$SP")"
  row "node probe lag with probers (s)" "$(hist_window "$TMP/p0" "$TMP/p1" meridian_health_schedule_lag_seconds)"
  row "store commit time with probers (s)" "$(hist_window "$TMP/p0" "$TMP/p1" meridian_store_commit_duration_seconds)"
  row "peer refused / rejected (delta)" "$(($(metric "$TMP/p1" meridian_peer_refused_requests_total) - $(metric "$TMP/p0" meridian_peer_refused_requests_total))) / $(($(metric "$TMP/p1" meridian_peer_rejected_observations_total) - $(metric "$TMP/p0" meridian_peer_rejected_observations_total)))"
  row "DNS answered during probers (dig)" "$dig_ok / $dig_n"
  row "probers' WARN/ERROR log lines" "$(cat "$OUT"/logs/prober-*.log | grep -c 'level=WARN\|level=ERROR' || true)"
  grep -h 'level=WARN\|level=ERROR' "$OUT"/logs/prober-*.log | sed -E 's/^time=[^ ]* //; s/prober=[^ ]*//; s/(err=.{0,160}).*/\1/' | sort | uniq -c | sort -rn | head -5 >> "$SUMMARY" || true
  stop_probers
  row "state.db after probers (bytes)" "$(stat -c %s "$CFG/data/state.db")"
  if ((PERF)) && [[ -s "$OUT/perf-probers.data" ]]; then
    perf report -i "$OUT/perf-probers.data" --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -25 > "$OUT/perf-probers.txt" || true
  fi
fi
row "node log WARN/ERROR lines" "$(grep -c 'level=WARN\|level=ERROR' "$OUT/logs/scale.log" || true)"
row "node RSS at the end (MiB)" "$(rss_mib "$SP")"
stop_pid "$SP"; unset 'PID[scale]'

# 6b. qps without probing: gen's same services, names and queries with no monitor (-monitored 0), on
# their own ports, so that the DNS cost of 10,000 services is measured alone; on 2 cores the
# probing of 50,000 endpoints otherwise takes what dnsperf and the DNS readers need.
if ! skip quiet; then
  log "qps without probing: the same configs unmonitored"
  QCFG=$CFG/quiet
  "$TMP/bin/gen" $COMPACT -o "$QCFG" -services "$SERVICES" -pools "$POOLS" -endpoints "$ENDPOINTS" -geo-db "$GEO_DB" -monitored 0 \
    -dns "$HOST:$QUIET_DNS_PORT" -http "$HOST:$QUIET_HTTP_PORT" -one-dns "$HOST:$ONE_DNS_PORT" -one-http "$HOST:$ONE_HTTP_PORT" \
    -backend-port "$BACKEND_PORT" -backends "$BACKENDS" -closed-port "$CLOSED_PORT" > "$OUT/logs/gen-quiet.txt"
  cmp -s "$QCFG/names.txt" "$CFG/names.txt" || die "the unmonitored config's names differ" # the query files are step 5's
  cp -p "$CFG/peer.secret" "$CFG/api.token" "$QCFG/"
  start_node quiet quiet/scale.toml $QUIET_DNS_PORT
  row "quiet scale.toml start-up to first answer (s) / RSS (MiB)" "$STARTED / $(rss_mib "${PID[quiet]}")"
  skip reload || reloads quiet "${PID[quiet]}" $QUIET_DNS_PORT "$OUT/logs/quiet.log"
  start_node one quiet/one.toml $ONE_DNS_PORT
  RUNPORT=([one]=$ONE_DNS_PORT [scale-one]=$QUIET_DNS_PORT [scale-all]=$QUIET_DNS_PORT)
  RUNPID=([one]=${PID[one]} [scale-one]=${PID[quiet]} [scale-all]=${PID[quiet]})
  qps_compare quiet
  stop_pid "${PID[one]}"; unset 'PID[one]'
  stop_pid "${PID[quiet]}"; unset 'PID[quiet]'
fi

# 7. the state file after a simulated day
if ! skip store; then
  log "store: $HOURS simulated hours"
  "$TMP/bin/storesim" -targets 100000 -probers 1 -flap 0.03 -hours "$HOURS" -max 20m | tee "$OUT/storesim.txt" >&2
  row "state.db after ${HOURS} h simulated (bytes)" "$(grep -o 'file_bytes=[0-9]*' "$OUT/storesim.txt" | cut -d= -f2) (compacted $(grep -o 'compacted_bytes=[0-9]*' "$OUT/storesim.txt" | cut -d= -f2))"
  row "store write rate in the sim (writes/s)" "$(grep -o '([0-9]* writes/s)' "$OUT/storesim.txt" | tr -d '()')"
fi
log "done: $OUT (summary.txt, logs/, qps.tsv)"
echo
cat "$SUMMARY"
