#!/usr/bin/env bash
# fuzz.sh: run every Go fuzz target of the module (each func Fuzz* in a _test.go file, found by
# `go test -list`) for FUZZTIME each (default 60s), one after the other, and print a line per
# target: its package, executions and corpus size. FUZZ_PARALLEL caps the fuzzing workers
# (default: GOMAXPROCS). A crasher fails the target; go test writes it under the package's
# testdata/fuzz/ so that it becomes a seed. Exits 1 when any target failed.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-60s}
par=()
[[ -n ${FUZZ_PARALLEL:-} ]] && par=(-parallel "$FUZZ_PARALLEL")
summary=()
failed=0
for pkg in $($GO list ./...); do
  for fn in $($GO test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz'); do
    echo "== $fn ($pkg) for $FUZZTIME"
    log=$(mktemp)
    if $GO test "$pkg" -run '^$' -fuzz "^$fn\$" -fuzztime "$FUZZTIME" -timeout 0 "${par[@]}" 2>&1 | tee "$log"; then
      result=ok
    else
      result=FAILED
      failed=1
    fi
    last=$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -n 1)
    execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
    corpus=$(sed -nE 's/.*\(total: ([0-9]+)\).*/\1/p' <<<"$last")
    summary+=("$(printf '%-7s %-24s %-48s execs %-12s corpus %s' "$result" "$fn" "${pkg#github.com/meridian-gslb/meridian/}" "${execs:-?}" "${corpus:-?}")")
    rm -f "$log"
  done
done
echo
echo "fuzz summary (FUZZTIME=$FUZZTIME each):"
printf '%s\n' "${summary[@]}"
exit $failed
