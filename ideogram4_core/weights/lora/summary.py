"""What `inspect` says about a LoRA file: layout, ranks, alphas, targeted modules and blocks, which branch."""

from __future__ import annotations

from pathlib import Path

from ...errors import ModelFileError
from ...models.transformer import TransformerConfig
from .layouts import LAYOUTS
from .reading import read_lora

USE_AS = {
    "cond": "--lora / IG4_LoraLoader strength_cond",
    "uncond": "--unconditional-lora / IG4_LoraLoader strength_uncond",
}


def lora_summary(path: Path) -> dict:
    """The report fields of a LoRA (raises ModelFileError when it is none we can apply)."""
    lora = read_lora(path)
    ranks = sorted({a.rank for a in lora.adapters})
    alphas = sorted({round(a.scale * a.rank, 6) for a in lora.adapters})
    attention = next((a for a in lora.adapters if a.target.endswith(".attention.o")), None)
    hidden = attention.down.shape[1] if attention is not None else None
    try:
        lora.check_fits(TransformerConfig())
        released = True
    except ModelFileError:
        released = False
    branch = lora.branch or "cond"
    return {
        "layout": lora.layout,
        "layout_description": LAYOUTS[lora.layout],
        "rank": ranks[0] if len(ranks) == 1 else ranks,
        "alpha": alphas[0] if len(alphas) == 1 else alphas,
        "modules": sorted({a.module.split(".", 2)[-1] if a.module.startswith("layers.") else a.module
                           for a in lora.adapters}),
        "blocks": lora.blocks(),
        "adapted_layers": len({a.target for a in lora.adapters}),
        "hidden_size": hidden,
        "fits_released_model": released,
        "branch": "unconditional" if branch == "uncond" else "conditional (the unconditional branch if chosen)",
        "use_as": USE_AS[branch],
    }  # fmt: skip
