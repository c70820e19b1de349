#!/usr/bin/env bash
# The evidence table of docs/micro-evidence.md (issue 14): 3 iterations on the micro-world for
#   CSR-default   configs/micro.yaml                      seeds 0 1 2
#   CSR as written configs/micro-paper.yaml               seeds 0 1 2
#   Oracle        configs/micro.yaml + reward.kind=oracle  seeds 0 1 2 (the truth in R_I's place)
#   Only-R_T, Only-R_I, self-rewarding: configs/micro.yaml with reward.kind lm_only / clip_only /
#                 self_rewarding, seed 0 (Only-R_T without min_margin: its margins are in R_T's units)
# then prints the table (mean ± std over seeds). Two runs at a time with one thread each (scripts/
# micro_controls.sh); about 65 minutes on 2 cores. Finished runs are kept: re-running resumes what is missing.
set -euo pipefail
export OUT=${OUT:-runs/evidence}
CSR_TRAIN=${CSR_TRAIN:-.venv/bin/csr-train}
paper=--config=configs/micro-paper.yaml
scripts/micro_controls.sh "csr-default:0:" "csr-default:1:" "csr-default:2:" "oracle:0:--set=reward.kind=oracle" \
  "csr-paper:0:$paper" "csr-paper:1:$paper" "csr-paper:2:$paper" \
  "oracle:1:--set=reward.kind=oracle" "oracle:2:--set=reward.kind=oracle" \
  "only-rt:0:--set=reward.kind=lm_only,--set=reward.min_margin=0" "only-ri:0:--set=reward.kind=clip_only" \
  "self-rewarding:0:--set=reward.kind=self_rewarding"
runs() { local name=$1; shift; local out=(); for s in "$@"; do out+=("$OUT/$name-s$s"); done; (IFS=,; echo "${out[*]}"); }
"$CSR_TRAIN" evidence --group "CSR-default=$(runs csr-default 0 1 2)" --group "CSR as written=$(runs csr-paper 0 1 2)" \
  --group "Oracle=$(runs oracle 0 1 2)" --group "Only-R_T=$(runs only-rt 0)" --group "Only-R_I=$(runs only-ri 0)" \
  --group "Self-rewarding=$(runs self-rewarding 0)"
