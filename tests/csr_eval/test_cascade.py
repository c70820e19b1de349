"""Shared-prefix attention equals attention over each row's whole sequence: by the formula (grouped-query heads,
uneven groups, padding, several new tokens) and through a real model's forward (the shipped micro-LLaVA)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from csr_eval.cascade import (ATTENTION, CascadeCache, SharedLevel, cascade_attention,
                              cascade_attention_on, cascade_forward)
from csr_eval.micro.shipped import shipped_model
from csr_eval.runner import ModelRunner


@pytest.fixture(scope="module")
def micro_runner():
    return ModelRunner.load(shipped_model("micro-llava"))


def _reference(query, keys, values, visible, scaling):
    """Plain softmax attention of one row, KV heads repeated for grouped queries."""
    repeat = query.shape[0] // keys.shape[0]
    keys, values = keys.repeat_interleave(repeat, 0), values.repeat_interleave(repeat, 0)
    scores = (query @ keys.transpose(-1, -2)) * scaling
    scores = scores.masked_fill(~visible, float("-inf"))
    return torch.softmax(scores, -1) @ values


def test_merging_levels_equals_attention_over_the_concatenation():
    g = torch.Generator().manual_seed(0)
    q_heads, kv_heads, dim, new = 4, 2, 8, 3
    prompts = [torch.randn(2, kv_heads, 6, dim, generator=g) for _ in "kv"]  # 2 groups of rows
    prompt_valid = torch.ones(2, 6, dtype=torch.bool)
    prompt_valid[1, :2] = False  # the second prompt is 2 shorter (left padding)
    nodes = [torch.randn(3, kv_heads, 4, dim, generator=g) for _ in "kv"]  # 3 nodes: rows 0-1, 2-3, 4
    node_valid = torch.tensor([[True] * 4, [True, True, False, False], [True] * 3 + [False]])
    row_prompt, row_node = [0, 0, 0, 0, 1], [0, 0, 1, 1, 2]
    suffix = [torch.randn(5, kv_heads, 5, dim, generator=g) for _ in "kv"]
    suffix_valid = torch.ones(5, 5, dtype=torch.bool)
    suffix_valid[3, 1] = False  # a padded position inside one row's suffix
    query = torch.randn(5, q_heads, new, dim, generator=g)
    levels = [SharedLevel.by_group([tuple(prompts)], prompt_valid, row_prompt),
              SharedLevel.by_group([tuple(nodes)], node_valid, row_node)]
    cache = CascadeCache(levels, [], suffix_valid)
    out, _ = cascade_attention(SimpleNamespace(layer_idx=0), query, *suffix, None, scaling=0.3, cascade=cache)
    assert out.shape == (5, new, q_heads, dim)
    for row in range(5):
        p, n = row_prompt[row], row_node[row]
        keys = torch.cat([prompts[0][p], nodes[0][n], suffix[0][row]], 1)
        values = torch.cat([prompts[1][p], nodes[1][n], suffix[1][row]], 1)
        causal = torch.arange(5)[None, :] <= torch.arange(5 - new, 5)[:, None]
        visible = torch.cat([prompt_valid[p].expand(new, -1), node_valid[n].expand(new, -1),
                             causal & suffix_valid[row]], 1)
        expected = _reference(query[row], keys, values, visible, 0.3)
        torch.testing.assert_close(out[row].transpose(0, 1), expected, atol=1e-5, rtol=1e-5)


def test_model_steps_over_a_shared_prefix_equal_recomputing_each_row(micro_runner):
    language_model = micro_runner.model.model.language_model
    g = torch.Generator().manual_seed(0)
    prefix = torch.randint(5, 200, (2, 7), generator=g)
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, :2] = 0
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        out = language_model(input_ids=prefix, attention_mask=mask, position_ids=positions, use_cache=True)
    kv = [(layer.keys, layer.values) for layer in out.cache.layers]
    prompt_of_row = [0, 0, 0, 1, 1]
    cache = CascadeCache.start([SharedLevel.by_group(kv, mask.bool(), prompt_of_row)], rows=5, room=2)
    tokens = torch.randint(5, 200, (5, 4), generator=g)
    start = positions[prompt_of_row, -1] + 1
    stepped = []
    for t in range(4):  # past the reserved room: the suffix grows
        step = cascade_forward(language_model, language_model, cache, input_ids=tokens[:, t:t + 1],
                               position_ids=(start + t)[:, None])
        stepped.append(step.last_hidden_state[:, -1])
    for row, prompt in enumerate(prompt_of_row):
        pad = int((mask[prompt] == 0).sum())
        ids = torch.cat([prefix[prompt, pad:], tokens[row]])[None]
        with torch.inference_mode():
            alone = language_model(input_ids=ids).last_hidden_state[0, -4:]
        torch.testing.assert_close(torch.stack(stepped, 1)[row], alone, atol=1e-5, rtol=1e-5)
    assert language_model.config._attn_implementation != ATTENTION


def test_the_attention_implementation_is_restored_after_an_error(micro_runner):
    language_model = micro_runner.model.model.language_model
    before = language_model.config._attn_implementation
    with pytest.raises(RuntimeError), cascade_attention_on(language_model):
        assert language_model.config._attn_implementation == ATTENTION
        raise RuntimeError("inside")
    assert language_model.config._attn_implementation == before



def test_a_model_that_drops_the_levels_gets_a_clear_error():
    query = torch.zeros(1, 2, 1, 4)
    with pytest.raises(RuntimeError, match="kv_layout: copied.*--no-share-images"):
        cascade_attention(SimpleNamespace(layer_idx=0), query, query, query, None, scaling=1.0)
