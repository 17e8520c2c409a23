#!/usr/bin/env bash
# Create or update the project's virtual environment, idempotently.
#
# torch/torchvision are pinned (override TORCH_SPEC for another build, e.g. a
# different CUDA), and mmcv is compiled with its ops against that exact torch
# (no published wheel matches it). The built wheel is cached outside the repo,
# keyed by mmcv, torch and Python versions and the build kind, and reused by
# later set-ups.
#
# MMCV_BUILD=cpu (the default) compiles mmcv's ops for the CPU only, also on
# a GPU host: DeepLab-V3 and the classifiers need `mmcv.ops` importable, not
# its CUDA kernels, and a CUDA build needs an nvcc matching torch's CUDA and
# compiles every kernel (hours). MMCV_BUILD=cuda builds them (FORCE_CUDA=1).
# An installed mmcv of the other kind is replaced (a CPU build reports its
# compiling CUDA version as 'not available').
set -euo pipefail

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
MMCV_VERSION=${MMCV_VERSION:-2.1.0}
CACHE_DIR=${CORETUNE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/coretune_mm}
MAX_JOBS=${MAX_JOBS:-$(nproc)}
MMCV_BUILD=${MMCV_BUILD:-cpu}
case "$MMCV_BUILD" in
  cpu) build_env=(CUDA_VISIBLE_DEVICES= FORCE_CUDA=0) ;;
  cuda) build_env=(FORCE_CUDA=1) ;;
  *) echo "MMCV_BUILD must be cpu or cuda, got '$MMCV_BUILD'" >&2; exit 2 ;;
esac

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
py="$VENV/bin/python"
pip() { "$py" -m pip --disable-pip-version-check "$@"; }

# shellcheck disable=SC2086
pip install -q $TORCH_SPEC "numpy<2"
pip install -q "mmengine==0.10.7" "mmpretrain==1.2.0" "mmsegmentation==1.2.2" \
  ftfy regex

if ! "$py" -c "import mmcv, mmcv.ops; from mmcv.ops import get_compiling_cuda_version as cuda; assert mmcv.__version__ == '$MMCV_VERSION'; assert (cuda() == 'not available') == ('$MMCV_BUILD' == 'cpu')" 2>/dev/null; then
  key=$("$py" -c "import sys, torch; print(f'mmcv-$MMCV_VERSION-torch{torch.__version__}-cp{sys.version_info[0]}{sys.version_info[1]}-$MMCV_BUILD')")
  wheel_dir="$CACHE_DIR/wheels/$key"
  if ! ls "$wheel_dir"/mmcv-*.whl >/dev/null 2>&1; then
    echo "Building $key with $MMCV_BUILD ops (CPU: about 30 minutes on 2 cores; cached in $wheel_dir)"
    build_dir=$(mktemp -d)
    # Built without isolation so it compiles against the torch installed above.
    pip install -q "setuptools<70" wheel ninja
    pip download -q --no-deps --no-binary :all: --no-build-isolation \
      -d "$build_dir" "mmcv==$MMCV_VERSION"
    tar -xzf "$build_dir/mmcv-$MMCV_VERSION.tar.gz" -C "$build_dir"
    # torch >= 2.10 headers need C++20.
    sed -i "s/'-std=c++17'/'-std=c++20'/g" "$build_dir/mmcv-$MMCV_VERSION/setup.py"
    mkdir -p "$wheel_dir.tmp"
    env "${build_env[@]}" MMCV_WITH_OPS=1 MAX_JOBS="$MAX_JOBS" PATH="$VENV/bin:$PATH" \
      "$py" -m pip --disable-pip-version-check wheel -q --no-deps \
      --no-build-isolation -w "$wheel_dir.tmp" "$build_dir/mmcv-$MMCV_VERSION"
    rm -rf "$wheel_dir" && mv "$wheel_dir.tmp" "$wheel_dir"
    rm -rf "$build_dir"
  fi
  pip install -q --force-reinstall --no-deps "$wheel_dir"/mmcv-*.whl
fi

pip install -q -e ".[tests,demo]"
"$py" -c "import mmseg.models, mmpretrain.models, coretune_mm" \
  && echo "Environment ready: $VENV"
