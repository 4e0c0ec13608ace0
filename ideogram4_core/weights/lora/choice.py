"""Which LoRAs a run uses on which branch, as the CLI and the pipeline take them (`FILE[:STRENGTH]`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ...errors import Ideogram4Error
from .apply import LoraStack, LoraUse
from .reading import read_lora


@dataclass(frozen=True)
class LoraRequest:
    path: Path
    strength: float = 1.0


@dataclass(frozen=True)
class LoraChoice:
    """LoRAs per branch; `unconditional_from_conditional` runs the unconditional branch on the conditional
    weights plus `uncond` (single-model mode: the unconditional file is neither needed nor read)."""

    cond: tuple[LoraRequest, ...] = ()
    uncond: tuple[LoraRequest, ...] = ()
    unconditional_from_conditional: bool = False

    def stacks(self) -> tuple[LoraStack, LoraStack]:
        """Read and check every file (before any model weights are read): (conditional, unconditional) stacks."""
        return load_stack(self.cond), load_stack(self.uncond)

    def describe(self) -> str:
        parts = [f"LoRA {r.path.name} @ {r.strength:g}" for r in self.cond]
        parts += [f"unconditional LoRA {r.path.name} @ {r.strength:g}" for r in self.uncond]
        if self.unconditional_from_conditional:
            parts.append("single-model mode")
        return ", ".join(parts)


def load_stack(requests: tuple[LoraRequest, ...]) -> LoraStack:
    return tuple(LoraUse(read_lora(r.path), r.strength) for r in requests)


def check_strength(value: float, where: str) -> float:
    if not math.isfinite(value):
        raise Ideogram4Error(f"The strength of {where} is {value}; give a finite number such as 0.8 or -0.5.")
    return value


def parse_lora_argument(text: str) -> LoraRequest:
    """`FILE` or `FILE:STRENGTH` (strength a number, negative allowed; a Windows drive colon is no strength)."""
    path, sep, tail = text.rpartition(":")
    if not sep or not path or "/" in tail or "\\" in tail or (len(path) == 1 and path.isalpha()):
        return LoraRequest(Path(text))
    try:
        strength = float(tail)
    except ValueError:
        raise Ideogram4Error(
            f"The LoRA strength {tail!r} in {text!r} is not a number; write FILE:STRENGTH, e.g. {path}:0.8."
        ) from None
    return LoraRequest(Path(path), check_strength(strength, path))
