#!/usr/bin/env bash
# OpenBLAS kernel families for the second test pass (.ci/run).
#
#   scripts/openblas_family.sh          # the family OpenBLAS runs here (OPENBLAS_CORETYPE or its
#                                       # own choice), as openblas_get_corename() names it
#   scripts/openblas_family.sh --other  # another family, of a lower instruction set than that
#                                       # one, that this CPU runs (from /proc/cpuinfo's flags)
#
# Prints nothing (exit 0) where OpenBLAS does not load or no other family fits. The other family is
# always a lower one (AVX-512 -> Haswell -> Sandybridge -> Nehalem), never a higher one: a machine
# that sets OPENBLAS_CORETYPE may need it (e.g. AVX-512 hidden from, or slow on, its guests).
set -euo pipefail

current=$(deno eval '
  try {
    const lib = Deno.dlopen("libopenblas.so.0", {
      openblas_get_corename: { parameters: [], result: "pointer" },
    });
    const name = lib.symbols.openblas_get_corename();
    if (name) console.log(Deno.UnsafePointerView.getCString(name));
  } catch {
    // No OpenBLAS here.
  }' 2>/dev/null || true)
if [ "${1:-}" != "--other" ]; then
  [ -z "$current" ] || echo "$current"
  exit 0
fi
[ -n "$current" ] || exit 0

flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
has() {
  for flag in "$@"; do
    case "$flags" in *" $flag "*) ;; *) return 1 ;; esac
  done
}
# Families by the instruction set of their single-precision kernels, highest first.
case "$(echo "$current" | tr '[:upper:]' '[:lower:]')" in
  skylakex | cooperlake | sapphirerapids) level=3 ;;
  haswell | zen | skylake) level=2 ;;
  sandybridge) level=1 ;;
  *) level=0 ;;
esac
if [ "$level" -ge 3 ] && has avx2 fma; then
  echo Haswell
elif [ "$level" -ge 2 ] && has avx; then
  echo Sandybridge
elif [ "$level" -ge 1 ] && has ssse3 sse4_2; then
  echo Nehalem
fi
