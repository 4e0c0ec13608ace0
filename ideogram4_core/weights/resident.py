"""How many bytes a model file or folder keeps resident once loaded, from its headers alone."""

from __future__ import annotations

import math

import torch

from ..models.text_encoder import TAP_LAYERS
from . import identify_rules as rules
from .identify import Identity

_NEVER_RESIDENT = (".comfy_quant", ".quant_state.bitsandbytes__nf4", ".quant_state.bitsandbytes__fp4")


def resident_bytes(identity: Identity, compute_dtype: torch.dtype) -> int:
    """Memory the loader keeps: plain floats at `compute_dtype`, quantised tensors (GGUF blocks, int8, fp8,
    packed 4-bit) and their scales as stored; JSON markers are not kept.

    The text encoder counts only what its loader reads (embedding, layers up to the last tap, and the final norm
    when it follows that layer).
    """
    size = torch.empty((), dtype=compute_dtype).element_size()
    tensors = {n: i for h in identity.headers for n, i in h.tensors.items() if not n.endswith(_NEVER_RESIDENT)}
    if identity.family == rules.TEXT_ENCODER:
        layers = {rules.layer_index(n) for n in tensors} - {None}
        final_norm = max(layers, default=-1) == max(TAP_LAYERS)  # the loader keeps it when it follows the last tap
        tensors = {n: i for n, i in tensors.items() if _text_encoder_loads(n, final_norm)}
    cast = {n for n, i in tensors.items() if i.dtype in rules.FLOAT_DTYPES and rules.parameters(n, i)}
    return sum(math.prod(i.shape) * size if n in cast else i.nbytes for n, i in tensors.items())


def _text_encoder_loads(name: str, final_norm: bool) -> bool:
    if name.startswith(("visual.", "model.visual.")):
        return False
    if name.endswith("embed_tokens.weight"):
        return True
    layer = rules.layer_index(name)
    if layer is None:
        return final_norm and name.endswith("norm.weight")
    return layer <= max(TAP_LAYERS)
