"""How likely each model is to stop right where one model's stored captions stop: P(EOS) after each caption.

Why: a training step that teaches a model to stop less shows up here directly, where CHAIR only sees its effect —
the model goes on after a complete description and adds a sentence, often a scene-typical object that is not there
(docs/micro-evidence.md, "The rejected answers' end"). The captions are a model's stored answers to a
captioning benchmark (``micro_chair`` by default) in a ``csr-eval`` results database; each model is asked as the
captions were (the stored evaluation's prompt, conversation and image padding), with the image and the caption,
and the next-token distribution is read there. For the model that wrote the captions greedily EOS is the likeliest
next token wherever it stopped (``EOS top``, 1.0 unless a caption hit the token limit). Research tool.

  python scripts/stop_prob.py --db results/csr.db --captions-of RUN/iter2 --model iter2=RUN/iter2/model \
      --model iter3=RUN/iter3/model [--benchmark micro_chair] [--csv per_caption.csv]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import pandas as pd
import torch

from csr_eval.errors import InputError
from csr_eval.io import load_rgb_image
from csr_eval.micro.shipped import resolve_model
from csr_eval.model_family import processor_inputs
from csr_eval.runner import CONVERSATION_FORMATS, ModelRunner, answer_separator
from csr_eval.store import ResultsStore


def stored_captions(db: Path, model: str, benchmark: str) -> tuple[list[tuple[str, str, str]], dict]:
    """(sample id, image path, caption) of the newest complete evaluation of ``model`` on ``benchmark``, and
    the settings it was asked with."""
    if not Path(db).is_file():
        raise InputError(db, "results database not found")
    store = ResultsStore(db)
    done = store.evaluations(model=model, benchmark=benchmark)
    if not done:
        raise InputError(db, f"no complete {benchmark} evaluation of model {model!r}")
    rows = [(s["sample_id"], (s["extra"] or {}).get("image"), s["answer"]) for s in store.samples(done[-1].id)]
    if any(image is None for _, image, _ in rows):
        raise InputError(db, f"{benchmark} samples of {model!r} do not record their image path")
    return rows, done[-1].config


@torch.inference_mode()
def stop_probabilities(model_path: str, captions: list[tuple[str, str, str]], prompt: str,
                       conversation: str = "chat_template", pad_to_square: bool = False) -> list[dict]:
    """Per caption: P(EOS) after it under the model, and whether EOS is the likeliest next token there."""
    runner = ModelRunner.load(resolve_model(model_path), conversation=conversation, pad_to_square=pad_to_square)
    processor, model = runner.processor, runner.model
    asked = runner.prompt_text(prompt) + answer_separator(processor, conversation)  # the same for every caption
    eos = processor.tokenizer.eos_token_id
    out = []
    for sample_id, image, caption in captions:
        text = asked + caption.strip()
        logits = model(**processor_inputs(model, processor, [load_rgb_image(image)], [text])).logits[0, -1]
        probs = torch.softmax(logits.float(), dim=-1)
        out.append({"sample_id": sample_id, "p_eos": probs[eos].item(), "eos_top": int(probs.argmax()) == eos})
    return out


def summary(label: str, rows: list[dict]) -> dict:
    p = [r["p_eos"] for r in rows]
    return {"model": label, "captions": len(p), "median P(EOS)": statistics.median(p),
            "mean P(EOS)": statistics.mean(p), "P(EOS) < 0.5": sum(v < 0.5 for v in p) / len(p),
            "EOS top": sum(r["eos_top"] for r in rows) / len(p)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--captions-of", required=True, help="the stored model name whose captions are probed")
    parser.add_argument("--model", action="append", required=True, metavar="LABEL=PATH",
                        help="a model to ask (a folder, a shipped micro model, a hub id); repeatable")
    parser.add_argument("--benchmark", default="micro_chair")
    parser.add_argument("--prompt", help="default: the prompt the captions were asked with")
    parser.add_argument("--conversation", choices=CONVERSATION_FORMATS,
                        help="default: the conversation the captions were asked with")
    parser.add_argument("--csv", type=Path, help="also write every caption's P(EOS) per model here")
    args = parser.parse_args(argv)
    try:
        models = dict(spec.split("=", 1) for spec in args.model)
    except ValueError:
        parser.error("--model takes LABEL=PATH")
    try:
        captions, asked = stored_captions(args.db, args.captions_of, args.benchmark)
        prompt = args.prompt or asked.get("prompt")
        if not prompt:
            raise InputError(args.db, f"the {args.benchmark} evaluation of {args.captions_of!r} stores no prompt: "
                                      "give --prompt")
        conversation = args.conversation or asked.get("conversation", "chat_template")
        per_model = {label: stop_probabilities(path, captions, prompt, conversation,
                                               bool(asked.get("pad_to_square")))
                     for label, path in models.items()}
    except InputError as exc:
        print(f"stop_prob: error: {exc}", file=sys.stderr)
        return 2
    if args.csv:
        rows = [{"model": label, **r} for label, found in per_model.items() for r in found]
        partial = args.csv.with_name(args.csv.name + ".partial")  # an interrupted write never looks complete
        pd.DataFrame(rows).to_csv(partial, index=False)
        partial.replace(args.csv)
    table = pd.DataFrame([summary(label, found) for label, found in per_model.items()])
    print(f"after the {len(captions)} {args.benchmark} captions of {args.captions_of} (asked with {prompt!r}, "
          f"conversation {conversation}):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
