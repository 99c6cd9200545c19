#!/usr/bin/env bash
# Peak memory (maximum resident set size) of `rollsim run` and `rollsim sweep` against the
# replication count, on benches/memory.yaml. Not part of the tests: run it by hand.
#
#   benches/peak_memory.sh [COUNTS...]          (default: 1000 10000)
#   ROLLSIM=path/to/rollsim benches/peak_memory.sh 1000 10000 30000
#
# Builds the release binary unless ROLLSIM names one. Needs GNU time (/usr/bin/time -v).
# Prints one line per command and count: the max RSS in MB and the wall time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
scenario="$here/memory.yaml"
if [[ -z "${ROLLSIM:-}" ]]; then
    cargo build --release --quiet --manifest-path "$here/../Cargo.toml"
    target="${CARGO_TARGET_DIR:-$here/../target}"
    ROLLSIM="$target/release/rollsim"
fi
if [[ ! -x /usr/bin/time ]]; then
    echo "peak_memory.sh: needs GNU time at /usr/bin/time (apt-get install time)" >&2
    exit 2
fi
counts=("$@")
[[ ${#counts[@]} -gt 0 ]] || counts=(1000 10000)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Runs "$@" under GNU time and prints its max RSS (MB) and wall time (s).
measure() {
    local label="$1" n="$2"
    shift 2
    /usr/bin/time -f '%M %e' -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || {
        cat "$work/stderr" >&2
        exit 1
    }
    read -r kb seconds <"$work/time"
    awk -v l="$label" -v n="$n" -v kb="$kb" -v s="$seconds" \
        'BEGIN { printf "%-6s %7d replications  max RSS %6.1f MB  %7.1f s\n", l, n, kb / 1024, s }'
}

echo "rollsim: $("$ROLLSIM" --version)"
for n in "${counts[@]}"; do
    measure run "$n" "$ROLLSIM" run "$scenario" -n "$n" --quiet --out "$work/run-$n"
done
for n in "${counts[@]}"; do
    measure sweep "$n" "$ROLLSIM" sweep "$scenario" -n "$n" --grid spec.traffic.rps=50,100 --out "$work/sweep-$n"
done
