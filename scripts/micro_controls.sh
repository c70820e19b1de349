#!/usr/bin/env bash
# Issue 14's controls on the micro-world: the same search, pairs and DPO with different judges and settings,
# 3 iterations of configs/micro.yaml each, two runs at a time with one thread each (2-core machine), as a queue.
#   scripts/micro_controls.sh NAME:SEED:--set k=v,--set k=v ...   (runs go to $OUT/NAME-sSEED)
# then: csr-train evidence --group LABEL=$OUT/NAME-s0,... for the table.
set -euo pipefail
CSR_TRAIN=${CSR_TRAIN:-.venv/bin/csr-train}
OUT=${OUT:-runs/controls}
export OMP_NUM_THREADS=1
mkdir -p "$OUT"
run() { # NAME:SEED:ARGS (ARGS comma-separated)
  local name=${1%%:*} rest=${1#*:}; local seed=${rest%%:*} args=${rest#*:}
  local dir="$OUT/$name-s$seed"
  IFS=',' read -r -a extra <<< "$args"
  if [ -f "$dir/config.yaml" ]; then
    "$CSR_TRAIN" --resume "$dir" > "$dir.log" 2>&1
  else
    "$CSR_TRAIN" --config configs/micro.yaml --run-dir "$dir" --seed "$seed" --set eval.db="$OUT/results.db" \
      ${extra[@]+"${extra[@]}"} > "$dir.log" 2>&1
  fi
}
export -f run; export CSR_TRAIN OUT
# a queue of two workers: each takes the next spec when its run ends (finished runs resume in seconds)
printf '%s\n' "$@" | xargs -P 2 -I{} bash -c 'run "$1"' _ {}
