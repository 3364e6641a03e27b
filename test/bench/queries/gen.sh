#!/usr/bin/env bash
# gen.sh - regenerates the dnsperf query files next to it (deterministic; run from anywhere).
#   static-a.txt      1000 x "static.example.test A" (the ../shared/bench static mix)
#   mixed-static.txt  1000 lines in blocks of 20: 16 static A (80%), 2 example.test SOA (10%),
#                     1 static AAAA (5%, NODATA), 1 nxNNN.example.test A (5%, NXDOMAIN; NNN = line-1)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
for ((i = 0; i < 1000; i++)); do echo "static.example.test A"; done > static-a.txt
for ((i = 0; i < 1000; i++)); do
  case $((i % 20)) in
    16 | 17) echo "example.test SOA";;
    18) echo "static.example.test AAAA";;
    19) printf 'nx%03d.example.test A\n' "$i";;
    *) echo "static.example.test A";;
  esac
done > mixed-static.txt
