#!/usr/bin/env bash
# dns.sh - dnsperf against Meridian and gdnsd 3.x serving the same static zone (example.test).
#
# Usage: bash test/bench/dns.sh [-s SECONDS] [-r ROUNDS] [-q QUERYFILE] [-b MERIDIAN_BINARY]
#                               [-o OUTDIR] [-P "gdnsd meridian"]
#   -s  seconds per dnsperf run (default 10)          -r  rounds of max-QPS and of latency runs (default 3)
#   -q  dnsperf query file (default queries/static-a.txt; also queries/mixed-static.txt)
#   -b  Meridian binary (default: go build ./cmd/meridian into a temp dir)
#   -o  directory for the raw dnsperf outputs and summary.tsv (default /tmp/meridian-bench.DATE)
#   -P  servers to run (default both; e.g. -P gdnsd while Meridian does not build)
#
# Method (same as ../shared/bench/dns): gdnsd on 127.0.0.1:5300, Meridian on 127.0.0.1:5310, each
# warmed up for 2 s, then ROUNDS rounds alternating which server goes first of a max-QPS run
# (dnsperf -c 4 -T 1 -q 100 -t 2, no -Q), recording the server's utime+stime from /proc/PID/stat;
# then ROUNDS alternating rounds of one `dnsperf -v` run per server at the same offered rate (-Q = half
# the lower of the two median max QPS) for p50/p99 (medians over the rounds). Prints per server the median qps, p99 and server CPU us per query,
# and the ratios meridian/gdnsd. Loopback only; every run is time-bounded; only the processes
# started here are stopped, by PID. Exits non-zero if a server does not answer.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECS=10 ROUNDS=3 QFILE=$HERE/queries/static-a.txt BIN="" OUT="" SERVERS="gdnsd meridian"
declare -A PORT=([gdnsd]=5300 [meridian]=5310) PID=()
HOST=127.0.0.1 LOAD_PID=""

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts "s:r:q:b:o:P:h" o; do
  case $o in
    s) SECS=$OPTARG;; r) ROUNDS=$OPTARG;; q) QFILE=$OPTARG;; b) BIN=$OPTARG;; o) OUT=$OPTARG;;
    P) SERVERS=$OPTARG;; *) usage;;
  esac
done
(($# < OPTIND)) || usage
log() { printf '%s [dns.sh] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
in_range() { [[ "$1" =~ ^[0-9]+$ ]] && (($1 >= $2 && $1 <= $3)); }
in_range "$SECS" 1 120 || die "-s must be 1..120"
in_range "$ROUNDS" 1 20 || die "-r must be 1..20"
[[ -r "$QFILE" ]] || die "cannot read query file $QFILE"
[[ -z "$BIN" || -x "$BIN" ]] || die "-b $BIN is not executable"
read -r -a NAMES <<< "$SERVERS"
((${#NAMES[@]})) || die "-P names no server"
for n in "${NAMES[@]}"; do [[ -n "${PORT[$n]:-}" ]] || die "unknown server '$n' (gdnsd, meridian)"; done

TMP=$(mktemp -d /tmp/meridian-bench.XXXXXX)
OUT=${OUT:-/tmp/meridian-bench.$(date +%Y%m%d-%H%M%S)}

# stop_pid PID: TERM, up to 5 s for it to exit, then KILL. Only ever called on our own children.
stop_pid() {
  local i
  kill -TERM "$1" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  local n
  trap '' INT TERM   # finish stopping the servers even on a second Ctrl-C (bounded: 5 s per PID)
  [[ -z "$LOAD_PID" ]] || stop_pid "$LOAD_PID"
  for n in "${!PID[@]}"; do stop_pid "${PID[$n]}"; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'exit 143' TERM

# Tools, from Debian when missing (needs root).
need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v gdnsd >/dev/null || need+=(gdnsd)
command -v dig >/dev/null || need+=(dnsutils)
if ((${#need[@]})); then
  ((EUID == 0)) || die "missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root"
  log "installing ${need[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >"$TMP/apt.log" 2>&1 \
    || { cat "$TMP/apt.log" >&2; die "apt-get install ${need[*]} failed"; }
fi

# port_busy PORT: anything already bound to it (we must never benchmark a server we did not start).
port_busy() {
  if command -v ss >/dev/null; then
    ss -Hlun "sport = :$1" 2>/dev/null | grep -q .
  else
    dig +time=1 +tries=1 @"$HOST" -p "$1" . NS >/dev/null 2>&1
  fi
}
# answers PORT: the server answers static.example.test A with 192.0.2.10.
answers() { dig +time=1 +tries=1 +norec +short @"$HOST" -p "$1" static.example.test A 2>/dev/null | grep -qx 192.0.2.10; }
wait_ready() { # wait_ready NAME: at most 30 s, and fail early if the process exits
  local n=$1 end=$((SECONDS + 30))
  until answers "${PORT[$n]}"; do
    kill -0 "${PID[$n]}" 2>/dev/null || { log "$n exited"; return 1; }
    ((SECONDS < end)) || { log "$n did not answer within 30 s"; return 1; }
    sleep 0.2
  done
}

start_gdnsd() {
  local d=$TMP/gdnsd
  mkdir -p "$d/conf" "$d/run" "$d/state"
  cp -r "$HERE/gdnsd/zones" "$d/conf/"
  sed -e "s|@PORT@|${PORT[gdnsd]}|g" -e "s|@RUN_DIR@|$d/run|g" -e "s|@STATE_DIR@|$d/state|g" \
    "$HERE/gdnsd/config" > "$d/conf/config"
  gdnsd -c "$d/conf" start > "$TMP/gdnsd.log" 2>&1 &   # "start" stays in the foreground (3.x)
  PID[gdnsd]=$!
}
start_meridian() {
  "$BIN" serve -c "$HERE/meridian-static.toml" > "$TMP/meridian.log" 2>&1 &
  PID[meridian]=$!
}

if [[ " ${NAMES[*]} " == *" meridian "* && -z "$BIN" ]]; then
  log "building meridian"
  (cd "$ROOT" && go build -o "$TMP/meridian" ./cmd/meridian) || die "go build ./cmd/meridian failed"
  BIN=$TMP/meridian
fi
for n in "${NAMES[@]}"; do
  ! port_busy "${PORT[$n]}" || die "udp port ${PORT[$n]} is already in use; refusing to benchmark a server this script did not start"
done
for n in "${NAMES[@]}"; do
  "start_$n"
  wait_ready "$n" || { cat "$TMP/$n.log" >&2; die "$n does not answer static.example.test A on $HOST:${PORT[$n]}"; }
  log "$n pid ${PID[$n]} answers on $HOST:${PORT[$n]}"
done

cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }   # utime+stime, all threads
busy_ticks() { awk '/^cpu /{ print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }  # all CPUs, non-idle
# load_ticks: CPU of this shell's reaped children (dnsperf) into LT; `times` must not run in a subshell
load_ticks() { times > "$TMP/times"; LT=$(awk -v hz="$CLK_TCK" '
  function t(x) { sub(/s$/, "", x); split(x, a, "m"); return a[1] * 60 + a[2] } NR == 2 { printf "%.0f", (t($1) + t($2)) * hz }' "$TMP/times"); }
CLK_TCK=$(getconf CLK_TCK)
median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g |
  awk '{a[NR] = $1} END { if (!NR) print "NA"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# dnsperf_run NAME OUTFILE SECONDS [extra args]: one bounded dnsperf run against NAME. Sets SRV_TICKS (server
# CPU during the run) and OTHER (% of one core used meanwhile by neither the server nor dnsperf: other load on
# the machine). dnsperf runs in the background so that Ctrl-C/TERM interrupt `wait` at once (cleanup stops it).
dnsperf_run() {
  local n=$1 f=$2 secs=$3 rc=0 c0 b0 l0; shift 3
  load_ticks; l0=$LT c0=$(cpu_ticks "${PID[$n]}") b0=$(busy_ticks)
  timeout -k 5 $((secs + 15)) dnsperf -s "$HOST" -p "${PORT[$n]}" -d "$QFILE" -l "$secs" \
    -c 4 -T 1 -q 100 -t 2 "$@" > "$f" 2>&1 &
  LOAD_PID=$!
  wait "$LOAD_PID" || rc=$?
  LOAD_PID=""
  kill -0 "${PID[$n]}" 2>/dev/null || { cat "$TMP/$n.log" >&2; die "$n exited during the load"; }
  SRV_TICKS=$(($(cpu_ticks "${PID[$n]}") - c0))
  load_ticks
  OTHER=$((($(busy_ticks) - b0 - SRV_TICKS - (LT - l0)) * 100 / (secs * CLK_TCK)))
  ((rc == 0)) || { tail -5 "$f" >&2; die "dnsperf against $n failed (exit $rc)"; }
  [[ "$(awk '/Queries completed:/{print $3}' "$f")" =~ ^[1-9] ]] || die "$n answered no queries (see $f)"
  if grep -Eq 'Response codes:.*(SERVFAIL|REFUSED|FORMERR|NOTIMP)' "$f"; then
    log "WARNING: $n $(grep -o 'Response codes:.*' "$f")"
  fi
  ((OTHER < 20)) || log "WARNING: other processes used $OTHER% of a core during this $n run; its figures are disturbed"
}

mkdir -p "$OUT"
for n in "${NAMES[@]}"; do dnsperf_run "$n" "$OUT/$n.warmup.txt" 2; done
log "max QPS: $ROUNDS rounds x ${#NAMES[@]} servers x ${SECS}s, dnsperf -c 4 -T 1 -q 100 -t 2, $(basename "$QFILE")"
declare -A QPS=() CPU=() OTH=() P50=() P99=() RESP=()
for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < ${#NAMES[@]}; k++)); do
    n=${NAMES[$(((k + r) % ${#NAMES[@]}))]}   # rotate the starting server each round
    f=$OUT/$n.max.$((r + 1)).txt
    dnsperf_run "$n" "$f" "$SECS"
    read -r q c lost < <(awk -v t="$SRV_TICKS" -v hz="$CLK_TCK" '/Queries completed:/{d = $3} /Queries lost:/{l = $3}
      /Queries per second:/{q = $4} END { printf "%.0f %.2f %d\n", q, t / hz * 1e6 / d, l }' "$f")
    QPS[$n]+="$q " CPU[$n]+="$c " OTH[$n]+="$OTHER "
    log "  round $((r + 1)) $n qps=$q cpu_us_per_query=$c lost=$lost other_cpu=$OTHER%"
  done
done

rate=$(for n in "${NAMES[@]}"; do median <<< "${QPS[$n]}"; done | sort -g | head -1 | awk '{r = int($1 / 2); print (r < 100) ? 100 : r}')
log "latency: $ROUNDS rounds of dnsperf -v at the same offered rate for every server, -Q $rate (half the lower median max QPS)"
declare -A P50R=() P99R=()
for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < ${#NAMES[@]}; k++)); do
    n=${NAMES[$(((k + r) % ${#NAMES[@]}))]}   # rotate the starting server each round, as above
    f=$OUT/$n.lat.$((r + 1)).txt
    dnsperf_run "$n" "$TMP/lat.raw" "$SECS" -Q "$rate" -v
    # per-query lines: "> RCODE qname qtype seconds"; a timeout ("> T ...") counts as the 2 s timeout
    read -r p50 p99 < <(awk '/^> /{ print ($2 == "T") ? 2 : $NF }' "$TMP/lat.raw" | sort -n |
      awk '{a[NR] = $1} END { if (!NR) { print "NA NA"; exit }
        i = int(NR * 0.50); j = int(NR * 0.99); printf "%.3f %.3f\n", a[i ? i : 1] * 1000, a[j ? j : 1] * 1000 }')
    P50R[$n]+="$p50 " P99R[$n]+="$p99 "
    grep -v '^> ' "$TMP/lat.raw" > "$f" || true
    gzip -1 -c "$TMP/lat.raw" > "$OUT/$n.lat.$((r + 1)).verbose.txt.gz"
    RESP[$n]=$(grep -o 'Response codes:.*' "$f" | sed 's/^Response codes: *//; s/ [0-9]* (/ (/g')
    log "  round $((r + 1)) $n p50_ms=$p50 p99_ms=$p99 $(grep -o 'response [0-9]*' "$f") bytes; ${RESP[$n]}"
  done
done
# p50 and p99 are medians over the rounds: one 10 s run's p99 swings by 2-5x on a shared 2-core box.
for n in "${NAMES[@]}"; do P50[$n]=$(median <<< "${P50R[$n]}") P99[$n]=$(median <<< "${P99R[$n]}"); done
if [[ -n "${RESP[gdnsd]:-}" && -n "${RESP[meridian]:-}" && "${RESP[gdnsd]}" != "${RESP[meridian]}" ]]; then
  log "WARNING: the servers answered the same queries with different response codes (see $OUT/*.lat.txt)"
fi

declare -A M=()
{
  printf 'server\tqps_median\tqps_runs\tcpu_us_per_query_median\tcpu_runs\tother_cpu_pct_runs\tlat_rate\tp50_ms\tp99_ms\tp99_ms_runs\n'
  for n in "${NAMES[@]}"; do
    M[$n.qps]=$(median <<< "${QPS[$n]}") M[$n.cpu]=$(median <<< "${CPU[$n]}")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "${M[$n.qps]}" "${QPS[$n]% }" "${M[$n.cpu]}" "${CPU[$n]% }" \
      "${OTH[$n]% }" "$rate" "${P50[$n]}" "${P99[$n]}" "${P99R[$n]% }"
  done
} > "$OUT/summary.tsv"
log "raw dnsperf outputs and summary.tsv in $OUT"

printf '\n%-10s %8s %8s %8s  %s\n' server qps p50_ms p99_ms cpu_us_per_query
for n in "${NAMES[@]}"; do
  printf '%-10s %8.0f %8s %8s  %.2f\n' "$n" "${M[$n.qps]}" "${P50[$n]}" "${P99[$n]}" "${M[$n.cpu]}"
done
if [[ -n "${M[gdnsd.qps]:-}" && -n "${M[meridian.qps]:-}" ]]; then
  awk -v mq="${M[meridian.qps]}" -v gq="${M[gdnsd.qps]}" -v mp="${P99[meridian]}" -v gp="${P99[gdnsd]}" \
    -v mc="${M[meridian.cpu]}" -v gc="${M[gdnsd.cpu]}" 'function x(a, b) { return (b + 0 > 0) ? sprintf("%.2fx", a / b) : "NA" }
    BEGIN { printf "ratio meridian/gdnsd: qps %s  p99 %s  cpu %s\n", x(mq, gq), x(mp, gp), x(mc, gc) }'
fi
