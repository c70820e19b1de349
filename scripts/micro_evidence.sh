#!/usr/bin/env bash
# The README's evidence table: CSR with 3 seeds, Only-R_T, Only-R_I and self-rewarding with 1 seed each,
# 3 iterations of configs/micro.yaml on the micro-world, then the table (mean ± std over seeds).
# Two lanes in parallel with one thread each (2-core machine); about 45 minutes on 2 cores.
set -euo pipefail
CSR_TRAIN=${CSR_TRAIN:-.venv/bin/csr-train}
OUT=${OUT:-runs/evidence}
export OMP_NUM_THREADS=1
run() { # name, extra args...
  local name=$1; shift
  if [ -f "$OUT/$name/config.yaml" ]; then
    "$CSR_TRAIN" --resume "$OUT/$name" > "$OUT/$name.log" 2>&1
  else
    "$CSR_TRAIN" --config configs/micro-paper.yaml --run-dir "$OUT/$name" --set eval.db="$OUT/results.db" "$@" > "$OUT/$name.log" 2>&1
  fi
}
mkdir -p "$OUT"
( run csr-s0 --seed 0; run csr-s1 --seed 1; run csr-s2 --seed 2 ) &
( run only-rt-s0 --seed 0 --set reward.kind=lm_only; run only-ri-s0 --seed 0 --set reward.kind=clip_only;
  run self-rewarding-s0 --seed 0 --set reward.kind=self_rewarding ) &
wait
"$CSR_TRAIN" evidence --group "CSR=$OUT/csr-s0,$OUT/csr-s1,$OUT/csr-s2" --group "Only-R_T=$OUT/only-rt-s0" \
  --group "Only-R_I=$OUT/only-ri-s0" --group "Self-rewarding=$OUT/self-rewarding-s0"
