#!/usr/bin/env bash
# Full-size overhead benchmarks and the scaling table on one GPU, in about
# 5 minutes; JSON files go to ${OUT:-gpu_check}/.
#   bash tools/gpu_check.sh            # needs `make env` (or .venv) first
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-gpu_check}
mkdir -p "$OUT"
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no GPU'; print(torch.cuda.get_device_name(0))" | tee "$OUT/device.txt"

"$PY" tools/benchmark.py pair \
  configs/resnet50_mocov2-pre_ce_1xb64-accum4-coslr-100e_cifar10.py \
  configs/resnet50_mocov2-pre_coretune_1xb64-accum4-coslr-100e_cifar10.py \
  --device cuda --batch 64 --size 224 --steps 20 --warmup 5 \
  --json "$OUT/cls_resnet50_224px_b64.json"

"$PY" tools/benchmark.py pair \
  configs/deeplabv3_r50_ce_voc.py configs/deeplabv3_r50_coretune_voc.py \
  --device cuda --batch 4 --size 512 --steps 20 --warmup 5 \
  --json "$OUT/seg_deeplabv3_r50_512px_b4.json"

"$PY" tools/benchmark.py scaling --device cuda \
  --sizes 256 512 1024 2048 4096 8192 --naive-max 2048 \
  --json "$OUT/scaling.json"
echo "results in $OUT/"
