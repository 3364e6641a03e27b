#!/usr/bin/env bash
# proxy.sh - wrk against Meridian's proxy and HAProxy in front of the same three nginx backends.
#
# Usage: bash test/bench/proxy.sh [-c CONNS] [-p PATHS] [-d SECONDS] [-r ROUNDS] [-w SECONDS]
#                                 [-m "l7 l4"] [-n "haproxy meridian"] [-P GOMAXPROCS] [-H NBTHREAD]
#                                 [-b MERIDIAN_BINARY] [-o OUTDIR] [-q SECONDS] [-R RETRIES]
#   -c  wrk connection counts, comma list (default 64)    -p  paths, comma list (default /,/16k)
#   -d  measured seconds per wrk run (default 10)         -w  warm-up seconds before each run (default 2)
#   -r  rounds; in each, every peer runs every scenario once, the starting peer rotating (default 3)
#   -m  modes to run (default "l7 l4")                    -n  peers to run (default "haproxy meridian")
#   -P  GOMAXPROCS for Meridian (default: Go's default, one per core; HAProxy runs -H threads)
#   -H  HAProxy nbthread (default 1)
#   -b  Meridian binary (default bin/meridian, built with go build when missing or older than the sources)
#   -o  directory for logs, wrk outputs, runs.csv and summary.txt (default /tmp/meridian-proxy-bench.DATE)
#   -q  before each run wait up to SECONDS for a quiet machine (< 20% of one core busy for 3 s; 0 = no wait;
#       default 60)
#   -R  re-run a measurement up to RETRIES times when other processes used > 10% of one core during it
#       (default 2)
#
# Method (same as ../shared/bench/proxy, so the figures cross-check): three nginx backends on
# 127.0.0.1:9001-9003 (proxy/nginx-backend.conf: "ok\n" on /, 16 KiB on /16k, keep-alive); HAProxy
# (proxy/haproxy.cfg, nbthread 1, keep-alive and http-reuse to the backends) L7 on :8081 and L4 on :8082;
# Meridian (`meridian proxy -c proxy/meridian-proxy.toml`) L7 on :8090 and L4 on :8091; round-robin
# everywhere. Each peer runs in its own session; every run is wrk -t1 -cCONNS --latency for SECONDS
# after a warm-up, and the peer's CPU is the utime+stime of every process in its session (from
# /proc/*/stat) over the run. Prints per peer, mode, path and connection count the medians over the
# rounds of rps, p99 ms, proxy cpu_s and requests per proxy CPU-second, then the ratios
# meridian/haproxy against the issue's goals. Loopback only; every wrk run is bounded by timeout;
# only the process groups started here are stopped. Exits non-zero when a backend or peer answers wrong.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CONNS_LIST=64 PATHS_LIST=/,/16k SECS=10 ROUNDS=3 WARM=2 MODES="l7 l4" PEERS="haproxy meridian"
GOPROCS="" NBTHREAD=1 BIN="" OUT="" QUIET=60 RETRIES=2
declare -A PORT=([haproxy.l7]=8081 [haproxy.l4]=8082 [meridian.l7]=8090 [meridian.l4]=8091)
BACKEND_PORTS=(9001 9002 9003)
declare -A SID=()   # name -> PID of a process we started in its own session (= its session id)
LOAD_PID=""

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts "c:p:d:r:w:m:n:P:H:b:o:q:R:h" o; do
  case $o in
    c) CONNS_LIST=$OPTARG;; p) PATHS_LIST=$OPTARG;; d) SECS=$OPTARG;; r) ROUNDS=$OPTARG;; w) WARM=$OPTARG;;
    m) MODES=$OPTARG;; n) PEERS=$OPTARG;; P) GOPROCS=$OPTARG;; H) NBTHREAD=$OPTARG;; b) BIN=$OPTARG;;
    o) OUT=$OPTARG;; q) QUIET=$OPTARG;; R) RETRIES=$OPTARG;; *) usage;;
  esac
done
(($# < OPTIND)) || usage
log() { printf '%s [proxy.sh] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
in_range() { [[ "$1" =~ ^[0-9]+$ ]] && (($1 >= $2 && $1 <= $3)); }
in_range "$SECS" 1 300 || die "-d must be 1..300"
in_range "$ROUNDS" 1 20 || die "-r must be 1..20"
in_range "$WARM" 0 60 || die "-w must be 0..60"
in_range "$NBTHREAD" 1 64 || die "-H must be 1..64"
in_range "$QUIET" 0 3600 || die "-q must be 0..3600"
in_range "$RETRIES" 0 10 || die "-R must be 0..10"
[[ -z "$GOPROCS" ]] || in_range "$GOPROCS" 1 256 || die "-P must be 1..256"
IFS=, read -r -a CONNS <<< "$CONNS_LIST"
IFS=, read -r -a PATHS <<< "$PATHS_LIST"
read -r -a MODE_LIST <<< "$MODES"
read -r -a NAMES <<< "$PEERS"
((${#CONNS[@]} && ${#PATHS[@]} && ${#MODE_LIST[@]} && ${#NAMES[@]})) || usage
for c in "${CONNS[@]}"; do in_range "$c" 1 10000 || die "-c: '$c' is not a connection count 1..10000"; done
for p in "${PATHS[@]}"; do [[ $p == / || $p == /16k ]] || die "-p: '$p' is not / or /16k (the backends serve only those)"; done
for m in "${MODE_LIST[@]}"; do [[ $m == l7 || $m == l4 ]] || die "-m: unknown mode '$m' (l7, l4)"; done
for n in "${NAMES[@]}"; do [[ $n == haproxy || $n == meridian ]] || die "-n: unknown peer '$n' (haproxy, meridian)"; done
[[ -z "$BIN" || -x "$BIN" ]] || die "-b $BIN is not executable"
HZ=$(getconf CLK_TCK)

# Tools, from Debian when missing (needs root).
need=()
for t in wrk haproxy nginx curl; do command -v "$t" >/dev/null || need+=("$t"); done
command -v ss >/dev/null || need+=(iproute2)
if ((${#need[@]})); then
  ((EUID == 0)) || die "missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root"
  log "installing ${need[*]}"
  apt_log=$(mktemp /tmp/proxy-bench-apt.XXXXXX)
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } > "$apt_log" 2>&1 \
    || { cat "$apt_log" >&2; rm -f "$apt_log"; die "apt-get install ${need[*]} failed"; }
  rm -f "$apt_log"
fi

OUT=${OUT:-/tmp/meridian-proxy-bench.$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/logs" "$OUT/wrk" "$OUT/tmp" "$OUT/www"
OUT=$(cd "$OUT" && pwd)
chmod 755 "$OUT" "$OUT/www"   # nginx workers run as nobody when we are root
head -c 16384 /dev/zero | tr '\0' 'x' > "$OUT/www/16k"
chmod 644 "$OUT/www/16k"

# ---- processes: each one we start leads its own session, so its CPU is every process in that session
# and stopping it stops the whole group. Nothing else is ever signalled.
spawn() { # spawn NAME CMD...: start CMD in a new session, output to logs/NAME.log; SID[NAME] = its PID
  local name=$1; shift
  setsid "$@" < /dev/null > "$OUT/logs/$name.log" 2>&1 &
  SID[$name]=$!
}
leads_session() { [[ "$(awk '{ sub(/^.*\) /, ""); print $4 }' "/proc/$1/stat" 2>/dev/null)" == "$1" ]]; }
# /proc/*/stat is read through cat: processes vanish between the glob and the read. After "(comm) ",
# field 4 is the session id and fields 12 and 13 are utime and stime in clock ticks.
session_pids() { { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v s="$1" '{ p = $1; sub(/^.*\) /, ""); if ($4 == s) print p }'; }
session_ticks() { # utime+stime of every live process in the sessions given
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } |
    awk -v l=" $* " '{ sub(/^.*\) /, ""); if (index(l, " " $4 " ")) t += $12 + $13 } END { print t + 0 }'
}
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat; }  # user nice system irq softirq
stop_session() { # TERM the group, KILL it after 5 s
  local s=$1 i
  kill -TERM -- "-$s" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do [[ -n "$(session_pids "$s")" ]] || break; sleep 0.1; done
  kill -KILL -- "-$s" 2>/dev/null || true
  wait "$s" 2>/dev/null || true
}
cleanup() {
  local n
  trap '' INT TERM   # finish stopping even on a second Ctrl-C (bounded: 5 s per group)
  [[ -z "$LOAD_PID" ]] || { kill -TERM "$LOAD_PID" 2>/dev/null || true; wait "$LOAD_PID" 2>/dev/null || true; }
  for n in "${!SID[@]}"; do stop_session "${SID[$n]}"; done
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'exit 143' TERM

listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
refuse_busy() { ! listening "$1" || die "tcp port $1 is already in use; refusing to benchmark a process this script did not start"; }
wait_listening() { # wait_listening NAME PORT: at most 30 s; fail early if the process exits
  local end=$((SECONDS + 30))
  until listening "$2"; do
    kill -0 "${SID[$1]}" 2>/dev/null || { cat "$OUT/logs/$1.log" >&2; die "$1 exited before listening on :$2"; }
    ((SECONDS < end)) || { cat "$OUT/logs/$1.log" >&2; die "$1 is not listening on :$2 after 30 s"; }
    sleep 0.05
  done
  leads_session "${SID[$1]}" || die "$1 (pid ${SID[$1]}) does not lead its own session; its CPU could not be told apart"
}

# check_http NAME URL: GET / answers exactly "ok\n" and /16k exactly 16384 bytes; prints X-Backend of /.
check_http() {
  local name=$1 url=$2 f=$OUT/tmp/check.body size hdr
  hdr=$(curl -fsS --max-time 2 -D - -o "$f" "$url/" 2>&1) || die "$name: GET $url/ failed: $hdr"
  printf 'ok\n' | cmp -s - "$f" || die "$name: GET $url/ answered '$(head -c 60 "$f" | tr -c '[:print:]' .)', want \"ok\\n\""
  size=$(curl -fsS --max-time 2 -o /dev/null -w '%{size_download}' "$url/16k" 2>&1) || die "$name: GET $url/16k failed: $size"
  [[ $size == 16384 ]] || die "$name: GET $url/16k answered $size bytes, want 16384"
  tr -d '\r' <<< "$hdr" | awk -F': ' 'tolower($1) == "x-backend" { print $2 }'
}
# check_spread NAME URL: warn unless 6 fresh connections reached all three backends (round-robin).
check_spread() {
  local seen="" i b
  for ((i = 0; i < 6; i++)); do seen+=" $(check_http "$1" "$2")"; done
  for b in "${BACKEND_PORTS[@]}"; do
    [[ $seen == *"$b"* ]] || log "WARNING: $1 did not reach backend $b in 6 requests (saw:$seen)"
  done
}

# ---- Meridian binary: bin/meridian, rebuilt when any Go source or go.mod/go.sum is newer.
if [[ " ${NAMES[*]} " == *" meridian "* && -z "$BIN" ]]; then
  BIN=$ROOT/bin/meridian
  if [[ ! -x "$BIN" || -n "$(find "$ROOT" \( -name .git -o -name .cache -o -name node_modules \) -prune -o \
        \( -name '*.go' -o -name go.mod -o -name go.sum \) -newer "$BIN" -print -quit)" ]]; then
    log "building $BIN"
    (cd "$ROOT" && go build -o bin/meridian ./cmd/meridian) || die "go build ./cmd/meridian failed (-n haproxy runs HAProxy alone)"
  fi
fi
if [[ " ${NAMES[*]} " == *" meridian "* ]]; then
  help=$("$BIN" proxy -h 2>&1 || true)
  [[ $help != *"unknown command"* ]] || die "$BIN has no 'proxy' command yet (-n haproxy runs HAProxy alone)"
fi

# ---- backends
for p in "${BACKEND_PORTS[@]}" $(for n in "${NAMES[@]}"; do for m in "${MODE_LIST[@]}"; do echo "${PORT[$n.$m]}"; done; done); do
  refuse_busy "$p"
done
for p in "${BACKEND_PORTS[@]}"; do
  sed -e "s|@PORT@|$p|g" -e "s|@PREFIX@|$OUT|g" "$HERE/proxy/nginx-backend.conf" > "$OUT/backend-$p.conf"
  spawn "backend-$p" nginx -p "$OUT/" -c "$OUT/backend-$p.conf" -g "pid $OUT/backend-$p.pid;"
done
BACKEND_SIDS=()
for p in "${BACKEND_PORTS[@]}"; do
  wait_listening "backend-$p" "$p"
  b=$(check_http "backend-$p" "http://127.0.0.1:$p")
  [[ $b == "$p" ]] || die "backend-$p: X-Backend is '$b', want $p"
  BACKEND_SIDS+=("${SID[backend-$p]}")
done
log "backends ${BACKEND_PORTS[*]} answer / and /16k (nginx pids ${BACKEND_SIDS[*]})"

# ---- peers: one process each for all its modes, up for the whole benchmark (idle while the other runs)
for n in "${NAMES[@]}"; do
  case $n in
    haproxy) spawn haproxy env NBTHREAD="$NBTHREAD" haproxy -db -f "$HERE/proxy/haproxy.cfg";;
    meridian) spawn meridian env ${GOPROCS:+GOMAXPROCS=$GOPROCS} "$BIN" proxy -c "$HERE/proxy/meridian-proxy.toml";;
  esac
  for m in "${MODE_LIST[@]}"; do
    wait_listening "$n" "${PORT[$n.$m]}"
    check_spread "$n $m" "http://127.0.0.1:${PORT[$n.$m]}"
  done
  log "$n pid ${SID[$n]} answers on $(for m in "${MODE_LIST[@]}"; do printf '%s:%s ' "$m" "${PORT[$n.$m]}"; done)"
done
[[ " ${NAMES[*]} " != *" haproxy "* ]] || log "haproxy: $(haproxy -v | head -1), nbthread $NBTHREAD"
[[ " ${NAMES[*]} " != *" meridian "* ]] || log "meridian: $("$BIN" version 2>&1 | head -1), GOMAXPROCS ${GOPROCS:-default ($(nproc) cores)}"

# ---- measurement
# wait_quiet: up to QUIET s until the whole machine used < 20% of one core for 3 consecutive seconds.
wait_quiet() {
  ((QUIET > 0)) || return 0
  local end=$((SECONDS + QUIET)) a b ok=0 said=0
  a=$(busy_ticks)
  while ((ok < 3)); do
    sleep 1
    b=$(busy_ticks)
    if ((b - a < HZ / 5)); then ok=$((ok + 1)); else ok=0; fi
    a=$b
    ((SECONDS < end)) || { log "WARNING: the machine is still busy after ${QUIET}s; measuring anyway"; return 0; }
    ((ok > 0 || said)) || { log "waiting for a quiet machine (other processes are busy)"; said=1; }
  done
}
# load_ticks: CPU of this shell's reaped children (timeout and its wrk) into LT. `times` must run in
# this shell, not in a pipe or subshell, to see them.
load_ticks() {
  times > "$OUT/tmp/times"
  LT=$(awk -v hz="$HZ" 'function t(x) { sub(/s$/, "", x); split(x, a, "m"); return a[1] * 60 + a[2] }
    NR == 2 { printf "%.0f", (t($1) + t($2)) * hz }' "$OUT/tmp/times")
}
# wrk_run URL SECONDS CONNS FILE: one bounded wrk run in the background (so Ctrl-C stops it at once).
wrk_run() {
  local rc=0
  timeout -k 5 $(($2 + 30)) wrk -t1 -c"$3" -d"$2s" --timeout 2s --latency "$1" > "$4" 2>&1 &
  LOAD_PID=$!
  wait "$LOAD_PID" || rc=$?
  LOAD_PID=""
  ((rc == 0)) || { cat "$4" >&2; die "wrk $1 failed (exit $rc)"; }
}
# wrk_figures FILE: "rps p99_ms errors requests" (errors: socket errors plus non-2xx/3xx responses).
wrk_figures() {
  awk 'function ms(v,   n, u) { n = v; sub(/[a-z]+$/, "", n); u = v; sub(/^[0-9.]+/, "", u)
         return u == "us" ? n / 1000 : u == "ms" ? n : u == "s" ? n * 1000 : u == "m" ? n * 60000 : -1 }
    /^ +99%/ { p99 = ms($2) } /Requests\/sec:/ { rps = $2 } / requests in / { req = $1 }
    /Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 } /Non-2xx or 3xx/ { err += $NF }
    END { if (rps == "" || p99 == "") exit 1; printf "%.0f %.3f %d %d\n", rps, p99, err, req }' "$1"
}

CSV=$OUT/runs.csv
echo "round,peer,mode,path,conns,rps,p99_ms,errors,requests,proxy_cpu_s,backend_cpu_s,wrk_cpu_s,busy_cpu_s,other_cpu_s,req_per_cpu_s,attempt" > "$CSV"
: > "$OUT/discarded.csv"
pathname() { local p=${1#/}; echo "${p:-small}"; }
# measure ROUND PEER MODE PATH CONNS ATTEMPT: sets ROW (a runs.csv line) and DISTURBED (1 when other
# processes used more than 10% of one core during the run).
measure() {
  local r=$1 n=$2 m=$3 path=$4 c=$5 att=$6 url f p0 p1 k0 k1 b0 b1 l0 rps p99 errs req
  url=http://127.0.0.1:${PORT[$n.$m]}$path
  f=$OUT/wrk/r$r-$n-$m-$(pathname "$path")-c$c-a$att.txt
  wait_quiet
  ((WARM == 0)) || wrk_run "$url" "$WARM" "$c" "$OUT/tmp/warmup.txt"
  load_ticks; l0=$LT
  b0=$(busy_ticks) p0=$(session_ticks "${SID[$n]}") k0=$(session_ticks "${BACKEND_SIDS[@]}")
  wrk_run "$url" "$SECS" "$c" "$f"
  p1=$(session_ticks "${SID[$n]}") k1=$(session_ticks "${BACKEND_SIDS[@]}") b1=$(busy_ticks)
  load_ticks
  kill -0 "${SID[$n]}" 2>/dev/null || { cat "$OUT/logs/$n.log" >&2; die "$n exited during the load"; }
  read -r rps p99 errs req < <(wrk_figures "$f") || { cat "$f" >&2; die "cannot read wrk's output $f"; }
  ((req > 0)) || { cat "$f" >&2; die "$n $m: wrk completed no request"; }
  ((errs == 0)) || log "WARNING: $n $m $path c$c: $errs errors (socket errors or non-2xx) in $f"
  ROW=$(awk -v hz="$HZ" -v d="$SECS" -v p=$((p1 - p0)) -v k=$((k1 - k0)) -v w=$((LT - l0)) -v b=$((b1 - b0)) \
    -v rps="$rps" -v id="$r,$n,$m,$(pathname "$path"),$c,$rps,$p99,$errs,$req" -v att="$att" 'BEGIN {
      p /= hz; k /= hz; w /= hz; b /= hz; o = b - p - k - w; if (o < 0) o = 0
      printf "%s,%.2f,%.2f,%.2f,%.2f,%.2f,%.0f,%d\n", id, p, k, w, b, o, (p > 0 ? rps * d / p : 0), att }')
  DISTURBED=$(awk -F, -v d="$SECS" '{ print ($14 > 0.1 * d) ? 1 : 0 }' <<< "$ROW")
}

runs=$((ROUNDS * ${#MODE_LIST[@]} * ${#PATHS[@]} * ${#CONNS[@]} * ${#NAMES[@]})) i=0
log "$runs runs of wrk -t1 for ${SECS}s (+${WARM}s warm-up each): ${ROUNDS} rounds x modes ${MODE_LIST[*]} x paths ${PATHS[*]} x conns ${CONNS[*]} x ${NAMES[*]}"
for ((r = 1; r <= ROUNDS; r++)); do
  for m in "${MODE_LIST[@]}"; do
    for path in "${PATHS[@]}"; do
      for c in "${CONNS[@]}"; do
        for ((k = 0; k < ${#NAMES[@]}; k++)); do
          n=${NAMES[$(((k + r - 1) % ${#NAMES[@]}))]}   # rotate which peer goes first
          i=$((i + 1))
          for ((att = 1; ; att++)); do
            measure "$r" "$n" "$m" "$path" "$c" "$att"
            ((DISTURBED && att <= RETRIES)) || break
            log "  [$i/$runs] discarded, other processes were busy: $ROW"
            echo "$ROW" >> "$OUT/discarded.csv"
          done
          echo "$ROW" >> "$CSV"
          log "  [$i/$runs] $ROW"
          ((!DISTURBED)) || log "WARNING: other processes used more than 10% of a core during this run; kept (retries used up)"
        done
      done
    done
  done
done

# ---- summary: medians over the rounds, then the ratios meridian/haproxy against the issue's goals
awk -F, -v d="$SECS" -v rounds="$ROUNDS" -v peers="${NAMES[*]}" -v modes="${MODE_LIST[*]}" \
  -v paths="$(for p in "${PATHS[@]}"; do pathname "$p"; done | paste -sd' ')" -v conns="${CONNS[*]}" '
  function med(s,   a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  function x(a, b) { return b > 0 ? a / b : -1 }
  function show(label, v, goal, higher) {
    if (v < 0) return sprintf("  %s NA", label)
    return sprintf("  %s %.2fx (goal %s %.1f: %s)", label, v, higher ? ">=" : "<=", goal,
      (higher ? v >= goal : v <= goal) ? "met" : "MISSED") }
  NR > 1 { k = $2 SUBSEP $3 SUBSEP $4 SUBSEP $5
    RPS[k] = RPS[k] " " $6; P99[k] = P99[k] " " $7; CPU[k] = CPU[k] " " $10; RPC[k] = RPC[k] " " $15; ERR[k] += $8; OTH[k] += $14 }
  END {
    np = split(peers, P, " "); nm = split(modes, M, " "); na = split(paths, A, " "); nc = split(conns, C, " ")
    printf "\n%-9s %-4s %-6s %5s %8s %8s %7s %13s   (medians of %d x %ds, wrk -t1)\n", "peer", "mode", "path", "conns",
      "rps", "p99_ms", "cpu_s", "req_per_cpu_s", rounds, d
    for (mi = 1; mi <= nm; mi++) for (ai = 1; ai <= na; ai++) for (ci = 1; ci <= nc; ci++) for (pi = 1; pi <= np; pi++) {
      k = P[pi] SUBSEP M[mi] SUBSEP A[ai] SUBSEP C[ci]
      if (!(k in RPS)) continue
      R[k] = med(RPS[k]); L[k] = med(P99[k]); U[k] = med(CPU[k]); Q[k] = med(RPC[k])
      printf "%-9s %-4s %-6s %5d %8.0f %8.2f %7.2f %13.0f%s%s\n", P[pi], M[mi], A[ai], C[ci], R[k], L[k], U[k], Q[k],
        (ERR[k] ? "  errors=" ERR[k] : ""), ((OTH[k] > 0.1 * d * rounds) ? sprintf("  other_cpu_s=%.1f", OTH[k]) : "")
    }
    for (ai = 1; ai <= na; ai++) for (ci = 1; ci <= nc; ci++) {
      h7 = "haproxy" SUBSEP "l7" SUBSEP A[ai] SUBSEP C[ci]; m7 = "meridian" SUBSEP "l7" SUBSEP A[ai] SUBSEP C[ci]
      h4 = "haproxy" SUBSEP "l4" SUBSEP A[ai] SUBSEP C[ci]; m4 = "meridian" SUBSEP "l4" SUBSEP A[ai] SUBSEP C[ci]
      if ((h7 in R) && (m7 in R))
        printf "ratio meridian/haproxy L7 %-6s c%-4d%s%s\n", A[ai], C[ci], show("req/CPU-s", x(Q[m7], Q[h7]), 0.8, 1), show("p99", x(L[m7], L[h7]), 1.5, 0)
      if ((h4 in R) && (m4 in R))
        printf "ratio meridian/haproxy L4 %-6s c%-4d%s%s\n", A[ai], C[ci], show("req/CPU-s", x(Q[m4], Q[h4]), 1.0, 1), show("rps", x(R[m4], R[h4]), 1.0, 1)
    }
  }' "$CSV" | tee "$OUT/summary.txt"
log "runs.csv, summary.txt, wrk outputs and logs in $OUT"
