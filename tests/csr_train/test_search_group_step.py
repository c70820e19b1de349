"""One token step of the diverse beam groups on scripted log-probabilities, against Hugging Face's group beam
search (transformers 4.x ``_group_beam_search`` + ``BeamSearchScorer``), whose result is worked out by hand in
each test's comments (transformers 4 cannot live in our locked environment).

Vocabulary of the scripted model: the micro-LLaVA tokenizer's (512); "." and "</s>" are the stop tokens.
Every log-probability not set below is -20.
"""

from __future__ import annotations

import pytest
import torch

from csr_train.config import SearchSettings
from csr_train.search import NEG_INF, FinishedHypotheses, Hypothesis, SentenceBeamSearch, SentenceRewarder, _Beams, \
    _Choice, _Frontier

A, B_, C = 100, 101, 102  # three ordinary tokens


class _NoCache:
    """Stands in for the KV cache: the step under test only asks it for a row copy."""

    @staticmethod
    def row_kv(state, row):
        return None


@pytest.fixture
def search(micro_runner):
    def build(token_beams: int, beam_groups: int, penalty: float = 3.0) -> SentenceBeamSearch:
        settings = SearchSettings(token_beams=token_beams, beam_groups=beam_groups, diversity_penalty=penalty)
        return SentenceBeamSearch(micro_runner.model, micro_runner.processor, settings, SentenceRewarder(None, 0.9),
                                  micro_runner.prompt_text)
    return build


def _state(groups: int, per_group: int, tokens_so_far: int):
    frontier = [_Frontier(0, -1, None, 7, 10, [], 0, 0)]
    beams = _Beams.start(frontier, groups, per_group, "cpu")
    for g in range(groups):
        beams.tokens[0][g] = [[7] * tokens_so_far for _ in range(per_group)]
        beams.logprobs[0][g] = [[-0.1] * tokens_so_far for _ in range(per_group)]
    finished = [[FinishedHypotheses(per_group) for _ in range(groups)]]
    return beams, finished, [[False] * groups]


def _logp(search, groups, per_group, entries):
    logp = torch.full((1, groups, per_group, 512), -20.0)
    period, eos = search.processor.tokenizer.convert_tokens_to_ids("."), search.eos
    for (g, b, token), value in entries.items():
        logp[0, g, b, {".": period, "eos": eos}.get(token, token)] = value
    return logp, period, eos


def test_a_group_whose_two_best_tokens_are_stops_keeps_a_live_third(search):
    # One beam per group (token_beams 2, beam_groups 2), penalty 3. Group 0's beam: "." -0.5, EOS -0.7, A -1.0.
    # HF keeps max(2, 1 + 2 stop tokens) * 1 = 3 candidates: "." (rank 0) becomes a hypothesis (-0.5 / 1),
    # EOS (rank 1 >= group size 1) is skipped, A fills the beam -> group 0 continues with A, and A enters the
    # diversity penalty of group 1. Group 1's beam: A -0.2, B -1.5: A costs -0.2 - 3 = -3.2 < B's -1.5, so
    # group 1 picks B. (Keeping only 2 * 1 candidates, group 0's beam died and group 1 picked A.)
    s = search(2, 2)
    beams, finished, done = _state(2, 1, 0)
    logp, period, eos = _logp(s, 2, 1, {(0, 0, "."): -0.5, (0, 0, "eos"): -0.7, (0, 0, A): -1.0,
                                         (1, 0, A): -0.2, (1, 0, B_): -1.5})
    choice, counts = _Choice.idle(beams), torch.zeros(1, 512)
    for g in range(2):
        s._step_group(g, logp[:, g], beams, choice, counts, finished, done, _NoCache())
    assert choice.token[0, :, 0].tolist() == [A, B_]
    assert choice.score[0, :, 0].tolist() == pytest.approx([-1.0, -1.5])
    assert [h.tokens for h in finished[0][0].best] == [[period]] and finished[0][0].best[0].score == -0.5
    assert counts[0, A] == 1 and counts[0, B_] == 1


def test_early_stop_compares_with_the_best_candidate_stop_tokens_included(search):
    # Two beams in one group (token_beams 2, beam_groups 1); one token so far (length 2 after this step); the
    # second beam is dead (only the first starts live). Already finished: -0.6 and -0.9 (per token).
    # Candidates: "." -1.0 (rank 0), A -2.0, B -2.2. "." becomes a hypothesis -1.0 / 2 = -0.5; the kept ones
    # are now -0.5 and -0.6. HF's is_done: worst kept (-0.6) >= best candidate of the step (-1.0) / 2 = -0.5?
    # No: the group goes on. (Against the best *running* beam, -2.0 / 2 = -1.0, it stopped.)
    s = search(2, 1)
    beams, finished, done = _state(1, 2, 1)
    for score in (-0.6, -0.9):
        finished[0][0].add(score, lambda score=score: Hypothesis(score, [7, 18], [-1, -1], "period", None, 18, 12))
    logp, _, _ = _logp(s, 1, 2, {(0, 0, "."): -1.0, (0, 0, A): -2.0, (0, 0, B_): -2.2})
    choice = _Choice.idle(beams)
    s._step_group(0, logp[:, 0], beams, choice, torch.zeros(1, 512), finished, done, _NoCache())
    assert [h.score for h in finished[0][0].best] == [-0.5, -0.6]
    assert choice.token[0, 0].tolist() == [A, B_]
    assert done == [[False]]


def test_early_stop_when_no_candidate_can_beat_the_worst(search):
    # As above, but "." is only -1.5 (rank 1, -0.75 per token, kept: -0.6, -0.75) and A -1.4 is the best
    # candidate: worst kept -0.75 >= -1.4 / 2 = -0.7? No. With A at -1.6: "." ranks first, -0.75 kept; HF:
    # -0.75 >= -1.5 / 2 = -0.75 -> done.
    s = search(2, 1)
    for a_score, stops in ((-1.4, False), (-1.6, True)):
        beams, finished, done = _state(1, 2, 1)
        for score in (-0.6, -0.9):
            finished[0][0].add(score, lambda score=score: Hypothesis(score, [7, 18], [-1, -1], "period", None, 18, 12))
        logp, _, _ = _logp(s, 1, 2, {(0, 0, "."): -1.5, (0, 0, A): a_score, (0, 0, B_): -2.2, (0, 0, C): -2.4})
        s._step_group(0, logp[:, 0], beams, _Choice.idle(beams), torch.zeros(1, 512), finished, done, _NoCache())
        assert [h.score for h in finished[0][0].best] == [-0.6, -0.75]
        assert done == [[stops]], a_score


def test_dead_beams_never_become_hypotheses(search):
    # A dead beam (score NEG_INF) whose stop token ranks among the candidates adds no hypothesis.
    s = search(2, 1)
    beams, finished, done = _state(1, 2, 1)
    beams.scores[0, 0, 0] = NEG_INF
    logp, _, _ = _logp(s, 1, 2, {(0, 0, "."): -0.1})
    s._step_group(0, logp[:, 0], beams, _Choice.idle(beams), torch.zeros(1, 512), finished, done, _NoCache())
    assert finished[0][0].best == []
