#!/usr/bin/env bash
# dnstap.sh - what dnstap query logging costs: dnsperf against two Meridians serving the same zone,
# one without [server.dnstap] and one logging every query and reply to a file (sample = 1).
#
# Usage: bash test/bench/dnstap.sh [-s SECONDS] [-r ROUNDS] [-q QUERYFILE] [-c CONFIG] [-b MERIDIAN_BINARY] [-o OUTDIR]
#   -s  seconds per dnsperf run (default 5)            -r  rounds (default 5)
#   -q  dnsperf query file (default queries/static-a.txt)
#   -c  the Meridian config both run (default meridian-static.toml); its [server] dns, http and
#       data_dir are replaced, and the logging one gets [server.dnstap] file = OUTDIR/queries.dnstap
#   -b  Meridian binary (default: go build ./cmd/meridian into a temp dir)
#   -o  directory for the raw dnsperf outputs and summary.tsv (default /tmp/meridian-dnstap-bench.DATE)
#
# Method (as dns.sh): "off" on 127.0.0.1:5360 and "dnstap" on 127.0.0.1:5361 (HTTP on 8361 for its
# meridian_dnstap_* counters), both warmed up for 2 s, then ROUNDS rounds of one max-QPS run each
# (dnsperf -c 4 -T 1 -q 100 -t 2 -l SECONDS, no -Q), alternating which goes first, recording the
# server's utime+stime from /proc/PID/stat. Prints the median qps and CPU us per query of each, the
# ratios dnstap/off of the medians and the median of each round's ratio (goal: qps >= 0.90x; the
# one to read on a busy machine), the messages written and dropped, and checks with
# dnstap-read (bind9-dnsutils) that the file written reads back after SIGTERM. Loopback only; every
# run is time-bounded; only the processes started here are stopped, by PID.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECS=5 ROUNDS=5 QFILE=$HERE/queries/static-a.txt CONF=$HERE/meridian-static.toml BIN="" OUT=""
declare -A PORT=([off]=5360 [dnstap]=5361) PID=()
HOST=127.0.0.1 HTTP_PORT=8361 LOAD_PID=""
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts "s:r:q:c:b:o:h" o; do
  case $o in
    s) SECS=$OPTARG;; r) ROUNDS=$OPTARG;; q) QFILE=$OPTARG;; c) CONF=$OPTARG;; b) BIN=$OPTARG;; o) OUT=$OPTARG;; *) usage;;
  esac
done
(($# < OPTIND)) || usage
log() { printf '%s [dnstap.sh] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[[ "$SECS" =~ ^[0-9]+$ ]] && ((SECS >= 1 && SECS <= 120)) || die "-s must be 1..120"
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && ((ROUNDS >= 1 && ROUNDS <= 20)) || die "-r must be 1..20"
for c in dnsperf dnstap-read dig; do command -v "$c" >/dev/null || die "$c is not installed (apt-get install dnsperf bind9-dnsutils)"; done
[[ -f "$QFILE" && -f "$CONF" ]] || die "no $QFILE or $CONF"
OUT=${OUT:-/tmp/meridian-dnstap-bench.$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
TMP=$(mktemp -d)
cleanup() {
  [[ -z "$LOAD_PID" ]] || kill "$LOAD_PID" 2>/dev/null || true
  for n in "${!PID[@]}"; do kill "${PID[$n]}" 2>/dev/null || true; done
  for n in "${!PID[@]}"; do wait "${PID[$n]}" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for n in off dnstap; do
  ! ss -Hlnu "sport = :${PORT[$n]}" | grep -q . || die "port ${PORT[$n]} is taken"
done
if [[ -z "$BIN" ]]; then
  log "building meridian"
  (cd "$ROOT" && go build -o "$TMP/meridian" ./cmd/meridian)
  BIN=$TMP/meridian
fi

# config NAME: the -c config on NAME's port and data dir, without HTTP ("dnstap": with it, and logging).
config() {
  local n=$1 http='""'
  [[ $n == off ]] || http="\"$HOST:$HTTP_PORT\""
  awk -v dns="dns = [\"$HOST:${PORT[$n]}\"]" -v http="http = $http" -v data="data_dir = \"$TMP/$n-data\"" '
    /^\[/ { in_server = ($0 == "[server]") }
    in_server && /^dns *=/ { print dns; next }
    in_server && /^http *=/ { print http; next }
    in_server && /^data_dir *=/ { print data; next }
    { print }' "$CONF"
  [[ $n == off ]] || printf '\n[server.dnstap]\nfile = "%s"\n' "$OUT/queries.dnstap"
}
for n in off dnstap; do
  config "$n" > "$TMP/$n.toml"
  "$BIN" check -c "$TMP/$n.toml" >/dev/null || die "meridian check $TMP/$n.toml failed"
  "$BIN" serve -c "$TMP/$n.toml" > "$TMP/$n.log" 2>&1 &
  PID[$n]=$!
done
qname=$(awk 'NR == 1 { print $1; exit }' "$QFILE")
for n in off dnstap; do
  for ((i = 0; i < 100; i++)); do
    dig +time=1 +tries=1 +norec @"$HOST" -p "${PORT[$n]}" "$qname" A >/dev/null 2>&1 && break
    kill -0 "${PID[$n]}" 2>/dev/null || { cat "$TMP/$n.log" >&2; die "$n exited"; }
    sleep 0.1
  done
  dig +time=1 +tries=1 +norec @"$HOST" -p "${PORT[$n]}" "$qname" A >/dev/null 2>&1 || die "$n does not answer $qname"
done
log "off on $HOST:${PORT[off]}, dnstap on $HOST:${PORT[dnstap]} writing $OUT/queries.dnstap"

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g |
  awk '{a[NR] = $1} END { if (!NR) print "NA"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
metric() { curl -sf "http://$HOST:$HTTP_PORT/metrics" | awk -v m="$1" '$1 == m { printf "%.0f\n", $2 }'; }

# run NAME OUTFILE SECONDS: one bounded dnsperf run; sets TICKS (server CPU meanwhile).
run() {
  local n=$1 f=$2 secs=$3 rc=0 c0
  c0=$(cpu_ticks "${PID[$n]}")
  timeout -k 5 $((secs + 15)) dnsperf -s "$HOST" -p "${PORT[$n]}" -d "$QFILE" -l "$secs" -c 4 -T 1 -q 100 -t 2 > "$f" 2>&1 &
  LOAD_PID=$!
  wait "$LOAD_PID" || rc=$?
  LOAD_PID=""
  kill -0 "${PID[$n]}" 2>/dev/null || { cat "$TMP/$n.log" >&2; die "$n exited during the load"; }
  TICKS=$(($(cpu_ticks "${PID[$n]}") - c0))
  ((rc == 0)) || { tail -5 "$f" >&2; die "dnsperf against $n failed (exit $rc)"; }
}
for n in off dnstap; do run "$n" "$OUT/$n.warmup.txt" 2; done
log "max QPS: $ROUNDS rounds x 2 servers x ${SECS}s, dnsperf -c 4 -T 1 -q 100 -t 2, $(basename "$QFILE")"
declare -A QPS=() CPU=() RQ=()
names=(off dnstap)
PAIR=""   # per-round dnstap/off qps: both ran back to back, so a load swing on the machine hits both
for ((r = 0; r < ROUNDS; r++)); do
  for ((k = 0; k < 2; k++)); do
    n=${names[$(((k + r) % 2))]}
    f=$OUT/$n.max.$((r + 1)).txt
    run "$n" "$f" "$SECS"
    read -r q c lost < <(awk -v t="$TICKS" -v hz="$CLK_TCK" '/Queries completed:/{d = $3} /Queries lost:/{l = $3}
      /Queries per second:/{q = $4} END { printf "%.0f %.2f %d\n", q, t / hz * 1e6 / d, l }' "$f")
    QPS[$n]+="$q " CPU[$n]+="$c " RQ[$n]=$q
    log "  round $((r + 1)) $n qps=$q cpu_us_per_query=$c lost=$lost"
  done
  PAIR+="$(awk -v a="${RQ[dnstap]}" -v b="${RQ[off]}" 'BEGIN { printf "%.3f", a / b }') "
done
sent=$(metric meridian_dnstap_sent_total) dropped=$(metric meridian_dnstap_dropped_total)

# The file must read back whole once the node stops on SIGTERM.
kill -TERM "${PID[dnstap]}"
wait "${PID[dnstap]}" || die "the dnstap node did not exit cleanly on SIGTERM"
unset 'PID[dnstap]'
size=$(stat -c %s "$OUT/queries.dnstap")
read_msgs=$(dnstap-read "$OUT/queries.dnstap" | grep -c ' A[QR] ') || die "dnstap-read cannot read $OUT/queries.dnstap"
rm -f "$OUT/queries.dnstap" # hundreds of MB; the counts are kept below

{
  printf 'server\tqps_median\tqps_runs\tcpu_us_per_query_median\tcpu_runs\n'
  for n in off dnstap; do
    printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$(median <<< "${QPS[$n]}")" "${QPS[$n]% }" "$(median <<< "${CPU[$n]}")" "${CPU[$n]% }"
  done
  printf '# dnstap messages: sent %s dropped %s; read back by dnstap-read %s; file %s bytes\n' "$sent" "$dropped" "$read_msgs" "$size"
} | tee "$OUT/summary.tsv"
awk -v on="$(median <<< "${QPS[dnstap]}")" -v off="$(median <<< "${QPS[off]}")" \
  -v con="$(median <<< "${CPU[dnstap]}")" -v coff="$(median <<< "${CPU[off]}")" 'BEGIN {
  printf "ratio dnstap/off of the medians: qps %.3fx  cpu per query %.3fx\n", on / off, con / coff }'
pair=$(median <<< "$PAIR")
awk -v p="$pair" -v runs="${PAIR% }" 'BEGIN { printf "ratio dnstap/off, median of the rounds (%s): qps %.3fx (goal >= 0.90x: %s)\n", runs, p, (p >= 0.90) ? "met" : "MISSED" }'
[[ "$read_msgs" == "${sent%.*}" ]] || log "WARNING: dnstap-read read $read_msgs messages, the node counted $sent sent"
