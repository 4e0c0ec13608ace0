"""Key/value cache for incremental causal decoding: one preallocated buffer pair per decoder layer."""

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


def new_cache(num_layers: int, capacity: int) -> list[LayerCache]:
    """An empty cache for `num_layers` layers and up to `capacity` positions."""
    return [LayerCache(capacity) for _ in range(num_layers)]
