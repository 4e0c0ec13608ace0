"""``inspect --plan [MODEL] [--vram-budget GB]``: which format, branch mode and streaming fit a memory budget.

Without a model the released sizes are planned for bf16, fp8 and nf4; with a repo folder or transformer the
model's own config and stored weights (headers only, as `inspect` measures them) come first. JSON on stdout;
exit 0 when an option fits the budget (or none was given), 1 when nothing fits.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import ModelFileError
from ..memory_plan import Weights, choose, options
from ..models.transformer import TransformerConfig
from ..weights.identify import identify, is_repo_root
from ..weights.resident import resident_bytes
from ..weights.transformer_weights import read_transformer_config


def plan_report(
    path: Path | None,
    budget_gib: float | None,
    width: int,
    height: int,
    caption_tokens: int,
    compute_dtype: torch.dtype,
) -> dict:
    """The plan as JSON-ready data: every option with its computed peak and, given a budget, the choice."""
    cfg, stored = TransformerConfig(), None
    if path is not None:
        cfg, stored = _model_weights(path, compute_dtype)
    computed = {fmt: (Weights.computed(cfg, fmt),) * 2 for fmt in ("bf16", "fp8", "nf4")}
    weights = ({"as stored": stored} if stored else {}) | computed
    rows = options(cfg, width, height, caption_tokens, weights=weights)
    budget = None if budget_gib is None else int(budget_gib * 2**30)
    chosen = None if budget is None else choose(rows, budget)
    return {
        "model": str(path) if path else "released sizes",
        "blocks": cfg.num_layers,
        "hidden_size": cfg.hidden_size,
        "size": [width, height],
        "caption_tokens": caption_tokens,
        "vram_budget_gib": budget_gib,
        "computed": True,
        "recommended": chosen.as_dict(budget) if chosen else None,
        "options": [row.as_dict(budget) for row in rows],
    }


def _model_weights(path: Path, compute_dtype: torch.dtype) -> tuple[TransformerConfig, tuple[Weights, Weights]]:
    """The config and the stored (conditional, unconditional) weights of a repo folder or one transformer."""
    cond = path / "transformer" if path.is_dir() and is_repo_root(path) else path
    uncond = cond.parent / "unconditional_transformer" if cond != path else None
    cfg = read_transformer_config(cond)
    sizes = [resident_bytes(identify(p), compute_dtype) for p in (cond, uncond) if p is not None and p.exists()]
    if not sizes:
        raise ModelFileError(f"{path}: no transformer weights to plan for.")
    cond_weights = Weights.of_total(cfg, sizes[0])
    return cfg, (cond_weights, Weights.of_total(cfg, sizes[-1]))
