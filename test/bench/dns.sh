#!/usr/bin/env bash
# dns.sh - dnsperf against Meridian and gdnsd 3.x serving the same static zone, side by side.
#
# Usage: test/bench/dns.sh [-s SECONDS] [-r ROUNDS] [-q QUERYFILE] [-b MERIDIAN_BINARY] [-o OUTDIR] [-P "gdnsd meridian"]
#
# Rounds alternate which server goes first. Per server it prints the median over rounds of:
#   qps       max-throughput dnsperf run (-c 4 -T 1 -q 100, no -Q limit, like ../shared/bench)
#   p50/p99   from a separate `dnsperf -v` run at the SAME offered rate for both servers
#             (half the lower of the two median max QPS), so latency is not just queueing
#   cpu_us    server utime+stime during the max run / queries completed
# and the ratios meridian/gdnsd. Loopback only; every run is bounded; only processes started
# here are stopped (by PID).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECS=10 ROUNDS=3 QFILE="$HERE/queries/static-a.txt" BIN="" OUT="" PEERS="gdnsd meridian"
GDNSD_PORT=5300 MERIDIAN_PORT=5310
while getopts "s:r:q:b:o:P:h" o; do
  case $o in
    s) SECS=$OPTARG;; r) ROUNDS=$OPTARG;; q) QFILE=$OPTARG;; b) BIN=$OPTARG;; o) OUT=$OPTARG;; P) PEERS=$OPTARG;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2;;
  esac
done
[[ "$SECS" =~ ^[0-9]+$ && "$SECS" -ge 1 && "$SECS" -le 120 ]] || { echo "-s must be 1..120" >&2; exit 2; }
[[ -r "$QFILE" ]] || { echo "cannot read $QFILE" >&2; exit 2; }
log() { printf '%s [dns.sh] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

TMP=$(mktemp -d /tmp/meridian-bench.XXXXXX)
OUT=${OUT:-$TMP/out}
mkdir -p "$OUT"
declare -A PID=() PORT=([gdnsd]=$GDNSD_PORT [meridian]=$MERIDIAN_PORT)
cleanup() {
  local p
  for p in "${PID[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PID[@]}"; do wait "$p" 2>/dev/null || true; done
  [[ "$OUT" == "$TMP"/* ]] && log "raw outputs were in $OUT (removed; use -o to keep them)"
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Tools: install from Debian when missing (needs root).
need=()
command -v dnsperf >/dev/null || need+=(dnsperf)
command -v gdnsd >/dev/null || need+=(gdnsd)
command -v dig >/dev/null || need+=(dnsutils)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

port_busy() { ss -Hlun "sport = :$1" 2>/dev/null | grep -q .; }
wait_dns() { # wait_dns PORT PID: until the server answers static.example.test, at most 30 s
  local i
  for i in $(seq 300); do
    dig +time=1 +tries=1 +short @127.0.0.1 -p "$1" static.example.test A 2>/dev/null | grep -q 192.0.2.10 && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)
median() { sort -g | awk '{a[NR]=$1} END{ if (NR==0) {print "NA"; exit} if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

start_gdnsd() {
  local d="$TMP/gdnsd"
  mkdir -p "$d/conf" "$d/run" "$d/state"
  cp -r "$HERE/gdnsd/zones" "$d/conf/"
  sed -e "s|@PORT@|$GDNSD_PORT|" -e "s|@RUN_DIR@|$d/run|" -e "s|@STATE_DIR@|$d/state|" "$HERE/gdnsd/config" > "$d/conf/config"
  gdnsd -c "$d/conf" start > "$d/log" 2>&1 &
  PID[gdnsd]=$!
}

start_meridian() {
  if [[ -z "$BIN" ]]; then
    log "building meridian"
    (cd "$ROOT" && go build -o "$TMP/meridian" ./cmd/meridian)
    BIN="$TMP/meridian"
  fi
  "$BIN" serve -c "$HERE/meridian-static.toml" > "$TMP/meridian.log" 2>&1 &
  PID[meridian]=$!
}

for p in $PEERS; do
  port_busy "${PORT[$p]}" && { log "udp port ${PORT[$p]} is already in use; refusing to benchmark a server this script did not start"; exit 1; }
  "start_$p"
  wait_dns "${PORT[$p]}" "${PID[$p]}" || { log "$p did not answer"; cat "$TMP/$p.log" "$TMP/$p/log" 2>/dev/null >&2; exit 1; }
  log "$p pid ${PID[$p]} on 127.0.0.1:${PORT[$p]}"
done

run_max() { # run_max NAME ROUND -> "qps cpu_us"
  local n=$1 f="$OUT/$1.max.$2.txt" c0 c1
  c0=$(cpu_ticks "${PID[$n]}")
  timeout -k 5 $((SECS + 15)) dnsperf -s 127.0.0.1 -p "${PORT[$n]}" -d "$QFILE" -l "$SECS" -c 4 -T 1 -q 100 -t 2 > "$f" 2>&1
  c1=$(cpu_ticks "${PID[$n]}")
  awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" '/Queries completed:/{done=$3} /Queries per second:/{q=$4}
    END{ if (done > 0) printf "%.0f %.2f\n", q, c / hz * 1e6 / done; else print "0 NA" }' "$f"
}

run_lat() { # run_lat NAME ROUND RATE -> "p50_ms p99_ms"
  local n=$1 f="$OUT/$1.lat.$2.txt"
  timeout -k 5 $((SECS + 15)) dnsperf -s 127.0.0.1 -p "${PORT[$n]}" -d "$QFILE" -l "$SECS" -c 4 -T 1 -q 100 -t 2 -Q "$3" -v > "$f" 2>&1 || true
  awk '/^> /{ if ($2 == "T") print 2.0; else print $NF }' "$f" | sort -g |
    awk '{a[NR]=$1} END{ if (NR==0) {print "NA NA"; exit} i=int(NR*0.5); j=int(NR*0.99); if(i<1)i=1; if(j<1)j=1; printf "%.3f %.3f\n", a[i]*1000, a[j]*1000 }'
}

read -r -a NAMES <<< "$PEERS"
for n in "${NAMES[@]}"; do run_max "$n" warm >/dev/null; done   # warm-up: caches, Go runtime, page faults
declare -A QPS=() CPU=() P50=() P99=()
log "max qps: $ROUNDS rounds x ${#NAMES[@]} servers x ${SECS}s, dnsperf -c 4 -T 1 -q 100, $(basename "$QFILE")"
for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < ${#NAMES[@]}; k++)); do
    n=${NAMES[$(((k + r) % ${#NAMES[@]}))]}
    read -r q c < <(run_max "$n" "$r")
    QPS[$n]+="$q "; CPU[$n]+="$c "
    log "  round $((r + 1)) $n qps=$q cpu_us_per_query=$c"
  done
done
nums() { tr ' ' '\n' <<< "$1" | grep -E '^[0-9.]+$' || true; }
rate=$(for n in "${NAMES[@]}"; do nums "${QPS[$n]}" | median; done | sort -g | head -1 | awk '{r=int($1/2); if (r<100) r=100; print r}')
log "latency: same offered rate for all, $rate q/s (half the lowest median max), dnsperf -v"
for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < ${#NAMES[@]}; k++)); do
    n=${NAMES[$(((k + r) % ${#NAMES[@]}))]}
    read -r a b < <(run_lat "$n" "$r" "$rate")
    P50[$n]+="$a "; P99[$n]+="$b "
    log "  round $((r + 1)) $n p50_ms=$a p99_ms=$b"
  done
done

printf '\n%-10s %10s %9s %9s %16s\n' server qps p50_ms p99_ms cpu_us_per_query
declare -A M=()
for n in "${NAMES[@]}"; do
  M[$n.qps]=$(nums "${QPS[$n]}" | median)
  M[$n.cpu]=$(nums "${CPU[$n]}" | median)
  M[$n.p50]=$(nums "${P50[$n]}" | median)
  M[$n.p99]=$(nums "${P99[$n]}" | median)
  printf '%-10s %10.0f %9s %9s %16s\n' "$n" "${M[$n.qps]}" "${M[$n.p50]}" "${M[$n.p99]}" "${M[$n.cpu]}"
done
if [[ -n "${M[gdnsd.qps]:-}" && -n "${M[meridian.qps]:-}" ]]; then
  awk -v mq="${M[meridian.qps]}" -v gq="${M[gdnsd.qps]}" -v mp="${M[meridian.p99]}" -v gp="${M[gdnsd.p99]}" \
      -v mc="${M[meridian.cpu]}" -v gc="${M[gdnsd.cpu]}" \
      'BEGIN{ printf "ratio meridian/gdnsd: qps %.2fx  p99 %.2fx  cpu/query %.2fx\n", mq/gq, (gp>0)?mp/gp:0, (gc>0)?mc/gc:0 }'
fi
