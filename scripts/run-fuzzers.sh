#!/usr/bin/env bash
# Runs every libFuzzer target of a CELLBOX_SANITIZE build (`make san-build`: build-san/fuzz/*)
# for SECONDS each, starting from its committed seed corpus tests/fuzz/corpus/<target>/ (never
# written to). Crashing inputs are kept as BUILD/fuzz-crashes/<target>-crash-*; the run fails
# if any target finds one. With --keep, what a run discovers goes to BUILD/fuzz-corpus/<target>
# and the next run starts from there too (`make fuzz`); without, runs start from the seeds only
# (`make test`: the same inputs on every machine).
# Usage: scripts/run-fuzzers.sh BUILD_DIR SECONDS [--keep]
set -euo pipefail
build=$(realpath "$1")
seconds=$2
keep=${3:-}
seeds=$(cd "$(dirname "$0")/../tests/fuzz/corpus" && pwd)
mkdir -p "$build/fuzz-crashes" "$build/fuzz-logs"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# A finding stops the target with a stack trace; UBSan's are fatal (-fno-sanitize-recover).
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1

# Targets run side by side, one per CPU (FUZZ_JOBS), each single-threaded.
jobs=${FUZZ_JOBS:-$(nproc)}

targets=("$build"/fuzz/fuzz_*)
[ -x "${targets[0]}" ] || { echo "no fuzz targets in $build/fuzz (make san-build)" >&2; exit 1; }
for exe in "${targets[@]}"; do
  name=$(basename "$exe")
  [ -d "$seeds/$name" ] || { echo "fuzz $name: no seed corpus in $seeds/$name" >&2; exit 1; }
done

# One target; its report goes to $scratch/NAME.result, and NAME.failed marks a finding.
fuzz_one() {
  local exe=$1 name work log runs cov
  name=$(basename "$exe")
  work=$scratch/$name
  [ "$keep" = --keep ] && work=$build/fuzz-corpus/$name
  mkdir -p "$work"
  log=$build/fuzz-logs/$name.log
  if "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$build/fuzz-crashes/$name-" "$work" "$seeds/$name" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
    echo "fuzz $name: ${runs:-?} runs in ${seconds}s, ${cov:-cov: ?}, no finding" >"$scratch/$name.result"
  else
    { echo "fuzz $name: FINDING (log: $log; input: $build/fuzz-crashes/$name-*)"
      grep -E '^(==[0-9]+==|SUMMARY|property violated|.*runtime error)|^ +#[0-9]+ ' "$log" | head -40
    } >"$scratch/$name.result"
    touch "$scratch/$name.failed"
  fi
}

running=0
for exe in "${targets[@]}"; do
  fuzz_one "$exe" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

failed=()
for exe in "${targets[@]}"; do
  name=$(basename "$exe")
  cat "$scratch/$name.result"
  [ -e "$scratch/$name.failed" ] && failed+=("$name")
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
