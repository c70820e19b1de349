#!/usr/bin/env bash
# Sentence and step pairs (reward.pairs: sentences / steps, beyond the paper) against the paper's response pairs:
# seed 0, 3 iterations each of configs/micro.yaml, on the micro-Qwen and the micro-LLaVA, with CLIP and with the
# ground-truth judge (docs/micro-evidence.md, "Sentence and step pairs"). Two runs at a time
# (scripts/micro_controls.sh); about 80 minutes on 2 cores. Prints each run's per-iteration summary.
set -euo pipefail
export OUT=${OUT:-runs/sentence-pairs}
CSR_TRAIN=${CSR_TRAIN:-.venv/bin/csr-train}
q=--set=model.base=micro-qwen
s=--set=reward.pairs=sentences
specs=("qwen-responses:0:$q" "qwen-sentences:0:$q,$s" "qwen-sentences-oracle:0:$q,$s,--set=reward.kind=oracle"
       "llava-responses:0:" "llava-sentences:0:$s" "llava-sentences-oracle:0:$s,--set=reward.kind=oracle"
       "qwen-sentences-nosft:0:$q,$s,--set=dpo.sft_weight=0" "llava-sentences-nosft:0:$s,--set=dpo.sft_weight=0"
       "qwen-steps-m250:0:$q,--set=reward.pairs=steps" "qwen-steps-m150:0:$q,--set=reward.pairs=steps,--set=reward.min_margin=150"
       "llava-steps-m250:0:--set=reward.pairs=steps"
       "llava-steps-m150:0:--set=reward.pairs=steps,--set=reward.min_margin=150"
       "llava-steps-m150:1:--set=reward.pairs=steps,--set=reward.min_margin=150"
       "llava-steps-m150:2:--set=reward.pairs=steps,--set=reward.min_margin=150"
       "llava-steps-m80:0:--set=reward.pairs=steps,--set=reward.min_margin=80"
       "qwen-steps-m80:0:$q,--set=reward.pairs=steps,--set=reward.min_margin=80")
scripts/micro_controls.sh "${specs[@]}"
for spec in "${specs[@]}"; do
  name=${spec%%:*} rest=${spec#*:}
  echo "== $name seed ${rest%%:*}"
  "$CSR_TRAIN" summary "$OUT/$name-s${rest%%:*}"
done
