"""The search's reserved KV cache gives the model exactly what DynamicCache gives it, with rows reordered and
beyond its reserved room."""

from __future__ import annotations

import torch
from transformers import DynamicCache

from csr_train.kv_cache import ReservedCache


def _prefix(micro_runner, rows: int):
    model = micro_runner.model
    ids = torch.randint(5, 200, (rows, 7), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        out = model.model.language_model(input_ids=ids, use_cache=True)
    return model, [(layer.keys, layer.values) for layer in out.cache.layers]


def _step(model, cache, token, position):
    with torch.inference_mode():
        out = model.model.language_model(input_ids=token, position_ids=position, cache=cache, use_cache=True)
    return out.last_hidden_state[:, -1]


def test_steps_reorders_and_growth_match_dynamic_cache(micro_runner):
    model, layers = _prefix(micro_runner, rows=3)
    dynamic = DynamicCache(ddp_cache_data=[(k.clone(), v.clone()) for k, v in layers])
    reserved = ReservedCache.from_rows([[(k[r:r + 1], v[r:r + 1]) for k, v in layers] for r in range(3)], 1, room=2)
    order = torch.tensor([2, 0, 0])
    for step in range(5):  # room for 2: the last steps grow the buffers
        token = torch.full((3, 1), 10 + step)
        position = torch.full((3, 1), 7 + step)
        a, b = _step(model, dynamic, token, position), _step(model, reserved, token, position)
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
        if step == 1:
            dynamic.reorder_cache(order)
            reserved.select_rows(order)
    assert reserved.layers[0].keys.shape == dynamic.layers[0].keys.shape == (3, *layers[0][0].shape[1:2], 12,
                                                                              layers[0][0].shape[-1])


def test_rows_of_different_lengths_are_left_padded_with_zeros_and_repeated(micro_runner):
    _, layers = _prefix(micro_runner, rows=2)
    short = [(k[:1, :, 3:], v[:1, :, 3:]) for k, v in layers]
    full = [(k[1:2], v[1:2]) for k, v in layers]
    cache = ReservedCache.from_rows([short, full], repeat=2, room=4)
    keys = cache.layers[0].keys
    assert keys.shape[0] == 4 and keys.shape[2] == 7 and cache.layers[0]._k.shape[2] == 11
    assert torch.equal(keys[0, :, :3], torch.zeros_like(keys[0, :, :3]))
    torch.testing.assert_close(keys[1, :, 3:], short[0][0][0])
    torch.testing.assert_close(keys[3], full[0][0][0])
