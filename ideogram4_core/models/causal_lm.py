"""The text encoder's Qwen3-VL language tower run as a causal LM: the same modules (shared, never copied)
through the final norm and an LM head, with a KV cache for prefill + one-token decode steps."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ModelFileError
from .kv_cache import LayerCache, new_cache
from .text_encoder import Qwen3TapEncoder, rope_cos_sin


class CausalLM:
    """Logits of the next token from a `Qwen3TapEncoder` body and an LM head (vocab, hidden)."""

    def __init__(self, body: Qwen3TapEncoder, head: nn.Linear) -> None:
        cfg = body.config
        if len(body.layers) != cfg.num_layers:
            raise ModelFileError(
                f"The text encoder has {cfg.num_layers} decoder layers but only {len(body.layers)} are built; the "
                "magic prompt runs the whole tower, so it supports Qwen3-VL-8B's 36-layer tower only."
            )
        if body.norm is None:
            raise ModelFileError(
                "The text encoder file lacks the language tower's final norm (norm.weight), which the magic prompt "
                "needs. Use the complete text_encoder/ folder or a complete Qwen3-VL-8B file."
            )
        if (head.out_features, head.in_features) != (cfg.vocab_size, cfg.hidden_size):
            raise ModelFileError(
                f"The LM head is {head.out_features}×{head.in_features}, the text encoder needs "
                f"{cfg.vocab_size}×{cfg.hidden_size}; they belong to different models."
            )
        self.body = body
        self.head = head

    @property
    def device(self) -> torch.device:
        return self.body.embed_tokens.weight.device

    def new_cache(self, capacity: int) -> list[LayerCache]:
        """An empty KV cache for up to `capacity` positions."""
        return new_cache(len(self.body.layers), capacity)

    @torch.inference_mode()
    def forward(self, token_ids: torch.Tensor, cache: list[LayerCache], all_logits: bool = False) -> torch.Tensor:
        """Run `token_ids` (L,) after the cached positions; float32 logits of the last position (vocab,),
        or of every position (L, vocab) with `all_logits`."""
        start = cache[0].length
        x = self.body.embed_tokens(token_ids.to(self.device))
        cfg = self.body.config
        cos, sin = rope_cos_sin(start + len(token_ids), cfg.head_dim, cfg.rope_theta, x.device)
        cos, sin = cos[start:].to(x.dtype), sin[start:].to(x.dtype)
        for layer, layer_cache in zip(self.body.layers, cache, strict=True):
            x = layer(x, cos, sin, layer_cache)
        hidden = self.body.norm(x if all_logits else x[-1:])
        logits = self.head(hidden.to(self.head.weight.dtype)).float()
        return logits if all_logits else logits[0]
