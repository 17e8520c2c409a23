#!/usr/bin/env bash
# The device check on one GPU, also on a bare machine (its own Python and
# torch, no host libraries, no network): precisions, resume, full-size
# overhead pairs and the contrast's scaling
# (tools/analysis_tools/device_check.py), one JSON and a printed summary.
#
#   bash tools/gpu_check.sh pack   # here, with network: fill .device/ (~6 MiB)
#   bash tools/gpu_check.sh        # there, with .device/ beside the code
#
# `pack` downloads the pure-Python wheels of the host libraries (the versions
# of this project's environment) and mmcv's source for the GPU machine's
# Python (PY_VERSION, default 3.12). The run installs them into a folder of
# their own (SITE, default work_dirs/device_site) unless the machine's Python
# already imports them, builds mmcv's CPU ops there against the machine's
# torch (the classifiers and DeepLab-V3 need `mmcv.ops` importable, not its
# CUDA kernels; 16 cores take a few minutes), says how long that took and
# runs the check. Results go to ${OUT:-work_dirs/device_check}/device_check.json.
#
# Arguments go to tools/analysis_tools/device_check.py. Where one call has too
# little time for the install and all four parts, split them: the second call
# finds SITE complete (for the same Python, torch and pack) and starts at
# once (on the same machine), e.g.
#
#   bash tools/gpu_check.sh --parts precision resume --out work_dirs/device_check/first.json
#   bash tools/gpu_check.sh --parts overhead scaling --out work_dirs/device_check/second.json
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=${PACK:-.device}
MMCV_VERSION=${MMCV_VERSION:-2.1.0}
WHEELS=(mmengine==0.10.7 mmpretrain==1.2.0 mmsegmentation==1.2.2 addict
  yapf platformdirs termcolor mat4py modelindex model-index ordered-set
  importlib-metadata ftfy wcwidth prettytable "setuptools<70")

if [ "${1:-}" = pack ]; then
  PY=${PY:-.venv/bin/python}
  PY_VERSION=${PY_VERSION:-3.12}
  rm -rf "$PACK.tmp" && mkdir -p "$PACK.tmp"
  # the exact versions this project is tested with, where it has them
  pins=()
  for spec in "${WHEELS[@]}"; do
    name=${spec%%[=<>]*}
    have=$("$PY" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')
    if [[ "$spec" == *[=\<\>]* || -z "$have" ]]; then pins+=("$spec"); else pins+=("$name==$have"); fi
  done
  "$PY" -m pip download -q --no-deps --only-binary=:all: -d "$PACK.tmp" \
    --python-version "$PY_VERSION" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 "${pins[@]}"
  "$PY" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
    -d "$PACK.tmp" "mmcv==$MMCV_VERSION"
  rm -rf "$PACK" && mv "$PACK.tmp" "$PACK"
  grep -qxF "/$PACK/" .git/info/exclude 2>/dev/null || echo "/$PACK/" >> .git/info/exclude
  du -sh "$PACK"
  echo "carry $PACK with the code and run: bash tools/gpu_check.sh"
  exit 0
fi

PY=${PY:-python3}
OUT=${OUT:-work_dirs/device_check}
SITE=${SITE:-work_dirs/device_site}
case "$SITE" in /*) ;; *) SITE=$PWD/$SITE ;; esac
mkdir -p "$OUT"
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0), torch.__version__)"

start=$(date +%s)
# what an install in SITE is made for: this Python and torch, this pack
made_for=$("$PY" -c "import sys, torch; print(sys.version.split()[0], torch.__version__)"; ls "$PACK" 2>/dev/null || true)
# an earlier call's complete install for the same is used as it is
if [ -f "$SITE/.complete" ] && [ "$(cat "$SITE/.complete")" = "$made_for" ]; then
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! "$PY" -c "import mmcv.ops, mmengine, mmpretrain, mmseg" 2>/dev/null; then
  [ -d "$PACK" ] || { echo "the host libraries are missing and $PACK/ is not here: run 'bash tools/gpu_check.sh pack' where there is network and carry $PACK" >&2; exit 2; }
  # an install of ours made for something else is replaced whole
  if [ -f "$SITE/.complete" ]; then rm -rf "$SITE"; fi
  mkdir -p "$SITE"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target "$SITE" "$PACK"/*.whl
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
  build=$(mktemp -d)
  trap 'rm -rf "$build"' EXIT
  tar -xzf "$PACK/mmcv-$MMCV_VERSION.tar.gz" -C "$build"
  # torch >= 2.10 headers need C++20
  sed -i "s/'-std=c++17'/'-std=c++20'/g" "$build/mmcv-$MMCV_VERSION/setup.py"
  (cd "$build/mmcv-$MMCV_VERSION" && CUDA_VISIBLE_DEVICES= FORCE_CUDA=0 \
    MMCV_WITH_OPS=1 MAX_JOBS=$(nproc) "$PY" -m pip install -q --no-deps \
    --no-index --no-build-isolation --no-compile --upgrade --target "$SITE" .)
  "$PY" -c "import mmcv.ops, mmengine, mmpretrain, mmseg"
  printf '%s\n' "$made_for" > "$SITE/.complete"
fi
export CORETUNE_INSTALL_SECONDS=$(( $(date +%s) - start ))
echo "host libraries ready in ${CORETUNE_INSTALL_SECONDS} s"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# what is left of BUDGET (seconds for the whole command, default 540: a
# 10-minute device call with room to copy the results back)
left=$(( ${BUDGET:-540} - CORETUNE_INSTALL_SECONDS ))
"$PY" tools/analysis_tools/device_check.py --out "$OUT/device_check.json" \
  --budget "$left" "$@"
