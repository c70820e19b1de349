#!/usr/bin/env bash
# Where CSR's candidate answers may end (search.min_end_prob, beyond the paper): seed 0, 3 iterations each, on the
# micro-Qwen and the micro-LLaVA, with CLIP and with the ground-truth judge (docs/micro-evidence.md, "Where the
# micro-Qwen's collapse comes from"). Two runs at a time (scripts/micro_controls.sh); about 17 minutes on 2 cores.
# Prints each run's per-iteration summary (its 'P(end) chosen' column: the median P(EOS) where chosen answers end).
set -euo pipefail
export OUT=${OUT:-runs/end-prob}
CSR_TRAIN=${CSR_TRAIN:-.venv/bin/csr-train}
q=--set=model.base=micro-qwen
specs=("qwen-default:0:$q" "qwen-end0.1:0:$q,--set=search.min_end_prob=0.1"
       "qwen-end0.3:0:$q,--set=search.min_end_prob=0.3" "qwen-end0.5:0:$q,--set=search.min_end_prob=0.5"
       "qwen-oracle:0:$q,--set=reward.kind=oracle"
       "qwen-oracle-end0.5:0:$q,--set=reward.kind=oracle,--set=search.min_end_prob=0.5"
       "qwen-end0.5-nosft:0:$q,--set=search.min_end_prob=0.5,--set=dpo.sft_weight=0"
       "qwen-end0.5-beams10:0:$q,--set=search.min_end_prob=0.5,--set=search.num_beams=10"
       "llava-default:0:" "llava-end0.1:0:--set=search.min_end_prob=0.1" "llava-end0.5:0:--set=search.min_end_prob=0.5")
scripts/micro_controls.sh "${specs[@]}"
for spec in "${specs[@]}"; do
  echo "== ${spec%%:*}"
  "$CSR_TRAIN" summary "$OUT/${spec%%:*}-s0"
done
