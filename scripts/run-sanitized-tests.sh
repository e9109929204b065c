#!/usr/bin/env bash
# The unit tests, the gateway suite and the adversarial suite (tests/gateway, tests/security)
# once more, against a CELLBOX_SANITIZE build (`make san-build`: build-san): the gateway binary
# `cellbox` and the unit tests run under AddressSanitizer with leak detection and
# UndefinedBehaviorSanitizer; the kernels and the sandbox launcher they start are a plain
# build's (CELLBOX_HELPERS_DIR).
# A finding aborts the process that made it. Reports go to files (log_path), also those of
# gateways that tests start in the background with their stderr in a log: any report file
# fails the run, and is printed.
# Usage: scripts/run-sanitized-tests.sh BUILD_DIR
set -euo pipefail
build=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
reports=$build/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
# Tests that judge the gateway by its resident memory skip themselves under this flag.
export CELLBOX_SANITIZED=1

status=0
echo "sanitized: unit tests"
(cd "$build/tests/unit" && "$build/bin/cellbox-unit-tests") >"$build/sanitized-unit.log" 2>&1 ||
  { tail -40 "$build/sanitized-unit.log"; status=1; }
# The gateway suite, and the adversarial suite: hostile input is where memory errors hide.
# Attacks made by code in a cell on the sandbox's storage and secrets exercise the kernel and
# the launcher (plain builds here), not the gateway's memory: the plain run has them, and
# leaving them out here keeps `make test` within its time (CELLBOX_SANITIZE_ALL=1 runs them).
in_cell_only=(test_secrets.py test_disk_quota.py test_tmpfs_sizing.py test_work_links.py)
for suite in gateway security; do
  echo "sanitized: tests/$suite"
  ignored=()
  if [ "$suite" = security ] && [ -z "${CELLBOX_SANITIZE_ALL:-}" ]; then
    for file in "${in_cell_only[@]}"; do ignored+=(--ignore="$file"); done
  fi
  (cd "$root/tests/$suite" &&
     CELLBOX_BUILD_DIR=$build JUPYTER_PATH=$build/share/jupyter PYTHONDONTWRITEBYTECODE=1 \
     PYTHONPATH=$root/tests/pytest_plugins /usr/bin/python3 -m pytest -q -p no:cacheprovider \
     -p cellbox_temp_dirs "${ignored[@]}" .) || status=1
done
if compgen -G "$reports/*" >/dev/null; then
  for report in "$reports"/*; do
    echo "=== $report"
    cat "$report"
  done
  echo "sanitizers reported findings (above)" >&2
  status=1
fi
[ $status -eq 0 ] && echo "sanitized: unit tests, tests/gateway and tests/security clean"
exit $status
