"""LoRA files in every layout the engine reads, and the exact reference: the same LoRA merged into the weights.

`peft_lora` trains nothing but goes through the real writers: PEFT's `LoraConfig` / `add_adapter` with random
(non-zero) initialisation, `get_peft_model_state_dict`, and diffusers' `Ideogram4Pipeline.save_lora_weights`
(which stores PEFT's config as `lora_adapter_metadata`). ai-toolkit, kohya/ComfyUI and OneTrainer have no
PyPI writer; `write_lora` stores an `Adapter` list in their documented key layouts. `merged` returns a copy of a
diffusers transformer with W + Σ strength · scale · B A in every adapted layer: the reference for any layout.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import Ideogram4Pipeline
from peft import LoraConfig, get_peft_model_state_dict
from safetensors.torch import save_file
from torch import nn

SPLIT = {
    "attention.qkv": ("attention.to_q", "attention.to_k", "attention.to_v"),
    "attention.o": ("attention.to_out.0",),
}


@dataclass(frozen=True)
class Adapter:
    """One low-rank pair in diffusers or original module names: ΔW = alpha / rank · B A (alpha None: scale 1)."""

    module: str
    down: torch.Tensor  # A [rank, in]
    up: torch.Tensor  # B [out, rank]
    alpha: float | None = None

    @property
    def scale(self) -> float:
        return 1.0 if self.alpha is None else self.alpha / self.down.shape[0]


def diffusers_layer(model: nn.Module, module: str) -> tuple[nn.Linear, ...]:
    """The diffusers Linear(s) an original or diffusers module name covers (fused qkv → to_q, to_k, to_v)."""
    for fused, parts in SPLIT.items():
        if module.endswith(fused):
            stem = module[: -len(fused)]
            return tuple(model.get_submodule(stem + part) for part in parts)
    return (model.get_submodule(module),)


def random_adapters(model: nn.Module, modules: Sequence[str], rank: int, seed: int, alpha: float | None = None):
    """Random pairs for `modules` (names as the layout stores them), sized from the diffusers model."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for module in modules:
        layers = diffusers_layer(model, module)
        rows, cols = sum(layer.out_features for layer in layers), layers[0].in_features
        down = torch.randn(rank, cols, generator=gen) / cols**0.5
        out.append(Adapter(module, down, torch.randn(rows, rank, generator=gen) * 0.3, alpha))
    return out


def merged(model: nn.Module, *stacks: tuple[Sequence[Adapter], float]) -> nn.Module:
    """A copy of the diffusers transformer with every (adapters, strength) merged into its weights (fp32)."""
    result = copy.deepcopy(model)
    with torch.no_grad():
        for adapters, strength in stacks:
            for adapter in adapters:
                delta = strength * adapter.scale * (adapter.up.double() @ adapter.down.double())
                layers = diffusers_layer(result, adapter.module)
                for layer, part in zip(layers, delta.split([l.out_features for l in layers]), strict=True):  # noqa: E741
                    layer.weight.add_(part.to(layer.weight.dtype))
    return result


def write_lora(file: Path, adapters: Sequence[Adapter], layout: str, metadata: dict | None = None) -> Path:
    """Store adapters as `layout` writes them: "ai-toolkit", "kohya" (lora_unet_), "kohya-comfy"
    (diffusion_model. with lora_down/up), "onetrainer" (lora_transformer_) or "peft" (transformer., no alpha)."""
    tensors = {}
    for a in adapters:
        if layout == "ai-toolkit":
            tensors |= {
                f"diffusion_model.{a.module}.lora_A.weight": a.down,
                f"diffusion_model.{a.module}.lora_B.weight": a.up,
            }
        elif layout == "peft":
            tensors |= {f"transformer.{a.module}.lora_A.weight": a.down, f"transformer.{a.module}.lora_B.weight": a.up}
        else:
            stem = {"kohya": "lora_unet_", "onetrainer": "lora_transformer_"}.get(layout)
            name = f"{stem}{a.module.replace('.', '_')}" if stem else f"diffusion_model.{a.module}"
            tensors |= {f"{name}.lora_down.weight": a.down, f"{name}.lora_up.weight": a.up}
            if a.alpha is not None:
                tensors[f"{name}.alpha"] = torch.tensor(float(a.alpha))
    file.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, file, metadata=metadata)
    return file


def peft_lora(
    folder: Path,
    model: nn.Module,
    targets: Sequence[str],
    rank: int,
    alpha: float,
    seed: int,
    name: str = "peft_lora.safetensors",
) -> tuple[Path, list[Adapter]]:
    """A diffusers/PEFT LoRA file written by PEFT and diffusers; returns it and its pairs (diffusers names)."""
    torch.manual_seed(seed)
    work = copy.deepcopy(model)
    config = LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(targets), init_lora_weights=False)
    work.add_adapter(config)
    state = get_peft_model_state_dict(work)
    Ideogram4Pipeline.save_lora_weights(
        folder, transformer_lora_layers=state, transformer_lora_adapter_metadata=config.to_dict(), weight_name=name
    )
    modules = sorted({key.removesuffix(".lora_A.weight") for key in state if key.endswith(".lora_A.weight")})
    adapters = [Adapter(m, state[f"{m}.lora_A.weight"], state[f"{m}.lora_B.weight"], alpha) for m in modules]
    return folder / name, adapters
