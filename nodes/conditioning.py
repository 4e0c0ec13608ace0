"""IDEOGRAM4_CONDITIONING: encoded captions, and the in-process cache of encodings.

Plain data, no ComfyUI imports. Features stay on the text encoder's offload device (normally the CPU) until
the sampler moves them to its device.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch

CONDITIONING_TYPE = "IDEOGRAM4_CONDITIONING"


@dataclass(frozen=True)
class Ideogram4Conditioning:
    """Per-caption float32 text features (L_i, F), the captions and their exact token counts."""

    features: tuple[torch.Tensor, ...]
    captions: tuple[str, ...]
    token_counts: tuple[int, ...]

    @property
    def feature_dim(self) -> int:
        return self.features[0].shape[-1]


class EncodingCache:
    """Least-recently-used caption features per text encoder, bounded by entries and bytes per encoder.

    Keyed weakly by the encoder value, so a reloaded (new) encoder never sees the old one's features and a
    dropped encoder's entries go with it.
    """

    def __init__(self, max_entries: int = 8, max_bytes: int = 2 << 30) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._by_encoder: weakref.WeakKeyDictionary[Any, OrderedDict[str, torch.Tensor]] = weakref.WeakKeyDictionary()

    def get(self, encoder: Any, caption: str) -> torch.Tensor | None:
        entries = self._by_encoder.get(encoder)
        if entries is None or caption not in entries:
            return None
        entries.move_to_end(caption)
        return entries[caption]

    def put(self, encoder: Any, caption: str, features: torch.Tensor) -> None:
        entries = self._by_encoder.setdefault(encoder, OrderedDict())
        entries[caption] = features
        entries.move_to_end(caption)
        while len(entries) > 1 and (
            len(entries) > self.max_entries or sum(f.nbytes for f in entries.values()) > self.max_bytes
        ):
            entries.popitem(last=False)
