#!/usr/bin/env bash
# The test files whose numbers come from the matrix products of the cpu and wasm backends
# (OpenBLAS where it loads, lib/backend/blas.ts): those that start a backend themselves, and the
# command-line tests, whose `mopeft` child processes do. CI runs them a second time under another
# OpenBLAS kernel family and without kernel threads (.ci/run), since OpenBLAS's last bits differ
# by kernel and by product shape and no test may depend on them.
#
#   scripts/blas_tests.sh                 # run them (deno test -A --parallel)
#   scripts/blas_tests.sh --list          # print the files, one a line
#   scripts/blas_tests.sh --filter cache  # other arguments go to deno test
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(
  {
    grep -rlE --include='*_test.ts' 'onBackend|useBackend|availableBackends|lib/backend/blas' tests
    ls tests/cli/*_test.ts
  } | sort -u
)
if [ "${1:-}" = "--list" ]; then
  printf '%s\n' "${files[@]}"
  exit 0
fi
exec deno test -A --parallel "$@" "${files[@]}"
