#!/usr/bin/env bash
# Fine-tune the shipped baseline-msssim model on a lent GPU machine for a few minutes, as
# several concurrent runs (the step time is set by the 16 iterations' kernel launches, so
# runs side by side cost little), then export each run's weights (float32) and logs.
#
#   python scripts/pack_gpu_data.py && rm -rf .gpu/data/bsds500/val   # here: <= 64 MiB with the repo
#   cp -r .venv/lib/python3.11/site-packages/pytorch_msssim .gpu/site/ # not on the GPU image
#   bash scripts/gpu_finetune.sh OUTDIR                                # there (carry .gpu)
#
# Rounds (GPU_ROUND): 1, four 7-minute runs from the shipped weights; 2, its
# 2.2-minute continuation of the best (128x128 crops; GPU_INIT=.gpu/init.pt, a copy of
# round 1's p128-win7); 3, not yet run: longer runs on larger crops for the next session
# with a GPU (about 11 minutes fit its 15 minutes of device time: GPU_MINUTES=10).
# GPU_EXTRA is appended to every run's arguments (e.g. "--batch 2" for a dry run on a CPU).
# GPU_MINUTES (default 7) is each run's training time; the whole command takes about a
# minute more (data loading, export).
set -uo pipefail
OUT=${1:?usage: gpu_finetune.sh OUTDIR}
RUNS=${GPU_RUNS:-/tmp/gpuruns}
DATA=${GPU_DATA:-.gpu/data}
MIN=${GPU_MINUTES:-7}
PY=${PYTHON:-python3}
INIT=${GPU_INIT:-resources/models/baseline_msssim.pt}
export PYTHONPATH=".gpu/site:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
common=(--data "$DATA" --init "$INIT" --minutes "$MIN" --binarizer deterministic --loss l1+ms-ssim
        --warmup 100 --checkpoint-minutes 1.5 --threads 3 --no-progress)
# Memory (measured on the CPU, bf16 autocast): ~90 MB per 64x64 sample, ~370 MB per 128x128
# one, so these four need ~80 GB together: an H200, not an H100.
# name -> settings; minute decay points scale with MIN (fractions of it)
f() { awk -v m="$MIN" -v f="$1" 'BEGIN{printf "%.2f", m*f}'; }
declare -A SPEC
if [ "${GPU_ROUND:-1}" = 3 ]; then  # for the next lent GPU: longer, from the shipped weights, larger crops
SPEC=(
  [p128-b64]="--batch 64 --patch 128 --msssim-win 7 --lr 3e-5 --lr-decay-minutes $(f 0.5),$(f 0.75) --seed 41"
  [p128-b128]="--batch 128 --patch 128 --msssim-win 7 --lr 4e-5 --lr-decay-minutes $(f 0.5),$(f 0.75) --seed 42"
  [p176-win11]="--batch 48 --patch 176 --msssim-win 11 --lr 3e-5 --lr-decay-minutes $(f 0.5),$(f 0.75) --seed 43"
)
elif [ "${GPU_ROUND:-1}" = 2 ]; then  # round 2: larger patches helped most in round 1
SPEC=(
  [p128-win7-r2]="--batch 64 --patch 128 --msssim-win 7 --lr 2e-5 --lr-decay-minutes $(f 0.5),$(f 0.75) --seed 31"
  [p176-win11]="--batch 32 --patch 176 --msssim-win 11 --lr 2e-5 --lr-decay-minutes $(f 0.5),$(f 0.75) --seed 32"
)
else
SPEC=(
  [b256-lr3e-5]="--batch 256 --patch 64 --lr 3e-5 --lr-decay-minutes $(f 0.5),$(f 0.71),$(f 0.86) --seed 21"
  [b256-lr1e-5]="--batch 256 --patch 64 --lr 1e-5 --lr-decay-minutes $(f 0.75) --seed 22"
  [b128-lr2e-5]="--batch 128 --patch 64 --lr 2e-5 --lr-decay-minutes $(f 0.5),$(f 0.75) --seed 23"
  [p128-win7]="--batch 64 --patch 128 --msssim-win 7 --lr 3e-5 --lr-decay-minutes $(f 0.5),$(f 0.71),$(f 0.86) --seed 24"
)
fi
mkdir -p "$RUNS" "$OUT"
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
for name in "${!SPEC[@]}"; do
  # shellcheck disable=SC2086
  "$PY" -m codec.cli train --out "$RUNS/$name" "${common[@]}" ${SPEC[$name]} ${GPU_EXTRA:-} > "$RUNS/$name.out" 2>&1 < /dev/null &
done
sleep 60
for name in "${!SPEC[@]}"; do echo "== $name"; head -c 300 "$RUNS/$name.out"; tail -n 1 "$RUNS/$name/log.csv" 2>/dev/null | cut -d, -f1-5; done
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
wait
for name in "${!SPEC[@]}"; do
  echo "== $name"; tail -c 600 "$RUNS/$name.out"; tail -n 1 "$RUNS/$name/log.csv" | cut -d, -f1-5,21
  [ -f "$RUNS/$name/last.pt" ] && "$PY" -m codec.cli export-model "$RUNS/$name/last.pt" "$OUT/$name.pt" \
    --fp32 --force --name "$name" || echo "no checkpoint for $name"
done
tar -czf "$OUT/logs.tar.gz" -C "$RUNS" --exclude='*.pt' --exclude='*.tmp' .
ls -la "$OUT"
