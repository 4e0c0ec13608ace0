"""Key/value cache for incremental causal decoding: one preallocated buffer pair per decoder layer, and the
rotary position offset of the sequence (non-zero after a prompt holding an image)."""

from __future__ import annotations

import torch


class LayerCache:
    """Keys and values (kv_heads, capacity, head_dim) of one attention layer; `length` positions are filled."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.length = 0
        self._keys: torch.Tensor | None = None
        self._values: torch.Tensor | None = None

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store (kv_heads, n, head_dim) new keys and values; return all cached ones so far."""
        if self._keys is None:
            shape = (keys.shape[0], self.capacity, keys.shape[2])
            self._keys = keys.new_empty(shape)
            self._values = values.new_empty(shape)
        end = self.length + keys.shape[1]
        if end > self.capacity:
            raise ValueError(f"the KV cache holds {self.capacity} positions; {end} were asked for")
        self._keys[:, self.length : end] = keys
        self._values[:, self.length : end] = values
        self.length = end
        return self._keys[:, :end], self._values[:, :end]


class KVCache:
    """The caches of every layer of one sequence.

    `rope_delta` is added to a token's index to get its rotary position: 0 for text, negative after an image
    (its tokens span fewer positions than tokens, see `mrope.multimodal_positions`).
    """

    def __init__(self, num_layers: int, capacity: int) -> None:
        self.layers = [LayerCache(capacity) for _ in range(num_layers)]
        self.rope_delta = 0

    @property
    def length(self) -> int:
        """Positions filled so far."""
        return self.layers[0].length
