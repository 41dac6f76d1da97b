#!/usr/bin/env bash
# Concurrent training runs on one GPU machine, for sessions that are lent one for a few
# minutes at a time: `start` launches each run as its own process session (so it outlives
# the command that started it), `status` shows their last log lines, `collect DIR` exports
# each run's weights (float16) and logs into DIR. Runs live in $GPU_RUNS (default
# /tmp/gpuruns); data in $GPU_DATA (default .gpu/data: `python scripts/pack_gpu_data.py`).
set -euo pipefail
RUNS=${GPU_RUNS:-/tmp/gpuruns}
DATA=${GPU_DATA:-.gpu/data}
MIN=${GPU_MINUTES:-21}
DECAY=${GPU_DECAY:-15,19}
PY=${PYTHON:-python3}
common=(--data "$DATA" --minutes "$MIN" --lr-decay-minutes "$DECAY" --checkpoint-minutes 2 --threads 3 --no-progress)
declare -A SPEC=(
  [prop-init64]="--init resources/models/default.pt --batch 64"
  [prop-init256]="--init resources/models/default.pt --batch 256"
  [prop-scratch64]="--batch 64"
  [base-scratch64]="--gate sigmoid --upsampler depth_to_space --gamma 1 --loss l1 --batch 64"
)
case "${1:-}" in
  start)
    mkdir -p "$RUNS"
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
    for name in "${!SPEC[@]}"; do
      # shellcheck disable=SC2086
      setsid nohup "$PY" -m codec.cli train --out "$RUNS/$name" "${common[@]}" ${SPEC[$name]} \
        > "$RUNS/$name.out" 2>&1 < /dev/null &
    done ;;
  status)
    for name in "${!SPEC[@]}"; do
      echo "== $name"; head -c 400 "$RUNS/$name.out"; echo
      tail -n 2 "$RUNS/$name/log.csv" 2>/dev/null | cut -d, -f1-6,21 || true
    done
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader ;;
  collect)
    out=${2:?collect needs a folder}
    for name in "${!SPEC[@]}"; do
      [ -f "$RUNS/$name/last.pt" ] && "$PY" -m codec.cli export-model "$RUNS/$name/last.pt" "$out/$name.pt" \
        --force --name "$name" || echo "no checkpoint for $name"
    done
    tar -czf "$out/logs.tar.gz" -C "$RUNS" --exclude='*.pt' --exclude='*.tmp' . ;;
  wait)  # until every run has exited, or $2 seconds
    end=$((SECONDS + ${2:-600}))
    while pgrep -f "codec.cli train" > /dev/null && [ $SECONDS -lt $end ]; do sleep 5; done ;;
  *) echo "usage: $0 start|status|collect DIR|wait [SECONDS]" >&2; exit 2 ;;
esac
