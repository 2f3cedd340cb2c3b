#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU that reaches no package registry.
#
# Everything it needs comes in the bundle that scripts/pack_gpu_check.sh builds (.gpu_check/,
# ignored by git, at most 60 MiB): Deno (xz), the npm files the CLI loads (node_modules, pruned),
# the Vulkan loader packages (libvulkan1, libegl1, libglvnd0 for amd64) and the official SAM
# code for the PyTorch comparison. This script checks the bundle against its manifest, unpacks it
# into a temporary folder (node_modules into the checkout when it has none), makes the NVIDIA
# driver visible to the Vulkan loader, then runs scripts/gpu_check.ts: the parity goldens and
# the fused attention kernels on webgpu, `mopeft bench` on webgpu (vit_b, 1024 px, batch 1 and
# 4; decoder, lora, mopeft) with PyTorch on the GPU, all in one JSON.
#
#   scripts/gpu_check.sh                      # the full check, about 10 minutes on an H200
#   GPU_CHECK_SIZE=tiny scripts/gpu_check.sh  # a tiny SAM-shaped model at 128 px (llvmpipe)
#
# Environment: GPU_CHECK_SIZE (full|tiny), GPU_CHECK_OUT (the JSON; default $OUT/gpu_check.json
# where OUT is set, else ./gpu_check.json), GPU_CHECK_BUDGET_S (seconds for the steps; default
# 540 full, 1800 tiny), GPU_CHECK_BUNDLE (default .gpu_check), GPU_CHECK_PYTHON (default: the
# first python3 on PATH that imports torch), GPU_CHECK_TORCH_DEVICE (cuda|cpu; default cuda where
# that torch sees one), GPU_CHECK_DENO (a deno to use instead of the bundle's),
# GPU_CHECK_BUNDLED_LOADER=1 (use the bundle's Vulkan loader even where the system has one),
# GPU_CHECK_ICD (a Vulkan ICD file to use as the driver), GPU_CHECK_SETUP_ONLY=1 (print what the
# set-up found, as key<TAB>value lines, and run no step).
#
# Exit code: 0 when every step passed, 1 otherwise; the JSON is written either way (when Deno
# itself cannot start, a short one that says why).
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bundle=${GPU_CHECK_BUNDLE:-$repo/.gpu_check}
size=${GPU_CHECK_SIZE:-full}
if [ -n "${GPU_CHECK_OUT:-}" ]; then
  out=$GPU_CHECK_OUT
elif [ -n "${OUT:-}" ]; then
  out=$OUT/gpu_check.json
else
  out=$PWD/gpu_check.json
fi
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
facts=$work/facts.tsv
: >"$facts"
t0=$(date +%s)

say() { echo "gpu_check: $*" >&2; }
fact() { printf '%s\t%s\n' "$1" "$2" >>"$facts"; }
json_string() {
  printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr '\n\t' '  ')"
}
# When Deno cannot run, nothing else can write the JSON: say why in a few fields.
give_up() {
  say "$1"
  {
    printf '{"check": "mopeft scripts/gpu_check.sh", "size": %s, "passed": false, ' "$(json_string "$size")"
    printf '"error": %s, "bootstrap": {' "$(json_string "$1")"
    sep=""
    while IFS=$'\t' read -r key value; do
      printf '%s%s: %s' "$sep" "$(json_string "$key")" "$(json_string "$value")"
      sep=", "
    done <"$facts"
    printf '}}\n'
  } >"$out.tmp" && mv "$out.tmp" "$out"
  exit 1
}

# --- the bundle -----------------------------------------------------------------------------
if [ -f "$bundle/MANIFEST.sha256" ]; then
  if (cd "$bundle" && sha256sum --quiet -c MANIFEST.sha256) >&2; then
    fact bundle "$bundle (manifest checked)"
  else
    give_up "the bundle in $bundle does not match its MANIFEST.sha256 (run scripts/pack_gpu_check.sh again)"
  fi
  [ -f "$bundle/bundle.txt" ] && while IFS=$'\t' read -r key value; do
    fact "bundle.$key" "$value"
  done <"$bundle/bundle.txt"
elif [ -z "${GPU_CHECK_DENO:-}" ] || [ ! -d "$repo/node_modules" ]; then
  give_up "no bundle at $bundle (build it with scripts/pack_gpu_check.sh and carry it)"
fi

unxz_to() { # unxz_to FILE.xz DEST: xz where it exists, else Python's lzma
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$1" >"$2"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}

mkdir -p "$work/bin"
if [ -n "${GPU_CHECK_DENO:-}" ]; then
  deno_bin=$GPU_CHECK_DENO
  fact deno "$deno_bin (GPU_CHECK_DENO)"
else
  unxz_to "$bundle/deno.xz" "$work/bin/deno" || give_up "could not unpack $bundle/deno.xz"
  chmod +x "$work/bin/deno"
  deno_bin=$work/bin/deno
  fact deno "bundle"
fi
"$deno_bin" --version >/dev/null 2>&1 || give_up "$deno_bin does not run here: $("$deno_bin" --version 2>&1 | head -n 1)"
export PATH=$(dirname "$deno_bin"):$PATH

if [ -d "$repo/node_modules" ]; then
  fact node_modules "the checkout's own"
else
  tar -xJf "$bundle/node_modules.tar.xz" -C "$repo" || give_up "could not unpack node_modules.tar.xz"
  fact node_modules "bundle"
fi

sam_repo=""
if [ -f "$bundle/segment_anything.tar.xz" ]; then
  mkdir -p "$work/segment-anything"
  tar -xJf "$bundle/segment_anything.tar.xz" -C "$work/segment-anything" && sam_repo=$work/segment-anything
fi
fact samRepo "${sam_repo:-none in the bundle}"

# A fresh Deno cache: the check must work from the bundle alone (every deno call has --cached-only).
export DENO_DIR=$work/deno_dir
fact DENO_DIR "$DENO_DIR (fresh)"

# --- Vulkan: the loader and the NVIDIA driver's ICD file -------------------------------------
for dir in /usr/local/nvidia/bin; do [ -d "$dir" ] && export PATH=$PATH:$dir; done
if [ "${GPU_CHECK_BUNDLED_LOADER:-0}" != "1" ] && ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
  fact vulkanLoader "the system's ($(ldconfig -p | grep -m1 'libvulkan\.so\.1 ' | sed 's/.*=> //'))"
else
  mkdir -p "$work/gl"
  for deb in "$bundle"/debs/*.deb; do
    [ -f "$deb" ] || continue
    if command -v dpkg-deb >/dev/null 2>&1; then
      dpkg-deb -x "$deb" "$work/gl"
    else # ar and tar alone
      (cd "$work/gl" && ar p "$deb" "$(ar t "$deb" | grep '^data\.tar')" | tar -xJ)
    fi
  done
  libdir=$work/gl/usr/lib/x86_64-linux-gnu
  if [ -e "$libdir/libvulkan.so.1" ]; then
    export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    fact vulkanLoader "the bundle's ($(ls "$bundle"/debs/ | tr '\n' ' '))"
  else
    fact vulkanLoader "none: the system has no libvulkan.so.1 and the bundle has no loader packages"
  fi
fi

# The loader finds ICD files in these folders by itself (and XDG_CONFIG_DIRS, XDG_DATA_DIRS).
loader_dirs="/etc/vulkan/icd.d /usr/local/etc/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/share/vulkan/icd.d"
xdg_dirs="${XDG_CONFIG_DIRS:-} ${XDG_DATA_DIRS:-}"
for d in ${xdg_dirs//:/ }; do loader_dirs="$loader_dirs $d/vulkan/icd.d"; done
# Where NVIDIA's packages, the container toolkit and the GPU operator put it.
other_dirs="/usr/local/nvidia/share/vulkan/icd.d /usr/local/nvidia/etc/vulkan/icd.d /usr/local/nvidia/icd.d /run/nvidia/driver/usr/share/vulkan/icd.d /run/nvidia/driver/etc/vulkan/icd.d /usr/lib/x86_64-linux-gnu/nvidia"
nvidia_icd_in() {
  for d in "$@"; do
    for f in "$d"/*.json; do
      [ -f "$f" ] && grep -q 'nvidia' "$f" && { echo "$f"; return 0; }
    done
  done
  return 1
}
find_glx_nvidia() {
  ldconfig -p 2>/dev/null | grep -m1 'libGLX_nvidia\.so\.0 ' | sed 's/.*=> //' && return 0
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /run/nvidia/driver/usr/lib/x86_64-linux-gnu; do
    [ -e "$d/libGLX_nvidia.so.0" ] && { echo "$d/libGLX_nvidia.so.0"; return 0; }
  done
  return 1
}
if [ -n "${GPU_CHECK_ICD:-}" ]; then
  export VK_DRIVER_FILES=$GPU_CHECK_ICD VK_ICD_FILENAMES=$GPU_CHECK_ICD
  fact vulkanIcd "$GPU_CHECK_ICD (GPU_CHECK_ICD)"
elif [ -n "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  fact vulkanIcd "${VK_DRIVER_FILES:-$VK_ICD_FILENAMES} (set before the check)"
elif icd=$(nvidia_icd_in $loader_dirs); then
  fact vulkanIcd "$icd (where the loader looks)"
elif icd=$(nvidia_icd_in $other_dirs); then
  export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
  fact vulkanIcd "$icd (VK_DRIVER_FILES)"
elif glx=$(find_glx_nvidia); then
  # As NVIDIA's driver packages write it; the api_version is a floor the driver reports above.
  mkdir -p "$work/icd.d"
  icd=$work/icd.d/nvidia_icd.json
  printf '{"file_format_version": "1.0.1", "ICD": {"library_path": "%s", "api_version": "1.3.0"}}\n' "$glx" >"$icd"
  export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
  fact vulkanIcd "$icd (synthesised: none found; library_path $glx)"
else
  fact vulkanIcd "no NVIDIA ICD file and no libGLX_nvidia.so.0: the loader's own search"
fi
# The driver's libraries where ldconfig does not list them (the container toolkit's mount).
if [ -d /usr/local/nvidia/lib64 ] && ! ldconfig -p 2>/dev/null | grep -q 'libGLX_nvidia\.so\.0 '; then
  export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/nvidia/lib64
fi
for f in /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json; do
  if [ -f "$f" ] && [ ! -f /usr/share/glvnd/egl_vendor.d/10_nvidia.json ]; then
    export __EGL_VENDOR_LIBRARY_FILENAMES=$f
    fact eglVendor "$f"
  fi
done
fact LD_LIBRARY_PATH "${LD_LIBRARY_PATH:-}"

# --- PyTorch: the first python3 that imports it ----------------------------------------------
python=${GPU_CHECK_PYTHON:-}
if [ -z "$python" ]; then
  for p in $(type -ap python3) /opt/torch/.venv/bin/python3 /usr/bin/python3; do
    if "$p" -c 'import torch' >/dev/null 2>&1; then python=$p; break; fi
  done
fi
fact python "${python:-none imports torch}"
fact bootstrapSeconds "$(($(date +%s) - t0))"

if [ "${GPU_CHECK_SETUP_ONLY:-0}" = "1" ]; then # the set-up alone, to see what it found
  cat "$facts"
  rm -rf "$work"
  exit 0
fi

export GPU_CHECK_SIZE=$size GPU_CHECK_OUT=$out GPU_CHECK_FACTS=$facts
export GPU_CHECK_PYTHON=${python:-python3} GPU_CHECK_SAM_REPO=$sam_repo
cd "$repo" || exit 1
"$deno_bin" run --cached-only -A scripts/gpu_check.ts
status=$?
[ -f "$out" ] || give_up "scripts/gpu_check.ts ended (exit code $status) without writing $out"
rm -rf "$work"
exit $status
