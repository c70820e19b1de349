"""Where an answer ends in the sentence search: at any EOS the model's generation config lists, as ``generate``
(and so the evaluation) stops, not only at the tokenizer's. Qwen2.5-VL-Instruct lists ``<|im_end|>`` (the
tokenizer's EOS) and ``<|endoftext|>``; conftest.qwen_layout is laid out so.
"""

from __future__ import annotations

import math

import pytest
import torch

from csr_eval.runner import ModelRunner
from csr_train.config import SearchSettings
from csr_train.search import FinishedHypotheses, Hypothesis, SearchTree, SentenceBeamSearch, SentenceNode, \
    SentenceRewarder, _Beams, _Choice, _Frontier

A = 100  # an ordinary token


class _NoCache:
    @staticmethod
    def row_kv(state, row):
        return None


@pytest.fixture(scope="module")
def qwen_search(qwen_layout):
    runner = ModelRunner.load(qwen_layout)
    settings = SearchSettings(token_beams=2, beam_groups=1)
    search = SentenceBeamSearch(runner.model, runner.processor, settings, SentenceRewarder(None, 0.9),
                                runner.prompt_text)
    tok = runner.processor.tokenizer
    return search, tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")


def test_every_eos_of_the_generation_config_ends_an_answer(qwen_search):
    search, im_end, endoftext = qwen_search
    assert search.eos == im_end  # what the DPO data writes after a complete answer
    assert search.ends == {im_end, endoftext}
    tok = search.processor.tokenizer
    assert sorted(tok.convert_ids_to_tokens(sorted(search.stops - search.ends))) == [".", ".Ċ", ".ĊĊ"]
    assert search.candidates_per_beam == 1 + len(search.stops) == 6  # as HF keeps for five stop tokens


def test_a_sentence_stopped_by_endoftext_ends_the_response(qwen_search):
    # One group of two beams, one token so far; <|endoftext|> is the best next token of the live beam:
    # a hypothesis stopped by "eos" (before: an ordinary token, the beam went on past the end of the answer).
    search, _, endoftext = qwen_search
    frontier = [_Frontier(0, -1, None, 7, 10, [], 0, 0)]
    beams = _Beams.start(frontier, 1, 2, "cpu")
    beams.tokens[0][0] = [[A], [A]]
    beams.logprobs[0][0] = [[-0.1], [-0.1]]
    finished, done = [[FinishedHypotheses(2)]], [[False]]
    vocab = endoftext + 1
    logp = torch.full((1, 2, vocab), -20.0)
    logp[0, 0, endoftext], logp[0, 0, A + 1] = -0.2, -1.0
    search._step_group(0, logp, beams, _Choice.idle(beams), torch.zeros(1, vocab), finished, done, _NoCache())
    assert [(h.tokens, h.stop) for h in finished[0][0].best] == [([A, endoftext], "eos")]


def test_the_end_tokens_leave_the_text_and_their_probabilities_add_up(qwen_search):
    # After the sentence of node 0 the search found four hypotheses: <|im_end|> alone (P 0.2), <|endoftext|>
    # alone (P 0.1, found by two groups: counted once), a sentence "A" closed by <|endoftext|> and one closed by
    # ".\n\n" (Qwen's paragraph end: the line breaks are kept as the sentence's tail, out of its text).
    search, im_end, endoftext = qwen_search
    paragraph_end = search.processor.tokenizer.convert_tokens_to_ids(".ĊĊ")
    tree = SearchTree("p", "img.png", "Describe.")
    tree.nodes.append(SentenceNode(0, -1, 1, "a", [A], [-0.1], -0.1, "period"))
    frontier = [_Frontier(0, 0, None, A, 12, [], 1, 1)]
    group = [FinishedHypotheses(3), FinishedHypotheses(3)]
    for g, (tokens, logprobs) in ((0, ([im_end], [math.log(0.2)])), (0, ([endoftext], [math.log(0.1)])),
                                  (1, ([endoftext], [math.log(0.1)])), (1, ([A, endoftext], [-0.5, -0.3])),
                                  (1, ([A, paragraph_end], [-0.5, -0.4]))):
        score = sum(logprobs) / len(tokens)
        stop = "period" if tokens[-1] == paragraph_end else "eos"
        group[g].add(score, lambda t=tokens, lp=logprobs, s=score, e=stop: Hypothesis(s, t, lp, e, None, t[-1], 13))
    search.s = SearchSettings(token_beams=5, beam_groups=2)
    try:
        made = search._make_nodes(frontier, [group], [tree])
    finally:
        search.s = SearchSettings(token_beams=2, beam_groups=1)
    assert tree.nodes[0].end_prob == pytest.approx(0.3)
    assert tree.nodes[0].can_end
    [(ended, _), (paragraph, _)] = made
    assert ended.ends_response and ended.stop == "eos" and ended.token_ids == [A, endoftext]
    assert ended.text == search.processor.tokenizer.decode([A]).strip() and ended.tail == ""
    assert not paragraph.ends_response and paragraph.tail == "\n\n" and not paragraph.text.endswith("\n")


def test_a_sentence_end_that_is_no_token_names_the_field(qwen_search):
    from csr_eval.errors import InputError
    from csr_train.search import sentence_end_ids

    with pytest.raises(InputError, match="search.sentence_end.*'xyzzy'"):
        sentence_end_ids(qwen_search[0].processor.tokenizer, [".", "xyzzy"])
