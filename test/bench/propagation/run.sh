#!/usr/bin/env bash
# run.sh - the propagation benchmark (test/bench/propagation/main.go) on a meridian binary.
#
# Usage: bash test/bench/propagation/run.sh [-b MERIDIAN_BINARY] [BENCHMARK FLAGS...]
#   -b  the binary to measure (default: go build ./cmd/meridian into a temp directory)
#   the rest goes to the benchmark: [-n 200] [-idle 30s] [-gap 1s] [-o OUTDIR]
# Examples:
#   bash test/bench/propagation/run.sh -b /tmp/meridian-before -o /tmp/prop-before
#   bash test/bench/propagation/run.sh -n 50 -idle 0        # quick, on the working tree's binary
set -euo pipefail
cd "$(dirname "$0")/../../.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bin="$tmp/meridian"
if [[ "${1:-}" == "-b" ]]; then
	bin="$(realpath "$2")"
	shift 2
else
	go build -o "$bin" ./cmd/meridian
fi
go build -o "$tmp/propagation" ./test/bench/propagation
"$tmp/propagation" -bin "$bin" "$@"
