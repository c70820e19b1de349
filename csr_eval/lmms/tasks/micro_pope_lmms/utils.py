"""Helpers of the micro_pope_lmms task (loaded by lmms-eval as a top-level module: no relative imports)."""

from PIL import Image


def doc_to_visual(doc):
    with Image.open(doc["image"]) as image:
        return [image.convert("RGB")]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    kwargs = lmms_eval_specific_kwargs or {}
    return f"{kwargs.get('pre_prompt', '')}{doc['question'].strip()}{kwargs.get('post_prompt', '')}"


def process_results(doc, results):
    """lmms-eval's own POPE rule (exact yes/no); csr-eval rescores with the reference POPE parser."""
    return {"exact_match": float(results[0].lower().strip() == doc["answer"].lower().strip())}
