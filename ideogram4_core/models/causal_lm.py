"""The text encoder's Qwen3-VL language tower run as a causal LM: the same modules (shared, never copied)
through the final norm and an LM head, with a KV cache for prefill + one-token decode steps.

A prompt may hold one image (`vision.ImageFeatures`): its features replace the embeddings of the image tokens,
its deepstack features are added to their hidden states after the first decoder layers, and the prompt runs on
3-D multimodal rotary positions (`mrope`); the tokens after it continue at the shifted 1-D positions.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ModelFileError
from .kv_cache import KVCache
from .mrope import mrope_cos_sin, multimodal_positions
from .text_encoder import Qwen3TapEncoder, rope_cos_sin
from .tokenizer import VISION_TOKEN_IDS
from .vision import ImageFeatures

IMAGE_TOKEN_ID = VISION_TOKEN_IDS["<|image_pad|>"]


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

    def new_cache(self, capacity: int) -> KVCache:
        """An empty KV cache for up to `capacity` positions."""
        return KVCache(len(self.body.layers), capacity)

    @torch.inference_mode()
    def forward(
        self,
        token_ids: torch.Tensor,
        cache: KVCache,
        all_logits: bool = False,
        image: ImageFeatures | None = None,
    ) -> torch.Tensor:
        """Run `token_ids` (L,) after the cached positions; float32 logits of the last position (vocab,),
        or of every position (L, vocab) with `all_logits`. `image` goes with the first chunk of a sequence, whose
        image tokens (<|image_pad|>) it fills."""
        token_ids = token_ids.to(self.device)
        x = self.body.embed_tokens(token_ids)
        cfg = self.body.config
        if image is None:
            start = cache.length + cache.rope_delta
            cos, sin = rope_cos_sin(start + len(token_ids), cfg.head_dim, cfg.rope_theta, x.device)
            cos, sin, mask, deepstack = cos[start:], sin[start:], None, ()
        else:
            mask = self._place_image(x, token_ids, image, cache)
            positions, cache.rope_delta = multimodal_positions(mask, image.grid)
            cos, sin = mrope_cos_sin(positions, cfg.head_dim, cfg.rope_theta, cfg.mrope_section)
            deepstack = image.deepstack
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        for index, (layer, layer_cache) in enumerate(zip(self.body.layers, cache.layers, strict=True)):
            x = layer(x, cos, sin, layer_cache)
            if index < len(deepstack):
                x[mask] += deepstack[index].to(x.dtype)
        hidden = self.body.norm(x if all_logits else x[-1:])
        logits = self.head(hidden.to(self.head.weight.dtype)).float()
        return logits if all_logits else logits[0]

    def _place_image(
        self, x: torch.Tensor, token_ids: torch.Tensor, image: ImageFeatures, cache: KVCache
    ) -> torch.Tensor:
        """Write the image's embeddings over its tokens' (in place); returns the image tokens' mask."""
        if cache.length:
            raise ValueError("an image must be in the first chunk of a sequence (the prefill)")
        if image.embeds.shape[-1] != x.shape[-1]:
            raise ModelFileError(
                f"The vision tower gives {image.embeds.shape[-1]}-wide features but the language tower is "
                f"{x.shape[-1]} wide: they belong to different models. Use one Qwen3-VL-8B folder for both."
            )
        mask = token_ids == IMAGE_TOKEN_ID
        if int(mask.sum()) != image.tokens:
            raise ValueError(f"the prompt holds {int(mask.sum())} image tokens, the image needs {image.tokens}")
        x[mask] = image.embeds.to(x.dtype)
        return mask
