#!/usr/bin/env bash
# dns.sh - dnsperf against Meridian and gdnsd 3.x serving the same zone (example.test).
#
# Usage: bash test/bench/dns.sh [-m static|geo] [-s SECONDS] [-r ROUNDS] [-q QUERYFILE]
#                               [-b MERIDIAN_BINARY] [-o OUTDIR] [-P "gdnsd meridian"] [-g GEODIR] [-C] [-D] [-F]
#   -m  static (default): static.example.test, gdnsd/ and meridian-static.toml;
#       geo: www.example.test steered by continent with ECS from many subnets, gdnsd's geoip plugin
#       (gdnsd-geo/) and meridian-geo.toml on the same GeoLite2-City.mmdb, six HTTP backends on
#       127.0.{1,2,3}.{1,2}:18080 for gdnsd's health checks, and an answer cross-check first
#   -s  seconds per dnsperf run (default 10)          -r  rounds of max-QPS and of latency runs (default 3)
#   -q  dnsperf query file (default queries/static-a.txt, geo: queries/www-a-ecs-mixed.bin; *.bin
#       files are dnsperf -B binary; also queries/mixed-static.txt)
#   -b  Meridian binary (default: go build ./cmd/meridian into a temp dir)
#   -o  directory for the raw dnsperf outputs and summary.tsv (default /tmp/meridian-bench.DATE)
#   -P  servers to run (default both; e.g. -P gdnsd while Meridian does not build)
#   -g  directory with GeoLite2-City.mmdb for -m geo (default .cache/geoip; test/geodata.sh fills it)
#   -C  the cost of DNS cookies + RRL: adds a third server, meridian+crrl on 127.0.0.1:5320 (the mode's
#       Meridian config plus meridian-crrl.toml: [server.cookies] secret_file, [server.rrl]
#       responses_per_second = 1000000, the most Meridian accepts), sent the same queries with a client
#       COOKIE option (dnsperf -E 10:HEX; a *.bin query file is rewritten with the option in its OPT
#       record, since dnsperf -B sends the packets as they are); the baseline meridian then runs with
#       meridian-cookies-off.toml ([server.cookies] enabled = false, no RRL). Also prints the ratios
#       meridian+crrl/meridian (the cost; goal cpu <= 1.10x) and meridian+crrl/gdnsd
#   -D  the cost of DNSSEC (geo mode only; not with -C): adds meridian+dnssec on 127.0.0.1:5340
#       (meridian-geo.toml plus meridian-dnssec.toml: example.test signed with an ECDSA P-256 key made by
#       `meridian dnssec keygen` in the temp dir) and pdns+dnssec on 127.0.0.1:5330 (PowerDNS 4.7, pdns/:
#       the LUA www record of ../shared/bench/dns/pdns, bind backend with a DNSSEC db, zone signed by
#       `pdnsutil secure-zone`); every server gets the same queries with the DO bit set (the *.bin file
#       rewritten, or dnsperf -D for a text file). Checks first that both signed servers answer
#       www.example.test A with its RRSIG. Also prints the ratios meridian+dnssec/meridian (the cost;
#       goal cpu <= 2.00x) and meridian+dnssec/pdns+dnssec (goal qps >= 5.00x). Naming meridian+dnssec
#       or a pdns+ server in -P implies -D. Variants of pdns+dnssec run only when named in -P:
#       pdns+dnssec-rt2 (5331: receiver-threads=2, reuseport=yes), pdns+dnssec-shared (5332:
#       enable-lua-records=shared, one Lua state per thread instead of one per query)
#   -F  the floor: adds echo on 127.0.0.1:5399, test/bench/echo (built here), which only sends each
#       datagram back with Meridian's threading (recvmmsg/sendmmsg, one blocking socket per CPU), and
#       prints gdnsd/echo and meridian/echo: how far each is from what the kernel allows. Left out of
#       the answer cross-check.
#
# Method (same as ../shared/bench/dns): gdnsd on 127.0.0.1:5300, Meridian on 127.0.0.1:5310, each
# warmed up for 2 s, then ROUNDS rounds alternating which server goes first of a max-QPS run
# (dnsperf -c 4 -T 1 -q 100 -t 2, no -Q), recording the server's utime+stime from /proc/PID/stat;
# then ROUNDS alternating rounds of one `dnsperf -v` run per server at the same offered rate (-Q = half
# the lowest median max QPS) for p50/p99 (medians over the rounds). Prints per server the median qps, p99 and server CPU us per query,
# and the ratios meridian/gdnsd (with -C also meridian+crrl/meridian and meridian+crrl/gdnsd, with -D
# meridian+dnssec/meridian and meridian+dnssec/pdns+dnssec). Loopback only; every run is time-bounded; only the processes
# started here are stopped, by PID. Exits non-zero if a server does not answer.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MODE=static SECS=10 ROUNDS=3 QFILE="" BIN="" OUT="" SERVERS="gdnsd meridian" GEODIR=$ROOT/.cache/geoip CRRL=0 DNSSEC=0 FLOOR=0
declare -A PORT=([gdnsd]=5300 [meridian]=5310 [meridian+crrl]=5320 [pdns+dnssec]=5330 [pdns+dnssec-rt2]=5331
  [pdns+dnssec-shared]=5332 [meridian+dnssec]=5340 [echo]=5399) PID=() BPID=()
HOST=127.0.0.1 LOAD_PID="" GEO_DB=""
# -C: the client cookie dnsperf sends meridian+crrl (8 bytes, EDNS option 10). Its RRL rate per client network
# and token is in meridian-crrl.toml (1000000, the most Meridian accepts): every reply is charged, but
# dnsperf's single source (one /24, one name and type, so one bucket) stays far below it.
CLIENT_COOKIE=c0de5eed2024abcd
# geo mode: gdnsd's http_status health checks probe these on port 18080 (the pools of gdnsd-geo/config)
BACKENDS=(127.0.1.1 127.0.1.2 127.0.2.1 127.0.2.2 127.0.3.1 127.0.3.2) BACKEND_PORT=18080

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts "m:s:r:q:b:o:P:g:CDFh" o; do
  case $o in
    m) MODE=$OPTARG;; s) SECS=$OPTARG;; r) ROUNDS=$OPTARG;; q) QFILE=$OPTARG;; b) BIN=$OPTARG;;
    o) OUT=$OPTARG;; P) SERVERS=$OPTARG;; g) GEODIR=$OPTARG;; C) CRRL=1;; D) DNSSEC=1;; F) FLOOR=1;; *) usage;;
  esac
done
(($# < OPTIND)) || usage
log() { printf '%s [dns.sh] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
in_range() { [[ "$1" =~ ^[0-9]+$ ]] && (($1 >= $2 && $1 <= $3)); }
in_range "$SECS" 1 120 || die "-s must be 1..120"
in_range "$ROUNDS" 1 20 || die "-r must be 1..20"
# What the mode changes: the configs, the default query file and the name dnsperf asks for.
case $MODE in
  static) GDNSD_DIR=$HERE/gdnsd MERIDIAN_CONF=$HERE/meridian-static.toml QNAME=static.example.test;;
  geo) GDNSD_DIR=$HERE/gdnsd-geo MERIDIAN_CONF=$HERE/meridian-geo.toml QNAME=www.example.test;;
  *) die "-m must be static or geo";;
esac
QFILE=${QFILE:-$HERE/queries/$([[ $MODE == geo ]] && echo www-a-ecs-mixed.bin || echo static-a.txt)}
DPARGS=()   # extra dnsperf arguments: -B reads the binary query format (length-prefixed wire packets)
[[ "$QFILE" != *.bin ]] || DPARGS=(-B)
[[ -r "$QFILE" ]] || die "cannot read query file $QFILE"
[[ -z "$BIN" || -x "$BIN" ]] || die "-b $BIN is not executable"
read -r -a NAMES <<< "$SERVERS"
((${#NAMES[@]})) || die "-P names no server"
for n in "${NAMES[@]}"; do
  [[ -n "${PORT[$n]:-}" ]] || die "unknown server '$n' (${!PORT[*]})"
done
running() { [[ " ${NAMES[*]} " == *" $1 "* ]]; }
# -C adds meridian+crrl to the servers; naming it in -P implies -C (the baseline meridian without cookies)
if running meridian+crrl; then CRRL=1; elif ((CRRL)); then NAMES+=(meridian+crrl); fi
# -D adds meridian+dnssec and pdns+dnssec; naming one of the -D servers in -P implies -D (and runs only those named)
if running meridian+dnssec || [[ " ${NAMES[*]} " == *" pdns+"* ]]; then DNSSEC=1
elif ((DNSSEC)); then NAMES+=(meridian+dnssec pdns+dnssec); fi
((!DNSSEC)) || [[ $MODE == geo ]] || die "-D needs -m geo (the signed geo answer is what it measures)"
((!DNSSEC || !CRRL)) || die "-D and -C measure different costs; run them separately"
# -F adds the echo floor; naming echo in -P implies it
if running echo; then FLOOR=1; elif ((FLOOR)); then NAMES+=(echo); fi
has_meridian() { [[ " ${NAMES[*]} " == *" meridian"* ]]; }   # meridian, meridian+crrl or meridian+dnssec
has_pdns() { [[ " ${NAMES[*]} " == *" pdns+"* ]]; }   # any pdns+dnssec*

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
  for n in "${!BPID[@]}"; do stop_pid "${BPID[$n]}"; done
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
[[ $MODE != geo && ( $CRRL == 0 || "$QFILE" != *.bin ) ]] || command -v python3 >/dev/null || need+=(python3)
# -D: PowerDNS 4.7 (Debian 12's pdns-server) with the bind backend (zone file + sqlite3 DNSSEC db) and the
# geoip one (continent() for the LUA record)
deb_installed() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]; }
if has_pdns; then
  for p in pdns-server pdns-backend-bind pdns-backend-geoip; do deb_installed "$p" || need+=("$p"); done
fi
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
  # the echo only answers with the question itself
  until if [[ $n == echo ]]; then dig +time=1 +tries=1 @"$HOST" -p "${PORT[$n]}" static.example.test A 2>/dev/null | grep -q 'status: NOERROR'; else answers "${PORT[$n]}"; fi; do
    kill -0 "${PID[$n]}" 2>/dev/null || { log "$n exited"; return 1; }
    ((SECONDS < end)) || { log "$n did not answer within 30 s"; return 1; }
    sleep 0.2
  done
}

start_gdnsd() {
  local d=$TMP/gdnsd
  mkdir -p "$d/conf/geoip" "$d/run" "$d/state"
  cp -r "$GDNSD_DIR/zones" "$d/conf/"
  sed -e "s|@PORT@|${PORT[gdnsd]}|g" -e "s|@RUN_DIR@|$d/run|g" -e "s|@STATE_DIR@|$d/state|g" \
    "$GDNSD_DIR/config" > "$d/conf/config"
  [[ -z "$GEO_DB" ]] || ln -s "$GEO_DB" "$d/conf/geoip/GeoLite2-City.mmdb"   # geoip2_db is relative to geoip/
  gdnsd -c "$d/conf" start > "$TMP/gdnsd.log" 2>&1 &   # "start" stays in the foreground (3.x)
  PID[gdnsd]=$!
}
# start_meridian NAME: meridian, or meridian+crrl (-C) / meridian+dnssec (-D): the same config on port
# 5320 / 5340 with its own data directory, plus meridian-crrl.toml (cookies with a secret file, RRL) /
# meridian-dnssec.toml (the zone's dnssec table with the key made at bench time); with -C the baseline
# meridian gets meridian-cookies-off.toml. The fragments are appended: the mode's config must not set
# those tables.
start_meridian() {
  local n=$1 c=$TMP/$1.toml dd=/tmp/meridian-bench-data-${1#meridian+}
  sed -e "s|@GEO_DB@|$GEO_DB|g" "$MERIDIAN_CONF" > "$c"
  if [[ $n != meridian ]]; then
    sed -i -e "s|:5310\"|:${PORT[$n]}\"|g" -e "s|^data_dir = \"/tmp/meridian-bench-data\"|data_dir = \"$dd\"|" "$c"
    grep -q ":${PORT[$n]}\"" "$c" && grep -q "^data_dir = \"$dd\"" "$c" ||
      die "cannot move $(basename "$MERIDIAN_CONF") to port ${PORT[$n]} and its own data_dir for $n"
  fi
  if [[ $n == meridian+crrl ]]; then
    sed -e "s|@COOKIE_SECRET@|$TMP/cookie-secret.hex|g" "$HERE/meridian-crrl.toml" >> "$c"
  elif [[ $n == meridian+dnssec ]]; then
    sed -e "s|@KEY@|$DNSSEC_KEY|g" "$HERE/meridian-dnssec.toml" >> "$c"
  elif ((CRRL)); then
    cat "$HERE/meridian-cookies-off.toml" >> "$c"
  fi
  "$BIN" serve -c "$c" > "$TMP/$n.log" 2>&1 &
  PID[$n]=$!
}
# start_pdns NAME: pdns+dnssec (-D), PowerDNS 4.7 with pdns/ (the shared LUA zone, 4.7 defaults for
# threads and caches) copied to the temp dir with the placeholders filled in; its DNSSEC db made and the
# zone signed by pdnsutil first (pdns's default key: one ECDSA P-256 CSK, algorithm 13); pdnsutil's output
# (show-zone) is kept as NAME.pdnsutil.txt. The variants (only when named in -P) differ in one setting:
# pdns+dnssec-rt2 receiver-threads=2 and reuseport=yes, pdns+dnssec-shared enable-lua-records=shared.
start_pdns() {
  local n=$1 d=$TMP/$1 f lua=yes
  [[ $n != pdns+dnssec-shared ]] || lua=shared
  mkdir -p "$d/conf" "$d/sock"
  for f in pdns.conf named.conf geo-zones.yaml example.test.zone; do
    sed -e "s|@PORT@|${PORT[$n]}|g" -e "s|@CONF_DIR@|$d/conf|g" -e "s|@SOCKET_DIR@|$d/sock|g" \
      -e "s|@GEO_DIR@|${GEO_DB%/*}|g" -e "s|@LUA_MODE@|$lua|g" "$HERE/pdns/$f" > "$d/conf/$f"
  done
  [[ $n != pdns+dnssec-rt2 ]] || printf 'receiver-threads=2\nreuseport=yes\n' >> "$d/conf/pdns.conf"
  { pdnsutil --config-dir="$d/conf" create-bind-db "$d/conf/bind-dnssec.db" &&
    pdnsutil --config-dir="$d/conf" secure-zone example.test &&
    pdnsutil --config-dir="$d/conf" show-zone example.test; } > "$d/pdnsutil.log" 2>&1 ||
    { cat "$d/pdnsutil.log" >&2; die "pdnsutil could not sign example.test for $n"; }
  grep -Eq 'algo(rithm)? = 13\b' "$d/pdnsutil.log" ||
    { cat "$d/pdnsutil.log" >&2; die "pdnsutil secure-zone made no ECDSA P-256 (algorithm 13) key for $n"; }
  mkdir -p "$OUT" && cp "$d/pdnsutil.log" "$OUT/$n.pdnsutil.txt"
  pdns_server --config-dir="$d/conf" > "$TMP/$n.log" 2>&1 &
  PID[$n]=$!
}
# start_echo: the floor (-F), with as many sockets as Meridian's default (one per CPU).
start_echo() {
  (cd "$ROOT" && go build -o "$TMP/echo" ./test/bench/echo) || die "go build ./test/bench/echo failed"
  "$TMP/echo" -addr "$HOST:${PORT[echo]}" -sockets "$(nproc)" > "$TMP/echo.log" 2>&1 &
  PID[echo]=$!
}
start_server() { case $1 in gdnsd) start_gdnsd;; pdns+*) start_pdns "$1";; echo) start_echo;; *) start_meridian "$1";; esac; }
tcp_open() { (exec 3<> "/dev/tcp/$1/$2") 2>/dev/null; }
# start_backends: one python3 http.server per health-checked address, serving an empty directory
# (GET / answers 200 with a directory listing), up within 10 s each.
start_backends() {
  local a end
  mkdir -p "$TMP/www"
  for a in "${BACKENDS[@]}"; do
    ! tcp_open "$a" "$BACKEND_PORT" || die "tcp $a:$BACKEND_PORT is already in use; refusing to use a backend this script did not start"
    python3 -m http.server "$BACKEND_PORT" --bind "$a" --directory "$TMP/www" > "$TMP/backend-$a.log" 2>&1 &
    BPID[$a]=$!
  done
  for a in "${BACKENDS[@]}"; do
    end=$((SECONDS + 10))
    until tcp_open "$a" "$BACKEND_PORT"; do
      kill -0 "${BPID[$a]}" 2>/dev/null && ((SECONDS < end)) || { cat "$TMP/backend-$a.log" >&2; die "backend $a:$BACKEND_PORT did not start"; }
      sleep 0.1
    done
  done
  log "backends pids ${BPID[*]} on ${BACKENDS[*]} port $BACKEND_PORT"
}
# wait_gdnsd_up: at most 60 s until gdnsd's monitors see every backend UP (gdnsdctl states) and an EU
# subnet is answered from eu = 127.0.2.x. The answer alone proves nothing: with every backend down
# gdnsd still answers from the first datacenter of the map.
wait_gdnsd_up() {
  local end=$((SECONDS + 60)) st="" eu=""
  while :; do
    st=$(gdnsdctl -c "$TMP/gdnsd/conf" states 2>/dev/null | grep -c '/web": {"state": "UP"' || true)
    eu=$(dig +time=1 +tries=1 +norec +short @"$HOST" -p "${PORT[gdnsd]}" www.example.test A +subnet=81.2.69.0/24 | sort | paste -sd, -)
    [[ "$st" != "${#BACKENDS[@]}" || "$eu" != 127.0.2.1,127.0.2.2 ]] || break
    ((SECONDS < end)) || die "gdnsd does not see the backends up after 60 s ($st of ${#BACKENDS[@]} UP, EU subnet -> $eu)"
    sleep 0.5
  done
  log "gdnsd: $st/${#BACKENDS[@]} backends UP, EU subnet answered $eu"
}
# wait_pdns_up NAME: at most 60 s until pdns's LUA ifurlup checks (every 2 s, lua-health-checks-interval)
# see the backends up: a NA, an EU and an AS subnet each answered with its own pool. Until then ifurlup
# answers with the backupSelector ('all') over every address.
wait_pdns_up() {
  local n=$1 end=$((SECONDS + 60)) x a got want ok
  while :; do
    ok=1 got=""
    for x in 8.8.8.0/24:127.0.1.1,127.0.1.2 81.2.69.0/24:127.0.2.1,127.0.2.2 1.0.16.0/24:127.0.3.1,127.0.3.2; do
      want=${x#*:}
      a=$(dig +time=1 +tries=1 +norec +short @"$HOST" -p "${PORT[$n]}" www.example.test A +subnet="${x%%:*}" | sort | paste -sd, -)
      got+=" ${x%%:*}->${a:-none}"
      [[ "$a" == "$want" ]] || ok=0
    done
    ((!ok)) || break
    ((SECONDS < end)) || die "$n's LUA health checks do not see the backends up after 60 s:$got"
    sleep 0.5
  done
  log "$n: LUA ifurlup sees the backends up:$got"
}

if has_meridian && [[ -z "$BIN" ]]; then
  log "building meridian"
  (cd "$ROOT" && go build -o "$TMP/meridian" ./cmd/meridian) || die "go build ./cmd/meridian failed"
  BIN=$TMP/meridian
fi
for n in "${NAMES[@]}"; do
  ! port_busy "${PORT[$n]}" || die "udp port ${PORT[$n]} is already in use; refusing to benchmark a server this script did not start"
done
if [[ $MODE == geo ]]; then
  [[ -s "$GEODIR/GeoLite2-City.mmdb" ]] || bash "$ROOT/test/geodata.sh" "$GEODIR" >/dev/null || die "no GeoLite2-City.mmdb in $GEODIR"
  GEO_DB=$(cd "$GEODIR" && pwd)/GeoLite2-City.mmdb
  log "geo: $GEO_DB"
  ! running gdnsd && ! has_pdns || start_backends
fi
# rewrite_bin SRC DST COOKIE_HEX DO: a dnsperf -B query file with, in every query's OPT record (one is added,
# UDP size 1232, where a query has none), a client COOKIE option (EDNS option 10; none when COOKIE_HEX is
# empty) and, when DO is 1, the DO bit (0x8000 of the flags in the OPT TTL field). dnsperf -B sends the
# packets as they are, ignoring -E and -D. Prints how many queries it rewrote.
rewrite_bin() {
  python3 - "$@" <<'PY'
import struct, sys
src, dst, cookie, do = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]), sys.argv[4] == "1"
opt = struct.pack("!HH", 10, len(cookie)) + cookie if cookie else b""
def skip_name(m, i):
    while m[i] and m[i] & 0xC0 != 0xC0: i += 1 + m[i]
    return i + (1 if m[i] == 0 else 2)
data, out, i, n = open(src, "rb").read(), bytearray(), 0, 0
while i < len(data):
    (l,) = struct.unpack_from("!H", data, i); m = bytearray(data[i + 2:i + 2 + l]); i += 2 + l
    qd, an, ns, ar = struct.unpack_from("!HHHH", m, 4)
    p = 12
    for _ in range(qd): p = skip_name(m, p) + 4
    for k in range(an + ns + ar):
        p = skip_name(m, p)                    # p: the RR's type
        if k >= an + ns and struct.unpack_from("!H", m, p)[0] == 41: break
        p += 10 + struct.unpack_from("!H", m, p + 8)[0]
    else:                                      # no OPT record: add one (UDP size 1232)
        m += b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0); struct.pack_into("!H", m, 10, ar + 1); p = len(m) - 10
    if do: m[p + 6] |= 0x80                    # TTL: extended rcode, version, flags (DO = 0x8000)
    rdl = struct.unpack_from("!H", m, p + 8)[0]
    m[p + 10 + rdl:p + 10 + rdl] = opt; struct.pack_into("!H", m, p + 8, rdl + len(opt))
    out += struct.pack("!H", len(m)) + m; n += 1
open(dst, "wb").write(out)
print(n)
PY
}
# -C: meridian+crrl's secret (32 hex digits, as openssl rand -hex 16 writes) and its queries: the same as the
# others' plus a client COOKIE option. dnsperf -E adds it (with an OPT record) to text query files; a *.bin
# file is rewritten with the option added to each query's OPT record.
declare -A QF=() XA=()
if ((CRRL)); then
  RRL_RATE=$(awk -F' *= *' '$1 == "responses_per_second" { print $2 }' "$HERE/meridian-crrl.toml")
  od -An -tx1 -N16 /dev/urandom | tr -d ' \n' > "$TMP/cookie-secret.hex"
  if [[ "$QFILE" == *.bin ]]; then
    QF[meridian+crrl]=$TMP/queries-cookie.bin
    rewrite_bin "$QFILE" "${QF[meridian+crrl]}" "$CLIENT_COOKIE" 0 >/dev/null || die "cannot add a COOKIE option to $QFILE"
  else
    XA[meridian+crrl]="-E 10:$CLIENT_COOKIE"
  fi
fi
# -D: every server gets the queries with the DO bit (a *.bin file rewritten, dnsperf -D for a text file),
# and meridian+dnssec a key made now by the binary under test (it prints the key's base path).
DNSSEC_KEY=""
if ((DNSSEC)); then
  if [[ "$QFILE" == *.bin ]]; then
    k=$(rewrite_bin "$QFILE" "$TMP/queries-do.bin" "" 1) || die "cannot set the DO bit in $QFILE"
    for n in "${NAMES[@]}"; do QF[$n]=$TMP/queries-do.bin; done
    log "dnssec: DO bit set in all $k queries of $(basename "$QFILE") (queries-do.bin)"
  else
    DPARGS+=(-D)
  fi
  if running meridian+dnssec; then
    mkdir -p "$TMP/keys"
    DNSSEC_KEY=$("$BIN" dnssec keygen -dir "$TMP/keys" example.test 2> "$TMP/keygen.log") && [[ -r "$DNSSEC_KEY.private" ]] ||
      { cat "$TMP/keygen.log" >&2; die "meridian dnssec keygen -dir $TMP/keys example.test failed"; }
    log "dnssec: meridian+dnssec signs with $(basename "$DNSSEC_KEY") (made by meridian dnssec keygen)"
  fi
fi
for n in "${NAMES[@]}"; do
  start_server "$n"
  wait_ready "$n" || { cat "$TMP/$n.log" >&2; die "$n does not answer static.example.test A on $HOST:${PORT[$n]}"; }
  log "$n pid ${PID[$n]} answers on $HOST:${PORT[$n]}"
done
# Meridian builds its ECS scope maps in the background after loading (seconds on GeoLite2-City):
# measure once they are done, so the build's CPU is not counted and the scopes are final.
for n in meridian meridian+crrl meridian+dnssec; do
  [[ $MODE == geo && -n "${PID[$n]:-}" ]] || continue
  for ((i = 0; i < 600; i++)); do grep -q "ECS scope map ready" "$TMP/$n.log" && break; sleep 0.1; done
  grep -q "ECS scope map ready" "$TMP/$n.log" || log "WARNING: $n's ECS scope map is not ready after 60 s"
done
# -C: meridian+crrl must answer our client cookie with a server cookie (16 bytes: RFC 9018), and the
# baseline meridian (cookies off) with none; otherwise the comparison would not measure the cookie path.
if ((CRRL)); then
  for n in meridian meridian+crrl; do
    [[ -n "${PID[$n]:-}" ]] || continue
    ck=$(dig +time=1 +tries=2 +norec +cookie="$CLIENT_COOKIE" @"$HOST" -p "${PORT[$n]}" static.example.test A 2>&1 |
      awk '/^; COOKIE:/ { print $3 }')
    if [[ $n == meridian+crrl ]]; then
      [[ "$ck" =~ ^$CLIENT_COOKIE[0-9a-f]{32}$ ]] || die "$n did not answer client cookie $CLIENT_COOKIE with a server cookie (got '${ck:-none}')"
      log "cookies: $n answers client cookie $CLIENT_COOKIE with server cookie ${ck#"$CLIENT_COOKIE"}; RRL responses_per_second $RRL_RATE"
    else
      [[ -z "$ck" ]] || die "$n should run with cookies off under -C, but answered a COOKIE ($ck)"
      log "cookies: $n (cookies off, no RRL) answers no COOKIE"
    fi
  done
fi

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
  local n=$1 f=$2 secs=$3 rc=0 c0 b0 l0 xa=(); shift 3
  [[ -z "${XA[$n]:-}" ]] || read -r -a xa <<< "${XA[$n]}"   # -C: meridian+crrl's -E (client COOKIE)
  load_ticks; l0=$LT c0=$(cpu_ticks "${PID[$n]}") b0=$(busy_ticks)
  timeout -k 5 $((secs + 15)) dnsperf -s "$HOST" -p "${PORT[$n]}" -d "${QF[$n]:-$QFILE}" -l "$secs" \
    -c 4 -T 1 -q 100 -t 2 ${DPARGS[@]+"${DPARGS[@]}"} ${xa[@]+"${xa[@]}"} "$@" > "$f" 2>&1 &
  LOAD_PID=$!
  wait "$LOAD_PID" || rc=$?
  LOAD_PID=""
  kill -0 "${PID[$n]}" 2>/dev/null || { cat "$TMP/$n.log" >&2; die "$n exited during the load"; }
  SRV_TICKS=$(($(cpu_ticks "${PID[$n]}") - c0))
  load_ticks
  OTHER=$((($(busy_ticks) - b0 - SRV_TICKS - (LT - l0)) * 100 / (secs * CLK_TCK)))
  ((rc == 0)) || { tail -5 "$f" >&2; die "dnsperf against $n failed (exit $rc)"; }
  [[ "$(awk '/Queries completed:/{print $3}' "$f")" =~ ^[1-9] ]] || die "$n answered no queries (see $f)"
  if grep -Eq 'Response codes:.*(SERVFAIL|REFUSED|FORMERR|NOTIMP|YXRRSET)' "$f"; then
    # YXRRSET is how dnsperf shows BADCOOKIE (rcode 23, whose low 4 bits are 7): RRL limited a cookie client
    log "WARNING: $n $(grep -o 'Response codes:.*' "$f")"
  fi
  [[ $n != meridian+crrl ]] || awk '/Queries lost:/{ exit ($3 > 0) }' "$f" ||
    log "WARNING: $n lost $(awk '/Queries lost:/{print $3}' "$f") queries: did RRL drop replies?"
  ((OTHER < 20)) || log "WARNING: other processes used $OTHER% of a core during this $n run; its figures are disturbed"
}

# Answer cross-check (geo): www.example.test A for client subnets on every continent, as GeoLite2 places
# them (the reference's 8.8.8.0/24, 81.2.69.0/24, 1.0.16.0/24 and 2001:4860::/32 among them), plus
# unlocatable ones and no ECS at all. Prints each server's sorted answers, TTL and ECS scope
# (dig's "addr/source/scope"), and warns loudly when the answer sets differ (DIFFERENT). TTLs and
# scopes are printed, not judged: gdnsd serves a DYNA "30" between 15 and 30 s (MAX/MIN, MIN = MAX/2,
# by the time to the next possible health change); both merge adjacent networks with the same result
# into one scope (Meridian by pool order, so its Asia and Oceania merge where gdnsd's differ).
XSUBNETS=(NA:8.8.8.0/24 NA:4.2.2.0/24 NA:208.67.222.0/24 NA:24.0.0.0/24 SA:177.0.0.0/24 SA:200.0.0.0/24
  SA:186.0.0.0/24 EU:81.2.69.0/24 EU:193.0.0.0/24 EU:85.0.0.0/24 EU:2.16.0.0/24 AF:41.0.0.0/24
  AF:196.0.0.0/24 AF:102.0.0.0/24 AS:1.0.16.0/24 AS:14.0.0.0/24 AS:110.0.0.0/24 AS:49.0.0.0/24
  OC:1.1.1.0/24 OC:139.130.4.0/24 OC:203.0.0.0/24 NA:2001:4860::/32 EU:2a00:1450::/32 AF:2c0f:fb50::/32
  -:192.0.2.0/24 -:10.0.0.0/8 -:none)
crosscheck() {
  local x s n out a ttl sc row bad=0 opt do=()
  ((!DNSSEC)) || do=(+dnssec)   # -D: asked as the load asks, with DO (the RRSIGs are not compared)
  declare -A ans=() ttls=()
  local names=()
  for n in "${NAMES[@]}"; do [[ $n == echo ]] || names+=("$n"); done   # the echo has no answers to compare
  printf '%-3s %-16s' at subnet
  for n in "${names[@]}"; do printf ' %-24s %4s %-6s' "$n" ttl scope; done
  printf '\n'
  for x in "${XSUBNETS[@]}"; do
    s=${x#*:} opt=()
    [[ $s == none ]] || opt=(+subnet="$s")
    printf '%-3s %-16s' "${x%%:*}" "$s"
    for n in "${names[@]}"; do
      out=$(dig +time=1 +tries=2 +norec ${do[@]+"${do[@]}"} @"$HOST" -p "${PORT[$n]}" www.example.test A ${opt[@]+"${opt[@]}"} 2>&1) || true
      a=$(awk '!/^;/ && $4 == "A" { print $5 }' <<< "$out" | sort | paste -sd, -)
      ttl=$(awk '!/^;/ && $4 == "A" { print $2; exit }' <<< "$out")
      sc=$(awk '/CLIENT-SUBNET:/ { n = split($3, f, "/"); print "/" f[n] }' <<< "$out")
      printf ' %-24s %4s %-6s' "${a:-(none)}" "${ttl:--}" "${sc:--}"
      ans[$n]=$a ttls[$n]=$ttl
    done
    row=""
    for n in "${names[@]}"; do [[ "${ttls[$n]}" == "${ttls[${names[0]}]}" ]] || row=" ttl-differs"; done
    for n in "${names[@]}"; do [[ "${ans[$n]}" == "${ans[${names[0]}]}" ]] || row=" DIFFERENT"; done
    [[ $row != " DIFFERENT" ]] || bad=$((bad + 1))
    printf '%s\n' "$row"
  done
  echo "$bad" > "$TMP/crosscheck.bad"
  ((bad == 0)) || log "WARNING: ******** $bad of ${#XSUBNETS[@]} subnets got different answer sets from the servers (DIFFERENT above); measuring anyway ********"
}

# -D: the signed servers must answer www.example.test A (DO, an EU subnet) with an RRSIG of algorithm 13
# over the A RRset by example.test, and the unsigned ones with none; otherwise the runs would not
# measure signing. Then delv (when installed), anchored at the DNSKEY with flags 257 the server serves,
# must fully validate www.example.test A (delv sends no ECS: the default answer) - the signatures are
# real, not just present. dig +dnssec and delv outputs in dnssec-check.txt.
dnssec_check() {
  local n out sig k
  for n in "${NAMES[@]}"; do
    out=$(dig +time=1 +tries=2 +norec +dnssec @"$HOST" -p "${PORT[$n]}" www.example.test A +subnet=81.2.69.0/24 2>&1) || true
    printf '=== %s\n%s\n' "$n" "$out" >> "$OUT/dnssec-check.txt"
    sig=$(awk '!/^;/ && $4 == "RRSIG" && $5 == "A" { print "algorithm " $6 ", key tag " $11 ", signer " $12; exit }' <<< "$out")
    case $n in
      meridian+dnssec | pdns+*)
        [[ "$sig" == "algorithm 13, key tag "*", signer example.test." ]] ||
          die "$n did not sign www.example.test A with algorithm 13 (RRSIG: ${sig:-none}; see $OUT/dnssec-check.txt)"
        log "dnssec: $n answers www.example.test A with its RRSIG ($sig)"
        command -v delv >/dev/null || { log "dnssec: no delv (bind9-dnsutils): signatures not validated"; continue; }
        k=$(dig +time=1 +tries=2 +norec +short @"$HOST" -p "${PORT[$n]}" example.test DNSKEY | awk '$1 == 257 {
          printf "example.test. static-key %s %s %s \"", $1, $2, $3; for (i = 4; i <= NF; i++) printf "%s", $i; print "\";" }')
        [[ -n "$k" ]] || die "$n serves no DNSKEY with flags 257 for example.test"
        printf 'trust-anchors {\n%s\n};\n' "$k" > "$TMP/$n.anchor"
        out=$(delv -a "$TMP/$n.anchor" +root=example.test @"$HOST" -p "${PORT[$n]}" www.example.test A 2>&1) || true
        printf '=== %s: delv, anchored at its DNSKEY\n%s\n' "$n" "$out" >> "$OUT/dnssec-check.txt"
        grep -q '^; fully validated' <<< "$out" || die "delv does not validate $n's www.example.test A (see $OUT/dnssec-check.txt)"
        log "dnssec: delv fully validates $n's www.example.test A against its DNSKEY";;
      *)
        [[ -z "$sig" ]] || die "$n should serve example.test unsigned, but answered an RRSIG ($sig)"
        log "dnssec: $n (unsigned) answers the DO query with no RRSIG";;
    esac
  done
}

mkdir -p "$OUT"
if [[ $MODE == geo ]]; then
  [[ -z "${PID[gdnsd]:-}" ]] || wait_gdnsd_up
  for n in "${NAMES[@]}"; do [[ $n != pdns+* ]] || wait_pdns_up "$n"; done
  ((!DNSSEC)) || { : > "$OUT/dnssec-check.txt"; dnssec_check; }
  log "answer cross-check: www.example.test A per client subnet (ECS); scope = the server's ECS scope prefix"
  crosscheck | tee "$OUT/crosscheck.txt"
fi
for n in "${NAMES[@]}"; do dnsperf_run "$n" "$OUT/$n.warmup.txt" 2; done
log "max QPS: $ROUNDS rounds x ${#NAMES[@]} servers x ${SECS}s, dnsperf -c 4 -T 1 -q 100 -t 2${DPARGS[*]:+ ${DPARGS[*]}}, $(basename "$QFILE")$(
  ((CRRL)) && printf '; meridian+crrl: %s' "${XA[meridian+crrl]:-$(basename "${QF[meridian+crrl]}") (client COOKIE $CLIENT_COOKIE added)}")"
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
for n in "${NAMES[@]}"; do
  [[ "${RESP[$n]:-}" == "${RESP[${NAMES[0]}]:-}" ]] ||
    log "WARNING: $n and ${NAMES[0]} answered the same queries with different response codes (see $OUT/*.lat.*.txt)"
done

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

printf '\nmode %s: %s, %s%s%s\n' "$MODE" "$QNAME" "$(basename "$QFILE")" \
  "$( ((CRRL)) && echo "; meridian cookies off, no RRL; meridian+crrl cookies (client COOKIE sent) + RRL $RRL_RATE/s")" \
  "$( ((DNSSEC)) && echo "; DO bit on every query; meridian+dnssec and pdns+dnssec sign online (ECDSA P-256)")"
w=10; for n in "${NAMES[@]}"; do ((${#n} <= w)) || w=${#n}; done   # 10 unless meridian+crrl etc. run
printf "%-${w}s %8s %8s %8s  %s\n" server qps p50_ms p99_ms cpu_us_per_query
for n in "${NAMES[@]}"; do
  printf "%-${w}s %8.0f %8s %8s  %.2f\n" "$n" "${M[$n.qps]}" "${P50[$n]}" "${P99[$n]}" "${M[$n.cpu]}"
done
# ratio A B [CPU_GOAL] [QPS_GOAL]: A/B for qps, p99 and cpu; CPU_GOAL (a maximum for the cpu ratio) and
# QPS_GOAL (a minimum for the qps ratio) are marked met or MISSED
ratio() {
  [[ -n "${M[$1.qps]:-}" && -n "${M[$2.qps]:-}" ]] || return 0
  awk -v a="$1" -v b="$2" -v goal="${3:-}" -v qgoal="${4:-}" -v mq="${M[$1.qps]}" -v gq="${M[$2.qps]}" -v mp="${P99[$1]}" \
    -v gp="${P99[$2]}" -v mc="${M[$1.cpu]}" -v gc="${M[$2.cpu]}" 'function x(a, b) { return (b + 0 > 0) ? sprintf("%.2fx", a / b) : "NA" }
    function met(ok) { return ok ? "met" : "MISSED" }
    BEGIN { printf "ratio %s/%s: qps %s  p99 %s  cpu %s", a, b, x(mq, gq), x(mp, gp), x(mc, gc)
      if (goal != "") printf " (goal <= %.2fx: %s)", goal, met(gc + 0 > 0 && sprintf("%.2f", mc / gc) + 0 <= goal + 0)
      if (qgoal != "") printf " (goal qps >= %.2fx: %s)", qgoal, met(gq + 0 > 0 && sprintf("%.2f", mq / gq) + 0 >= qgoal + 0)
      printf "\n" }'
}
ratio meridian gdnsd
ratio gdnsd echo      # -F: each as a fraction of the floor
ratio meridian echo
ratio meridian+crrl meridian 1.10
ratio meridian+crrl gdnsd
ratio meridian+dnssec meridian 2.00
ratio meridian+dnssec pdns+dnssec "" 5.00
ratio meridian+dnssec pdns+dnssec-rt2     # the variants: for information, the goal is against the reference
ratio meridian+dnssec pdns+dnssec-shared
if [[ -s "$TMP/crosscheck.bad" && "$(cat "$TMP/crosscheck.bad")" != 0 ]]; then
  log "WARNING: the servers answered $(cat "$TMP/crosscheck.bad") cross-checked subnets differently ($OUT/crosscheck.txt)"
fi
