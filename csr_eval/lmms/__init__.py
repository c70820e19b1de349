"""lmms-eval integration: our runner as an lmms-eval model, and running lmms-eval tasks on local data.

Pinned to lmms-eval 0.7.3 (see ``docs/evaluation.md`` and ``docs/environment.md``): the model registers through the
``lmms_eval.models`` entry point (``csr_runner``), so ``lmms-eval --model csr_runner --model_args
pretrained=...,adapter=...`` works too; in-process we pass an instance to ``simple_evaluate``.
"""
