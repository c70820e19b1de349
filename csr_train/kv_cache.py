"""A KV cache with room reserved for one sentence, for the search's ``kv_layout: copied`` token steps.

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

from csr_eval.cascade import ReservedLayer


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
