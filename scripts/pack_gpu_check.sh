#!/usr/bin/env bash
# Builds the bundle that scripts/gpu_check.sh needs on a GPU machine that reaches no package
# registry, in .gpu_check/ (ignored by git; the device tool's `carry` takes it along):
#
#   deno.xz                   this machine's Deno (the one `npm i -g deno@2.9.6` installed), xz -9
#   node_modules.tar.xz       the npm files the CLI loads and nothing else: the regular files that
#                             scripts/gpu_check_files.txt lists, with node_modules' symlinks and
#                             Deno's install markers (.initialized, .deno/.setup-cache.bin)
#   debs/*.deb                libvulkan1, libegl1, libglvnd0 for amd64 (apt-get download)
#   segment_anything.tar.xz   the official SAM code (--sam-repo DIR or MOPEFT_SAM_REPO: a checkout
#                             or a git directory of facebookresearch/segment-anything), for the
#                             PyTorch comparison; left out, with a warning, when not given
#   bundle.txt                what is in it; MANIFEST.sha256: every file's checksum
#
#   scripts/pack_gpu_check.sh [--sam-repo DIR] [--trace]
#
# --trace first rewrites scripts/gpu_check_files.txt: it runs the tiny check with the whole
# node_modules under strace, from a fresh DENO_DIR with no network (unshare -n), and lists every
# node_modules file a process opened or looked at. The bundle must stay under 60 MiB; the script
# fails when it does not.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
bundle=${GPU_CHECK_BUNDLE:-$repo/.gpu_check}
list=$repo/scripts/gpu_check_files.txt
limit_mib=60
sam_repo=${MOPEFT_SAM_REPO:-}
trace=0
while [ $# -gt 0 ]; do
  case $1 in
    --sam-repo) sam_repo=$2; shift 2 ;;
    --trace) trace=1; shift ;;
    *) echo "usage: scripts/pack_gpu_check.sh [--sam-repo DIR] [--trace]" >&2; exit 2 ;;
  esac
done
say() { echo "pack_gpu_check: $*" >&2; }
die() { say "$*"; exit 1; }
[ -d "$repo/node_modules/.deno" ] || die "no node_modules/.deno in $repo (run deno install)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pack_gpu_check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$bundle"

# --- which npm files the CLI loads --------------------------------------------------------------
if [ "$trace" = 1 ]; then
  command -v strace >/dev/null || die "--trace needs strace"
  say "tracing the tiny check (a few minutes on a software adapter)"
  tree=$tmp/tree
  mkdir -p "$tree"
  (cd "$repo" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$tree")
  cp -a "$repo/node_modules" "$tree/node_modules"
  deno_path=$(command -v deno)
  # No bundle: gpu_check.sh uses this deno and the full node_modules; no official SAM code, so
  # bench skips PyTorch (which loads no npm file).
  if ! GPU_CHECK_DENO=$deno_path GPU_CHECK_SIZE=tiny GPU_CHECK_BUNDLE=$tmp/none \
    GPU_CHECK_OUT=$tmp/trace.json TMPDIR=$tmp unshare -n \
    strace -f -qq -e trace=%file -o "$tmp/strace.log" "$tree/scripts/gpu_check.sh"; then
    say "the traced check did not pass (see .gpu_check/trace_check.json); its list is kept anyway"
  fi
  cp "$tmp/trace.json" "$bundle/trace_check.json" 2>/dev/null || true
  grep -v '= -1 ' "$tmp/strace.log" | grep -o "\"$tree/node_modules/[^\"]*\"" | tr -d '"' |
    sort -u | while read -r path; do
      real=$(realpath -e "$path" 2>/dev/null) || continue
      [ -f "$real" ] || continue
      case $real in "$tree/node_modules/"*) echo "${real#"$tree/node_modules/"}" ;; esac
    done | grep -v -e '/\.initialized$' -e '^\.deno/\.' | sort -u >"$list"
  say "wrote $(wc -l <"$list") paths to scripts/gpu_check_files.txt"
fi
[ -f "$list" ] || die "no scripts/gpu_check_files.txt (run with --trace)"

# --- node_modules, pruned -----------------------------------------------------------------------
say "node_modules: the $(wc -l <"$list") listed files"
stage=$tmp/stage
mkdir -p "$stage"
(
  cd "$repo"
  while read -r path; do
    [ -f "node_modules/$path" ] || die "node_modules/$path is listed but missing (run with --trace)"
    echo "node_modules/$path"
  done <"$list"
  # Deno checks these before it trusts node_modules; the symlinks are the package layout.
  find node_modules -name .initialized -o -type l
  ls node_modules/.deno/.setup-cache.bin node_modules/.deno/.deno.lock 2>/dev/null || true
) | sort -u >"$tmp/files"
(cd "$repo" && xargs -d '\n' cp -a --parents -t "$stage" <"$tmp/files")
XZ_OPT=-9 tar -cJf "$bundle/node_modules.tar.xz" -C "$stage" node_modules
nm_bytes=$(du -sb --apparent-size "$stage/node_modules" | cut -f1)

# --- Deno ---------------------------------------------------------------------------------------
deno_src=""
npm_root=$(npm root -g 2>/dev/null || true)
[ -n "$npm_root" ] && [ -x "$npm_root/deno/deno" ] && deno_src=$npm_root/deno/deno
[ -n "$deno_src" ] || deno_src=$(realpath "$(command -v deno)")
deno_version=$("$deno_src" --version | head -n 1)
deno_sha=$(sha256sum "$deno_src" | cut -d' ' -f1)
if [ -f "$bundle/deno.xz" ] && [ "$(cat "$bundle/.deno.source" 2>/dev/null)" = "$deno_sha" ]; then
  say "deno: $deno_version, already compressed"
else
  say "deno: compressing $deno_src ($deno_version; about a minute and a half)"
  xz -9 -T1 -c "$deno_src" >"$bundle/deno.xz.tmp"
  mv "$bundle/deno.xz.tmp" "$bundle/deno.xz"
  echo "$deno_sha" >"$bundle/.deno.source"
fi

# --- the Vulkan loader packages -----------------------------------------------------------------
mkdir -p "$bundle/debs"
if ! ls "$bundle"/debs/libvulkan1_*_amd64.deb "$bundle"/debs/libegl1_*_amd64.deb \
  "$bundle"/debs/libglvnd0_*_amd64.deb >/dev/null 2>&1; then
  say "debs: apt-get download libvulkan1 libegl1 libglvnd0 (amd64)"
  lists=$tmp/apt-lists
  mkdir -p "$lists/partial"
  apt_arch=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists"
    -oAPT::Sandbox::User=root)
  apt-get "${apt_arch[@]}" update -qq >&2
  (cd "$bundle/debs" && apt-get "${apt_arch[@]}" download libvulkan1 libegl1 libglvnd0 >&2)
fi

# --- the official SAM code ----------------------------------------------------------------------
rm -f "$bundle/segment_anything.tar.xz"
sam_source="none"
if [ -n "$sam_repo" ] && [ -d "$sam_repo/segment_anything" ]; then
  XZ_OPT=-9 tar -cJf "$bundle/segment_anything.tar.xz" -C "$sam_repo" --exclude=__pycache__ \
    segment_anything $(cd "$sam_repo" && ls LICENSE 2>/dev/null)
  sam_source=$sam_repo
  commit=$(git -C "$sam_repo" rev-parse HEAD 2>/dev/null || true)
  [ -n "$commit" ] && sam_source="$sam_source at $commit"
elif [ -n "$sam_repo" ] && git -C "$sam_repo" cat-file -e HEAD:segment_anything 2>/dev/null; then
  # A git directory without a work tree (such as a mirror): take the files from its HEAD.
  mkdir -p "$tmp/sam"
  # (A partial mirror makes git name blobs it lacks elsewhere in the tree; what is needed is checked.)
  git -C "$sam_repo" archive HEAD segment_anything LICENSE 2>/dev/null | tar -x -C "$tmp/sam"
  [ -f "$tmp/sam/segment_anything/modeling/image_encoder.py" ] || die "no SAM code in $sam_repo"
  XZ_OPT=-9 tar -cJf "$bundle/segment_anything.tar.xz" -C "$tmp/sam" segment_anything LICENSE
  sam_source="$sam_repo at $(git -C "$sam_repo" rev-parse HEAD)"
else
  say "warning: no official SAM code (--sam-repo DIR or MOPEFT_SAM_REPO): the check will skip PyTorch"
fi

# --- what is in it, its checksums, its size -----------------------------------------------------
{
  printf 'packed\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf 'deno\t%s\n' "$deno_version"
  printf 'nodeModules\t%s files, %s bytes unpacked\n' "$(wc -l <"$tmp/files")" "$nm_bytes"
  printf 'debs\t%s\n' "$(cd "$bundle/debs" && ls | tr '\n' ' ')"
  printf 'segmentAnything\t%s\n' "$sam_source"
} >"$bundle/bundle.txt"
(cd "$bundle" && sha256sum deno.xz node_modules.tar.xz bundle.txt debs/*.deb \
  $(ls segment_anything.tar.xz 2>/dev/null) >MANIFEST.sha256)
total=$(cd "$bundle" && cut -c67- MANIFEST.sha256 | xargs du -cb --apparent-size | tail -n 1 | cut -f1)
say "$(cd "$bundle" && cut -c67- MANIFEST.sha256 | xargs du -h --apparent-size | tr '\n\t' '; ')"
say "bundle: $((total / 1024 / 1024)) MiB ($total bytes) in $bundle"
[ "$total" -le $((limit_mib * 1024 * 1024)) ] || die "the bundle is over $limit_mib MiB"
