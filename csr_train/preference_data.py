"""The preference pairs as TRL's DPOTrainer reads them: text that TRL tokenizes into the search's own tokens.

Why not TRL's conversational format: TRL renders the chat template and tokenizes the prompt and each completion
apart, without special tokens. With LLaVA-1.5's llava-hf template (and any Llama tokenizer that adds a BOS) that
trains without the BOS the search's prompt began with, with a space token after every answer and without EOS
(the template closes an assistant turn with ``' '``; LLaVA's own training, which the official CSR code uses, with
``</s>``); and it renders the template's prompt even when the search asked with ``conversation: vicuna_v1``.

So every row is TRL's plain-text format written out here: the prompt is the search's own prompt text
(:func:`csr_eval.runner.prompt_text`, a step pair's answer so far after it, ending with the line breaks of its last
token where it has them), with the tokenizer's BOS spelled out where the tokenizer adds one; a completion is the
answer as it follows the prompt in the search's stream, after what the template writes between them
(:func:`csr_eval.runner.answer_separator`: a space after LLaVA's ``ASSISTANT:``, nothing after ChatML's
``assistant`` line), in the spelling that tokenizes alone as it does there (a byte-level BPE — Qwen, the micro
models — needs a leading space written; a Metaspace tokenizer — Llama — marks the first word itself), then EOS for
a complete answer (a sentence pair's sentence has none: it leaves the answer open; a step that ends the answer is
EOS alone). Each spelling is checked against the tokens of the whole text; a tokenizer for which none fits is an
error, not a silent mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from csr_eval.errors import CsrEvalError, InputError
from csr_eval.runner import answer_separator, prompt_text


class TokenizationMismatch(CsrEvalError):
    """No spelling of a prompt or completion gives TRL the tokens the search produced (csr-train stops before
    DPO; the pairs stay on disk)."""


def _ids(tokenizer, text: str, special: bool = False) -> list[int]:
    return tokenizer(text, add_special_tokens=special)["input_ids"]


def trl_prompt(tokenizer, text: str) -> str:
    """``text`` spelled so that TRL's tokenization (no special tokens) gives the search's (the tokenizer's
    default, a BOS included where it adds one)."""
    want = _ids(tokenizer, text, special=True)
    bos = tokenizer.bos_token or ""
    for spelling in (text, bos + text, bos + " " + text):  # Llama: "<s>USER" would lose USER's word mark
        if _ids(tokenizer, spelling) == want:
            return spelling
    raise TokenizationMismatch(f"no spelling of the prompt {text[-60:]!r} tokenizes without special tokens as "
                               f"the search tokenized it: {tokenizer.convert_ids_to_tokens(want)[:8]} ...")


def trl_completion(tokenizer, context: str, text: str, head: list[int] | None = None) -> str:
    """``text`` (what follows ``context`` in the search's stream) spelled so that tokenized alone it gives the
    tokens it has after ``context``; ``head``: the context's tokens, where the caller has them already."""
    head = _ids(tokenizer, context) if head is None else head
    joint = _ids(tokenizer, context + text)
    want = joint[len(head):]
    if joint[:len(head)] == head:
        for spelling in (text, text.lstrip(" ")):
            if _ids(tokenizer, spelling) == want:
                return spelling
    raise TokenizationMismatch(f"{text!r} after {context[-40:]!r} tokenizes as "
                               f"{tokenizer.convert_ids_to_tokens(want)}, and no spelling of it gives those tokens alone")


@dataclass(frozen=True)
class _Prompt:
    text: str  # the search's text up to where the completion starts
    ids: list[int]  # its tokens without special tokens (what a completion's tokens follow)
    spelled: str  # TRL's spelling of it
    lead: str  # what comes between it and the completion


class _Spellings:
    """TRL's prompt and completion texts of the rows, the prompt's spelling worked out once per prompt."""

    def __init__(self, processor, conversation: str):
        self.processor, self.conversation = processor, conversation
        self.tokenizer = processor.tokenizer
        self.separator = answer_separator(processor, conversation)  # " " after LLaVA's "ASSISTANT:", "" for ChatML
        self._prompts: dict[str, _Prompt] = {}

    def prompt(self, row: dict) -> _Prompt:
        key = row["prompt"] + "\0" + row.get("prefix", "")
        if key not in self._prompts:
            asked, lead = prompt_text(self.processor, row["prompt"], self.conversation), self.separator
            if row.get("prefix"):  # the answer so far, in the search's stream right after the prompt
                asked = asked + lead + row["prefix"].lstrip()  # its last token's line breaks kept (Qwen's ".\n\n")
                lead = "" if asked[-1:].isspace() else " "
            self._prompts[key] = _Prompt(asked, _ids(self.tokenizer, asked), trl_prompt(self.tokenizer, asked), lead)
        return self._prompts[key]

    def completion(self, prompt: _Prompt, text: str, ends: bool) -> str:
        """An empty text is the end of the answer (EOS alone); ``ends`` closes a complete answer with EOS; an open
        sentence keeps the line breaks its tokens write around it."""
        eos = self.tokenizer.eos_token
        if not text.strip():
            return eos
        if ends:
            return trl_completion(self.tokenizer, prompt.text, prompt.lead + text.strip(), prompt.ids) + eos
        written = text if text[:1].isspace() else prompt.lead + text
        return trl_completion(self.tokenizer, prompt.text, written, prompt.ids)


def preference_dataset(rows: list[dict], image_root: Path, processor, conversation: str = "chat_template",
                       rejected_eos: bool = True):
    """TRL's plain-text vision format (images, prompt, chosen, rejected) whose tokens are the search's.

    Rows of whole answers (``reward.pairs: responses``) end each completion with EOS (the rejected one only with
    ``rejected_eos``, ``dpo.rejected_eos``); rows with a ``prefix`` (``reward.pairs: sentences / steps``) continue the
    answer so far with one sentence and no EOS, or end it with EOS alone. The images
    are file paths that ``datasets`` opens as RGB when a batch is collated: decoded and re-encoded up front, the
    paper's 12,856 COCO images would cost minutes and gigabytes per process before the first step
    (speed/preference_images.py); a missing file is an error here, before training."""
    from datasets import Dataset, Features, Image, List, Value

    spell = _Spellings(processor, conversation)
    images, prompts, chosen, rejected = [], [], [], []
    for i, row in enumerate(rows):
        path = Path(image_root) / row["image"]
        if not path.is_file():
            raise InputError(path, f"the image of pair {i} ({row['image']!r} under {image_root}) is not a file")
        try:
            prompt, ends = spell.prompt(row), "prefix" not in row
            prompts.append(prompt.spelled)
            chosen.append(spell.completion(prompt, row["chosen"], ends))
            rejected.append(spell.completion(prompt, row["rejected"], ends and rejected_eos))
        except TokenizationMismatch as exc:
            raise TokenizationMismatch(f"pair {i} (image {row['image']}): {exc}") from None
        images.append([str(path)])
    text = Value("string")
    return Dataset.from_dict({"images": images, "prompt": prompts, "chosen": chosen, "rejected": rejected},
                             features=Features({"images": List(Image(mode="RGB")), "prompt": text, "chosen": text,
                                                "rejected": text}))
