#!/usr/bin/env bash
# Why CSR-default's CHAIR_S rises again at iteration 3 (docs/micro-evidence.md, "Iteration 3's rebound"): seed 0's
# run (what make demo runs), then its iteration 3 re-run from the same iteration-2 model and the same candidates
# with one thing changed each time (scripts/rerun_iteration.py), two at a time, one thread each. About 45 minutes
# on 2 cores. Prints the iteration-3 row of each variant's summary, then P(EOS) where iteration 2's captions end.
set -euo pipefail
OUT=${OUT:-runs/iteration3}
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
mkdir -p "$OUT"
if [ -f "$OUT/demo/csr_train_state.json" ]; then  # an interrupted run finishes first (a finished one in seconds)
  .venv/bin/csr-train --resume "$OUT/demo" > "$OUT/demo.log" 2>&1
else
  .venv/bin/csr-train --config configs/micro.yaml --run-dir "$OUT/demo" --set eval.db="$OUT/demo.db" > "$OUT/demo.log" 2>&1
fi
longer='d.chosen_sentences.map(len) > d.rejected_sentences.map(len)'
[ -f "$OUT/pair_logps.csv" ] || "$PY" scripts/pair_logps.py "$OUT/demo" --out "$OUT/pair_logps.csv" 2> "$OUT/pair_logps.log"
rejected="pd.read_csv('$OUT/pair_logps.csv').rejected_logp"  # under iteration 2's model, in the pairs' order
# NAME|FROM|KEY=VALUE ...|--filter EXPR
variants=(
  "keep|pairs||" "keep-order1|pairs||d.sample(frac=1, random_state=1)" "keep-order2|pairs||d.sample(frac=1, random_state=2)"
  "drop|pairs|reward.longer_chosen=drop|" "rematch|pairs|reward.longer_chosen=rematch|"
  "drop-order1|pairs||d[~($longer)].sample(frac=1, random_state=1)"
  "drop-order2|pairs||d[~($longer)].sample(frac=1, random_state=2)"
  "longer-only|pairs||$longer" "random84-a|pairs||d.index.isin(d.sample(84, random_state=0).index)"
  "random84-b|pairs||d.index.isin(d.sample(84, random_state=1).index)"
  "gt-clean-chosen|pairs||d.gt_chosen_hallucinated == 0" "gt-informative|pairs||d.gt_kind == 'informative'"
  "oracle|generate|reward.kind=oracle|" "no-sft|pairs|dpo.sft_weight=0|" "lr0|pairs|dpo.learning_rate=0|"
  "lr1e-4|pairs|dpo.learning_rate=1e-4|" "lr3e-4|pairs|dpo.learning_rate=3e-4|" "epochs1|pairs|dpo.epochs=1|"
  "margin400|pairs|reward.min_margin=400|" "length-matched|pairs|reward.length_matched=true|"
  "ld-alpha0.5|pairs|dpo.ld_alpha=0.5|" "ld-alpha0|pairs|dpo.ld_alpha=0|"
  "beta0.5|pairs|dpo.beta=0.5|" "beta0.05|pairs|dpo.beta=0.05|" "beta0.02|pairs|dpo.beta=0.02|"
  "sft-only|pairs|dpo.beta=0|" "sft-only-order1|pairs|dpo.beta=0|d.sample(frac=1, random_state=1)"
  "sft-only-order2|pairs|dpo.beta=0|d.sample(frac=1, random_state=2)"
  "sft2|pairs|dpo.sft_weight=2|" "sft4|pairs|dpo.sft_weight=4|"
  "sft-only-lr1e-4|pairs|dpo.beta=0 dpo.learning_rate=1e-4|" "no-sft-lr1e-4|pairs|dpo.sft_weight=0 dpo.learning_rate=1e-4|"
  "rejected-likely|pairs||(lambda r: r > r.median())($rejected).values"
  "rejected-unlikely|pairs||(lambda r: r <= r.median())($rejected).values"
  "random68-a|pairs||d.index.isin(d.sample(68, random_state=0).index)"
  "random68-b|pairs||d.index.isin(d.sample(68, random_state=1).index)"
  "no-rejected-eos|pairs|dpo.rejected_eos=false|"
  "no-rejected-eos-order1|pairs|dpo.rejected_eos=false|d.sample(frac=1, random_state=1)"
  "no-rejected-eos-order2|pairs|dpo.rejected_eos=false|d.sample(frac=1, random_state=2)"
  "no-rejected-eos-no-sft|pairs|dpo.rejected_eos=false dpo.sft_weight=0|"
)
rerun() {
  IFS='|' read -r name from set filter <<< "$1"
  tail -1 "$OUT/$name.log" 2>/dev/null | grep -q "^iter3" && return 0  # done before
  rm -rf "$OUT/$name" "$OUT/$name.db"
  local sets=(); for s in $set; do sets+=(--set "$s"); done  # SET: space-separated KEY=VALUE
  "$PY" scripts/rerun_iteration.py "$OUT/demo" "$OUT/$name" --from "$from" ${sets[@]+"${sets[@]}"} \
    ${filter:+--filter "$filter"} > "$OUT/$name.log" 2>&1
}
export -f rerun; export OUT PY
printf '%s\n' "${variants[@]}" | xargs -d '\n' -P 2 -I{} bash -c 'rerun "$1"' _ {}
for v in "${variants[@]}"; do
  printf '%-16s %s\n' "${v%%|*}" "$(tail -1 "$OUT/${v%%|*}.log")"
done
# where iteration 2's captions end, how likely each iteration-3 model is to stop (docs/micro-evidence.md)
"$PY" scripts/stop_prob.py --db "$OUT/demo.db" --captions-of demo/iter2 --model "iter2=$OUT/demo/iter2/model" \
  --model "as-run=$OUT/demo/iter3/model" --model "sft-only=$OUT/sft-only/iter3/model" \
  --model "no-sft=$OUT/no-sft/iter3/model" --model "no-rejected-eos=$OUT/no-rejected-eos/iter3/model" \
  --model "no-rejected-eos-no-sft=$OUT/no-rejected-eos-no-sft/iter3/model" 2> "$OUT/stop_prob.log"
