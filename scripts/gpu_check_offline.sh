#!/usr/bin/env bash
# Runs scripts/gpu_check.sh (tiny size) from the bundle alone, as the GPU machine will: in a copy
# of the tracked files plus .gpu_check/, in a network namespace with only a loopback interface,
# with this machine's deno, its npm folder and its Deno cache hidden by mounts, under env -i.
# Needs root (unshare -n -m). Extra VAR=value arguments reach gpu_check.sh, e.g.
#
#   scripts/gpu_check_offline.sh OUT_DIR [GPU_CHECK_BUNDLED_LOADER=1] [DENO_WEBGPU_BACKEND=vulkan]
#
# The JSON lands in OUT_DIR/gpu_check.json. Exit code: gpu_check.sh's.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: scripts/gpu_check_offline.sh OUT_DIR [VAR=value ...]" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
shift
[ -f "$repo/.gpu_check/MANIFEST.sha256" ] || { echo "no bundle: run scripts/pack_gpu_check.sh" >&2; exit 1; }
copy=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check_offline.XXXXXX")
trap 'rm -rf "$copy"' EXIT
(cd "$repo" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$copy")
cp -a "$repo/.gpu_check" "$copy/"

hide=""
deno_path=$(command -v deno || true)
[ -n "$deno_path" ] && hide="$hide mount --bind /dev/null $deno_path;"
npm_root=$(npm root -g 2>/dev/null || true)
[ -d "$npm_root" ] && hide="$hide mount -t tmpfs none $npm_root;"
deno_dir=${DENO_DIR:-$HOME/.cache/deno}
[ -d "$deno_dir" ] && hide="$hide mount -t tmpfs none $deno_dir;"

unshare -n -m bash -c "$hide"'
  set -u
  echo "gpu_check_offline: deno on PATH: $(command -v deno || echo none); network interfaces:" \
    "$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\n" " ")" >&2
  cd "$0" && exec env -i HOME=/tmp PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    GPU_CHECK_SIZE=tiny OUT="$1" "${@:2}" bash scripts/gpu_check.sh' "$copy" "$out" "$@"
