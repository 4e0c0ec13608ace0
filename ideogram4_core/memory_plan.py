"""Which weight format, branch mode and block streaming fit a memory budget for the sampling stage.

The sampling stage is the largest: the text encoder is freed before it starts and the VAE loads after it (see
`pipeline`). Its peak is the resident weights plus one forward's activations (`models.costs`) plus a fixed
reserve for the CUDA context and allocator slack. A streamed model keeps everything but its blocks resident and
holds at most two blocks at a time (the running one and the prefetched next, `models.offload`), at the cost of
copying all its blocks to the device once per pass. All figures are computed, not measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .models.costs import activation_bytes, block_bytes, dequant_bytes, parameter_counts, weight_bytes
from .models.transformer import TransformerConfig

RESERVE_BYTES = 1 << 30  # CUDA context, cuBLAS workspaces and allocator slack
TWO_MODELS, SINGLE_MODEL, GUIDANCE_1 = "two models", "single model + unconditional LoRA", "guidance 1"
BRANCH_MODES = (TWO_MODELS, SINGLE_MODEL, GUIDANCE_1)
FORMATS = ("bf16", "fp8", "nf4")
NO_STREAMING, STREAM_UNCOND, STREAM_ALL = "none", "unconditional blocks", "all blocks"


@dataclass(frozen=True)
class Weights:
    """One branch's resident weights: everything outside the blocks, and one block."""

    outer: int
    block: int
    layers: int

    @property
    def total(self) -> int:
        return self.outer + self.block * self.layers

    @classmethod
    def computed(cls, cfg: TransformerConfig, fmt: str) -> Weights:
        """From the config: Linear weights in `fmt`, everything else in bf16."""
        return cls(weight_bytes(cfg, fmt, blocks=False), block_bytes(cfg, fmt), cfg.num_layers)

    @classmethod
    def of_total(cls, cfg: TransformerConfig, total: int) -> Weights:
        """Split a measured total (e.g. `inspect`'s resident bytes) by the config's share of block parameters."""
        counts = parameter_counts(cfg)
        block_share = (counts.block_linear + counts.block_other) / counts.total
        block = int(total * block_share) // cfg.num_layers
        return cls(total - block * cfg.num_layers, block, cfg.num_layers)

    def resident(self, streamed: bool) -> int:
        return self.outer + 2 * self.block if streamed else self.total


@dataclass(frozen=True)
class Option:
    """One way to run the sampling stage, with its computed peak and the bytes it copies per step."""

    fmt: str
    branches: str
    streaming: str
    peak_bytes: int
    copy_bytes_per_step: int

    def fits(self, budget_bytes: int) -> bool:
        return self.peak_bytes <= budget_bytes

    def as_dict(self, budget_bytes: int | None = None) -> dict:
        gib = 2**30
        row = {"format": self.fmt, "branches": self.branches, "streaming": self.streaming,
               "peak_gib": round(self.peak_bytes / gib, 2),
               "copy_gib_per_step": round(self.copy_bytes_per_step / gib, 2)}  # fmt: skip
        return row if budget_bytes is None else row | {"fits": self.fits(budget_bytes)}


def sampling_activations(
    cfg: TransformerConfig,
    width: int,
    height: int,
    text_tokens: int,
    quantised: bool,
    branches: str,
    batch: int = 1,
    compute_bytes: int = 2,
) -> int:
    """Activation peak of the larger branch's forward plus dequantisation scratch (`quantised` weights) and
    the reserve."""
    image = (width // 16) * (height // 16)
    peak = activation_bytes(cfg, text_tokens, image, compute_bytes, batch)
    if branches != GUIDANCE_1:
        peak = max(peak, activation_bytes(cfg, 0, image, compute_bytes, batch))
    return peak + (dequant_bytes(cfg, compute_bytes) if quantised else 0) + RESERVE_BYTES


def option(fmt: str, branches: str, streaming: str, cond: Weights, uncond: Weights, activations: int) -> Option:
    """The peak of one (format, branch mode, streaming) choice; `uncond` is used in the two-model mode only."""
    if branches == TWO_MODELS:
        streamed = {NO_STREAMING: (False, False), STREAM_UNCOND: (False, True), STREAM_ALL: (True, True)}[streaming]
        resident = cond.resident(streamed[0]) + uncond.resident(streamed[1])
        copied = streamed[0] * cond.block * cond.layers + streamed[1] * uncond.block * uncond.layers
    else:
        streamed = streaming == STREAM_ALL
        passes = 2 if branches == SINGLE_MODEL else 1
        resident, copied = cond.resident(streamed), streamed * passes * cond.block * cond.layers
    return Option(fmt, branches, streaming, resident + activations, copied)


def streaming_choices(branches: str) -> tuple[str, ...]:
    return (NO_STREAMING, STREAM_UNCOND, STREAM_ALL) if branches == TWO_MODELS else (NO_STREAMING, STREAM_ALL)


def options(
    cfg: TransformerConfig,
    width: int,
    height: int,
    text_tokens: int,
    *,
    weights: dict[str, tuple[Weights, Weights]] | None = None,
    branch_modes: Sequence[str] = BRANCH_MODES,
    batch: int = 1,
    compute_bytes: int = 2,
) -> list[Option]:
    """Every choice in order of preference: the official two models first, resident before streamed, then by
    format (bf16, fp8, nf4). `weights` maps format → (conditional, unconditional) weights; by default both
    are computed from the config for each of `FORMATS`."""
    weights = weights or {fmt: (Weights.computed(cfg, fmt),) * 2 for fmt in FORMATS}
    rows = []
    for branches in branch_modes:
        for streaming in streaming_choices(branches):
            for fmt, (cond, uncond) in weights.items():
                quantised = cond.total < compute_bytes * parameter_counts(cfg).total * 0.9
                activations = sampling_activations(
                    cfg, width, height, text_tokens, quantised, branches, batch, compute_bytes
                )
                rows.append(option(fmt, branches, streaming, cond, uncond, activations))
    return rows


def choose(rows: Sequence[Option], budget_bytes: int) -> Option | None:
    """The first (most preferred) option that fits the budget, or None."""
    return next((row for row in rows if row.fits(budget_bytes)), None)


def streamed_branches(streaming: str, branches: str) -> frozenset[str]:
    """Which loaded models ("cond", "uncond") an option streams; the single model is the "cond" one."""
    if streaming == NO_STREAMING:
        return frozenset()
    if streaming == STREAM_UNCOND:
        return frozenset({"uncond"})
    return frozenset({"cond", "uncond"} if branches == TWO_MODELS else {"cond"})
