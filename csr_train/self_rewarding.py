"""The self-rewarding baseline (Yuan et al., as the CSR paper applies it to LVLMs, Table 2 and Table 3).

The model samples two responses per prompt and then judges them itself with the paper's Table 3 prompt.
The verdict is read as a forced choice: the log-likelihood the model gives to "response 1" and to
"response 2" as its answer (as lmms-eval scores multiple choice by likelihood), so a judge that does not
follow the output format still gives a verdict — the micro-LLaVA, trained only to describe and answer
yes/no, never writes "response 1" on its own. The preferred response is chosen, the other rejected.
"""

from __future__ import annotations

import hashlib

import torch

from csr_eval.model_family import processor_inputs
from csr_eval.runner import answer_separator
from csr_train.search import PromptItem

JUDGE_PROMPT = (
    "Now you act as a judge, helping me determine which of the two texts I provide is closer to the given image "
    "and has fewer errors.\n"
    "*****************************************************************************\n"
    "Response 1:\n{response_1}\n"
    "Response 2:\n{response_2}\n"
    "*****************************************************************************\n"
    "Please strictly follow the following format requirements when outputting, and don't have any other "
    "unnecessary words.\n"
    "Output Format:\n"
    "response 1 or response 2.")
VERDICTS = ("response 1", "response 2")


def prompt_seed(seed: int, prompt_id: str) -> int:
    """A per-prompt seed: sampling does not depend on batching or on how prompts are sharded."""
    return int(hashlib.sha256(f"{seed}/{prompt_id}".encode()).hexdigest()[:8], 16)


class SelfRewardingJudge:
    """The model (a :class:`csr_eval.runner.ModelRunner`) samples and judges; the verdict follows the judge prompt
    as an answer follows a prompt in its conversation (a space after LLaVA's ``ASSISTANT:``, none in ChatML)."""

    def __init__(self, runner, temperature: float, max_new_tokens: int, seed: int):
        self.model, self.processor, self.prompt_text = runner.model, runner.processor, runner.prompt_text
        self.separator = answer_separator(runner.processor, runner.conversation)
        self.temperature, self.max_new_tokens, self.seed = temperature, max_new_tokens, seed

    def _inputs(self, image, text: str):
        return processor_inputs(self.model, self.processor, [image], [text])

    def sample_two(self, item: PromptItem) -> list[str]:
        torch.manual_seed(prompt_seed(self.seed, item.prompt_id))
        inputs = self._inputs(item.image, self.prompt_text(item.prompt))
        with torch.inference_mode():
            out = self.model.generate(**inputs, do_sample=True, temperature=self.temperature, top_k=0, top_p=1.0,
                                      num_return_sequences=2, max_new_tokens=self.max_new_tokens)
        new = out[:, inputs["input_ids"].shape[1]:]
        return [t.strip() for t in self.processor.batch_decode(new, skip_special_tokens=True)]

    def verdict_logprobs(self, item: PromptItem, responses: list[str]) -> list[float]:
        """log P(verdict | judge prompt, image) for "response 1" and "response 2"."""
        judge = self.prompt_text(JUDGE_PROMPT.format(response_1=responses[0], response_2=responses[1]))
        n_prefix = self._inputs(item.image, judge)["input_ids"].shape[1]
        scores = []
        for verdict in VERDICTS:
            full = self._inputs(item.image, judge + self.separator + verdict)
            with torch.inference_mode():
                logits = self.model(**full).logits[0, n_prefix - 1:-1].float()
            targets = full["input_ids"][0, n_prefix:]
            scores.append(float(torch.log_softmax(logits, -1).gather(-1, targets[:, None]).sum()))
        return scores

    def __call__(self, items: list[PromptItem]) -> list[dict]:
        records = []
        for item in items:
            responses = self.sample_two(item)
            records.append({"prompt_id": item.prompt_id, "image": item.image_path, "prompt": item.prompt,
                            "responses": responses, "verdict_logprobs": self.verdict_logprobs(item, responses)})
        return records


def self_rewarding_pair(record: dict, iteration: int) -> dict | str:
    """The pair row (same schema as CSR's), or the reason there is none."""
    a, b = record["responses"]
    if a.strip() == b.strip() or not a.strip() or not b.strip():
        return "chosen_equals_rejected" if a.strip() == b.strip() else "empty_response"
    first_wins = record["verdict_logprobs"][0] >= record["verdict_logprobs"][1]
    chosen, rejected = (a, b) if first_wins else (b, a)
    margin = abs(record["verdict_logprobs"][0] - record["verdict_logprobs"][1])

    def sentences(text: str) -> list[dict]:
        return [{"text": s.strip() + ".", "r_t": float("nan"), "r_i": float("nan"), "r": float("nan"),
                 "lm_score": float("nan")} for s in text.split(".") if s.strip()]

    return {"prompt_id": record["prompt_id"], "image": record["image"], "prompt": record["prompt"],
            "iteration": iteration, "chosen": chosen, "rejected": rejected,
            "chosen_sentences": sentences(chosen), "rejected_sentences": sentences(rejected),
            "chosen_reward": margin, "rejected_reward": 0.0, "margin": margin, "n_candidates": 2}
