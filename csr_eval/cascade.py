"""Shared-prefix ("cascade") attention: rows that share a prefix attend to one stored copy of it.

Why: in the sentence-level search every token beam of every frontier node of a prompt continues the same
image + prompt prefix (576 image tokens on LLaVA-1.5), and in evaluation every question about an image does.
Copying that prefix's KV once per row costs ~0.5 MB per token per row at 7B and makes every decoding step
read the same keys tens of times. Here the KV is kept in *levels*: each shared level holds one copy per group
of rows (a prompt's prefix; a tree node's sentences), and the last level is each row's own suffix (its new
tokens), kept in the cache the model writes to. Attention over the concatenation equals the merge of the
attention over each part, weighted by each part's log-sum-exp of scores (as FlashInfer's cascade attention,
Hydragen); nothing is approximated, only the order of float additions changes.

Any model whose attention layers call ``ALL_ATTENTION_FUNCTIONS`` and ``cache.update`` (LLaVA's Llama,
Qwen2.5-VL, Qwen3-VL, Idefics3/SmolVLM in the locked transformers) runs this way: :func:`cascade_forward`
switches the language model to the registered :data:`ATTENTION` for one call and passes the levels along as
a keyword the model forwards to its attention layers. Grouped-query attention is handled without repeating
the KV heads. Plain torch ops, the same on CPU and CUDA.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from transformers import AttentionInterface, DynamicCache
from transformers.cache_utils import DynamicLayer

ATTENTION = "csr_cascade"
MASKED = -1e30  # a masked score: exp() gives 0, and a part with nothing visible gets weight 0 in the merge


@dataclass
class SharedLevel:
    """KV shared by groups of rows: per layer ``(keys, values)`` shaped ``[groups, kv_heads, length, dim]``;
    ``valid`` ``[groups, length]`` marks real positions (False: padding); ``members`` ``[groups, width]`` the
    rows of each group (-1 pads a group with fewer rows). Every row is in exactly one group."""
    kv: list[tuple[torch.Tensor, torch.Tensor]]
    valid: torch.Tensor
    members: torch.Tensor

    def __post_init__(self):
        self.bias = torch.zeros(self.valid.shape, device=self.valid.device).masked_fill(
            ~self.valid.bool(), MASKED)[:, None, None, :]
        self._place_rows()

    def _place_rows(self) -> None:
        flat = self.members.flatten()
        rows = int((flat >= 0).sum())
        slot = torch.empty(rows, dtype=torch.long, device=flat.device)
        slot[flat[flat >= 0]] = torch.nonzero(flat >= 0).flatten()
        self.slot = slot  # where each row's queries sit in the group-major layout
        self.gather = flat.clamp(min=0)

    @classmethod
    def by_group(cls, kv, valid: torch.Tensor, group_of_row: list[int]) -> "SharedLevel":
        """``group_of_row[r]`` is row r's group (an index into ``kv``'s first dimension)."""
        return cls(kv, valid, _members(kv[0][0].shape[0], group_of_row, valid.device))

    def regroup(self, group_of_row: list[int]) -> "SharedLevel":
        """The same KV (and mask) for another set of rows."""
        level = copy.copy(self)
        level.members = _members(self.members.shape[0], group_of_row, self.members.device)
        level._place_rows()
        return level


def _members(groups: int, group_of_row: list[int], device) -> torch.Tensor:
    """``[groups, width]``: each group's rows, -1 where a group has fewer."""
    rows_of = [[] for _ in range(groups)]
    for row, group in enumerate(group_of_row):
        rows_of[group].append(row)
    width = max(1, max(len(r) for r in rows_of))
    return torch.tensor([r + [-1] * (width - len(r)) for r in rows_of], device=device)


class ReservedLayer(DynamicLayer):
    """One layer of KV rows in buffers with room reserved at the end: a step writes one position in place, and
    reordering the rows is one ``index_select``. Why: ``DynamicCache`` grows by ``torch.cat`` at every token,
    copying the whole cache per layer per step (see docs/performance.md)."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, length: int):
        super().__init__()
        self._k, self._v, self.length = keys, values, length
        self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True
        self._views()

    @classmethod
    def empty(cls, like: torch.Tensor, rows: int, room: int) -> "ReservedLayer":
        """No positions yet, room for ``room``; ``like`` gives heads, head size, dtype and device."""
        shape = (rows, like.shape[1], room, like.shape[3])
        return cls(like.new_empty(shape), like.new_empty(shape), 0)  # positions are written before being read

    def _views(self) -> None:
        self.keys = self._k[:, :, :self.length]
        self.values = self._v[:, :, :self.length]

    def update(self, key_states, value_states, *args, **kwargs):
        end = self.length + key_states.shape[-2]
        if end > self._k.shape[2]:  # out of reserved room (not expected): grow by doubling
            grow = max(end, 2 * self._k.shape[2]) - self._k.shape[2]
            self._k = torch.nn.functional.pad(self._k, (0, 0, 0, grow))
            self._v = torch.nn.functional.pad(self._v, (0, 0, 0, grow))
        self._k[:, :, self.length:end] = key_states
        self._v[:, :, self.length:end] = value_states
        self.length = end
        self._views()
        return self.keys, self.values

    def select_rows(self, rows: torch.Tensor) -> None:
        """Keep (and repeat) the given rows; only the written positions are copied, the room stays."""
        self._k, self._v = (self._take(buffer, rows) for buffer in (self._k, self._v))
        self._views()

    def _take(self, buffer: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        out = buffer.new_empty(len(rows), *buffer.shape[1:])
        out[:, :, :self.length] = buffer[:, :, :self.length].index_select(0, rows)
        return out


class CascadeCache(DynamicCache):
    """The rows' own KV (written by the model as any cache) plus the shared levels they attend to first.

    ``suffix_valid`` ``[rows, length]`` marks real suffix positions (None: all real); positions written
    beyond it are real.
    """

    def __init__(self, levels: list[SharedLevel], suffix: list[ReservedLayer], suffix_valid: torch.Tensor | None = None):
        super().__init__()
        self.levels, self.layers, self.suffix_valid = levels, suffix, suffix_valid

    @classmethod
    def start(cls, levels: list[SharedLevel], rows: int, room: int,
              suffix_valid: torch.Tensor | None = None) -> "CascadeCache":
        """Empty suffixes with room for ``room`` tokens, after the given shared levels."""
        return cls(levels, [ReservedLayer.empty(k, rows, room) for k, _ in levels[0].kv], suffix_valid)

    def update(self, key_states, value_states, layer_idx: int, *args, **kwargs):
        keys, values = super().update(key_states, value_states, layer_idx, *args, **kwargs)
        if layer_idx == 0 and self.suffix_valid is not None and self.suffix_valid.shape[1] < keys.shape[2]:
            more = keys.shape[2] - self.suffix_valid.shape[1]
            self.suffix_valid = torch.cat([self.suffix_valid, self.suffix_valid.new_ones(len(keys), more)], 1)
        return keys, values

    def select_rows(self, rows: torch.Tensor) -> None:
        """Reorder the rows' suffixes (beam search); a row keeps its groups (sources stay within a group)."""
        for layer in self.layers:
            layer.select_rows(rows)
        if self.suffix_valid is not None:
            self.suffix_valid = self.suffix_valid.index_select(0, rows)

    def row_suffix(self, row: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """One row's own KV (a copy: the buffers are reused)."""
        return [(layer.keys[row:row + 1].clone(), layer.values[row:row + 1].clone()) for layer in self.layers]


def storage_bytes(tensors) -> int:
    """Bytes of the distinct storages under ``tensors`` (views of one buffer count once)."""
    sizes = {}
    for tensor in tensors:
        storage = tensor.untyped_storage()
        sizes[storage.data_ptr()] = storage.nbytes()
    return sum(sizes.values())


def _partial(query, keys, values, bias, scaling):
    """Attention of ``query`` over one part of the keys, unnormalised: (exp(scores - top) @ values, the sum of
    exp(scores - top), top), with ``top`` the part's largest score; ``bias`` is 0 or :data:`MASKED` (or None)."""
    scores = torch.matmul(query, keys.transpose(-1, -2)).float() * scaling
    if bias is not None:
        scores = scores + bias
    top = scores.amax(-1, keepdim=True)
    probs = torch.exp(scores - top)
    return torch.matmul(probs.to(values.dtype), values).float(), probs.sum(-1, keepdim=True), top


def _merge(parts):
    """Softmax over the union of the parts' keys from their partial results (the log-sum-exp merge)."""
    top = torch.stack([p[2] for p in parts]).amax(0)
    out, total = 0.0, 0.0
    for values, mass, part_top in parts:
        scale = torch.exp(part_top - top)
        out, total = out + scale * values, total + scale * mass
    return out / total


def _suffix_bias(cascade: "CascadeCache", rows: int, per_row: int, q_len: int, suffix_len: int, device):
    """None when every new query sees every suffix key (one new token, no padding); else 0/MASKED: query i of
    the q_len new tokens sees the suffix up to its own position, and only real positions."""
    if q_len == 1 and cascade.suffix_valid is None:
        return None
    visible = torch.arange(suffix_len, device=device)[None, :] <= \
        (suffix_len - q_len + torch.arange(q_len, device=device))[:, None]
    visible = visible.repeat(per_row // q_len, 1)[None, None]
    if cascade.suffix_valid is not None:
        visible = visible & cascade.suffix_valid[:, None, None, -suffix_len:].bool()
    return torch.zeros(visible.shape, device=device).masked_fill(~visible, MASKED)


def cascade_attention(module, query, key, value, attention_mask, scaling, dropout=0.0, cascade=None, **kwargs):
    """The attention function registered as :data:`ATTENTION`: shared levels first, then each row's suffix
    (``key``/``value``, what ``cache.update`` returned) with causal masking among the new queries."""
    if cascade is None:
        raise RuntimeError(f"{type(module).__name__} did not pass the shared-prefix levels to its attention (its "
                           "forward drops extra keywords): use search.kv_layout: copied for the search and "
                           "csr-eval --no-share-images for evaluation with this model")
    rows, q_heads, q_len, dim = query.shape
    kv_heads = key.shape[1]
    grouped = query.reshape(rows, kv_heads, (q_heads // kv_heads) * q_len, dim)  # query heads of each KV head
    bias = _suffix_bias(cascade, rows, grouped.shape[2], q_len, key.shape[2], query.device)
    parts = [_partial(grouped, key, value, bias, scaling)]
    parts += [_level_partial(grouped, level, module.layer_idx, scaling) for level in cascade.levels]
    merged = _merge(parts).to(query.dtype)
    return merged.reshape(rows, q_heads, q_len, dim).transpose(1, 2).contiguous(), None


def _level_partial(grouped, level: SharedLevel, layer: int, scaling):
    """All rows of each group attend together to the group's one copy (their queries side by side)."""
    keys, values = level.kv[layer]
    groups, width = level.members.shape
    rows, kv_heads, per_row, dim = grouped.shape
    queries = grouped[level.gather].view(groups, width, kv_heads, per_row, dim).transpose(1, 2)
    queries = queries.reshape(groups, kv_heads, width * per_row, dim)

    def by_row(t):
        t = t.view(groups, kv_heads, width, per_row, -1).transpose(1, 2).reshape(groups * width, kv_heads, per_row, -1)
        return t[level.slot]
    return tuple(by_row(t) for t in _partial(queries, keys, values, level.bias, scaling))


AttentionInterface.register(ATTENTION, cascade_attention)


@contextmanager
def cascade_attention_on(language_model):
    """Route the language model's attention through :func:`cascade_attention` for the calls inside. Its mask
    builder is skipped (no mask function is registered under :data:`ATTENTION`): the levels carry the masks."""
    config = language_model.config
    before = config._attn_implementation
    config._attn_implementation = ATTENTION
    try:
        yield
    finally:
        config._attn_implementation = before


def cascade_forward(model, language_model, cache: CascadeCache, **inputs):
    """One forward of ``model`` over the rows of ``cache`` (each row's new tokens in ``inputs``)."""
    with cascade_attention_on(language_model), torch.inference_mode():
        return model(**inputs, cache=cache, cascade=cache, use_cache=True)
