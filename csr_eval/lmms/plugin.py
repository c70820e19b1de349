"""Entry point payload for lmms-eval's model registry (kept import-light: no lmms_eval.models import)."""

from lmms_eval.models.registry_v2 import ModelManifest

MANIFEST = ModelManifest(model_id="csr_runner", simple_class_path="csr_eval.lmms.model.CsrRunnerLmms")
