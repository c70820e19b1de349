"""The self-rewarding baseline: the model judges its own two samples by the verdict's likelihood."""

import math

from PIL import Image

from csr_train.prompts import load_prompts
from csr_train.search import PromptItem
from csr_train.self_rewarding import JUDGE_PROMPT, SelfRewardingJudge, self_rewarding_pair


def test_judge_samples_two_and_scores_both_verdicts(csr_world, micro_runner):
    p = load_prompts(csr_world / "llava_instruct_150k.json")[0]
    item = PromptItem(p.prompt_id, p.image, p.text, Image.open(csr_world / "images" / "csr" / p.image).convert("RGB"))
    judge = SelfRewardingJudge(micro_runner, 1.0, 40, seed=0)
    record = judge([item])[0]
    assert len(record["responses"]) == 2 and all(math.isfinite(x) and x < 0 for x in record["verdict_logprobs"])
    assert judge([item])[0] == record  # per-prompt seeds: the same samples again
    assert "Response 1:" in JUDGE_PROMPT and "response 1 or response 2" in JUDGE_PROMPT


def test_pair_follows_the_verdict():
    record = {"prompt_id": "p", "image": "i.png", "prompt": "Describe.", "responses": ["A dog.", "A cat. A cup."],
              "verdict_logprobs": [-3.0, -1.0]}
    row = self_rewarding_pair(record, 1)
    assert (row["chosen"], row["rejected"]) == ("A cat. A cup.", "A dog.")
    assert [s["text"] for s in row["chosen_sentences"]] == ["A cat.", "A cup."]
    assert row["margin"] == 2.0
    record["responses"] = ["Same.", "Same."]
    assert self_rewarding_pair(record, 1) == "chosen_equals_rejected"


def test_the_verdict_follows_the_judge_prompt_as_an_answer_does(csr_world, micro_runner, qwen_layout):
    """A space before "response 1" after LLaVA's ASSISTANT:, none after ChatML's assistant line: the verdict's
    likelihood is that of the tokens the model would write there."""
    from csr_eval.runner import ModelRunner

    chatml = SelfRewardingJudge(ModelRunner.load(qwen_layout), 1.0, 8, seed=0)
    assert (SelfRewardingJudge(micro_runner, 1.0, 8, seed=0).separator, chatml.separator) == (" ", "")
    p = load_prompts(csr_world / "llava_instruct_150k.json")[0]
    item = PromptItem(p.prompt_id, p.image, p.text, Image.open(csr_world / "images" / "csr" / p.image).convert("RGB"))
    assert all(math.isfinite(x) and x < 0 for x in chatml.verdict_logprobs(item, ["A dog.", "A cat."]))
