#!/usr/bin/env bash
# `make test` after the plain build: every ctest suite, then the sanitized suites and the fuzz
# smoke run. The sanitizer build (the longest step) compiles at the lowest CPU priority while
# the plain suites run: they spend most of their time waiting on kernels, sandboxes and
# browsers, so the build takes the idle CPU and nice 19 keeps it out of their way.
# Usage: scripts/run-all-tests.sh BUILD_DIR SAN_DIR FUZZ_SECONDS
set -uo pipefail
build=$1
san=$2
fuzz_seconds=$3
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

started=$SECONDS
# Each phase's end, in seconds since `make test` began testing: where the budget goes.
phase() { echo "== $1 at $((SECONDS - started)) s"; }

san_log=$(mktemp /tmp/cellbox-san-build.XXXXXX.log)
setsid nice -n 19 make --no-print-directory san-build BUILD_DIR="$build" SAN_DIR="$san" >"$san_log" 2>&1 &
san_pid=$!
# A stopped `make test` stops the background build too (setsid: its own process group).
trap 'kill -- -$san_pid 2>/dev/null' INT TERM EXIT

if ! (cd "$build" && ctest --output-on-failure --timeout 600); then
  echo "ctest failed (above); the sanitizer build is stopped"
  exit 1 # the trap stops the background build
fi

phase "ctest suites done"
echo "waiting for the sanitizer build (log: $san_log) ..."
if ! wait "$san_pid"; then
  echo "the sanitizer build failed:"
  tail -60 "$san_log"
  exit 1
fi
rm -f "$san_log"
phase "sanitizer build done"

scripts/run-sanitized-tests.sh "$san" || exit 1
phase "sanitized suites done"
scripts/run-fuzzers.sh "$san" "$fuzz_seconds" || exit 1
phase "fuzzers done"
