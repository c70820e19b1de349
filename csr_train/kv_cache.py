"""A KV cache with room reserved for one sentence, for the sentence-level search's token steps.

Why: ``DynamicCache`` grows by ``torch.cat`` at every token, copying the whole cache (image tokens, prompt
and every sentence so far) per layer per step, and wrapping a list of tensors in a new ``DynamicCache`` copies
it once more. In the search that was the dominant cost (more than half of candidate generation on the micro
model; see docs/performance.md). Here each layer is allocated once per sentence step with room for
``max_sentence_tokens`` more positions: a step writes one position in place, and the beams' reordering is
one ``index_select`` of the rows, skipped when no beam changed source.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer


class ReservedLayer(DynamicLayer):
    """A layer whose ``keys``/``values`` are views of buffers with spare positions at the end."""

    def __init__(self, key_buffer: torch.Tensor, value_buffer: torch.Tensor, length: int):
        super().__init__()
        self._k, self._v, self.length = key_buffer, value_buffer, length
        self.dtype, self.device, self.is_initialized = key_buffer.dtype, key_buffer.device, True
        self._views()

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
        self._k = self._k.index_select(0, rows)
        self._v = self._v.index_select(0, rows)
        self._views()


class ReservedCache(DynamicCache):
    """``DynamicCache`` made of :class:`ReservedLayer` s."""

    def __init__(self, layers: list[ReservedLayer]):
        super().__init__()
        self.layers = layers

    @classmethod
    def from_rows(cls, rows: list[list[tuple[torch.Tensor, torch.Tensor]]], repeat: int, room: int) -> "ReservedCache":
        """One batch from per-row caches (each ``[1, heads, length_i, dim]`` per layer): rows left-padded with
        zeros to the longest, each repeated ``repeat`` times, ``room`` free positions after; one copy per row."""
        longest = max(row[0][0].shape[2] for row in rows)
        layers = []
        for layer in range(len(rows[0])):
            buffers = []
            for which in (0, 1):
                first = rows[0][layer][which]
                buffer = first.new_empty(len(rows) * repeat, first.shape[1], longest + room, first.shape[3])
                for i, row in enumerate(rows):
                    tensor, pad = row[layer][which], longest - row[layer][which].shape[2]
                    buffer[i * repeat:(i + 1) * repeat, :, :pad] = 0  # masked, but must not be NaN garbage
                    buffer[i * repeat:(i + 1) * repeat, :, pad:longest] = tensor
                buffers.append(buffer)
            layers.append(ReservedLayer(buffers[0], buffers[1], longest))
        return cls(layers)

    def select_rows(self, rows: torch.Tensor) -> None:
        """Reorder (and repeat) rows, as beam search does after choosing each beam's source."""
        for layer in self.layers:
            layer.select_rows(rows)

    def tensors(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(layer.keys, layer.values) for layer in self.layers]
