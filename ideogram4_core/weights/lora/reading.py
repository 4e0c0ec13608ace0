"""Reading a LoRA file: header checks first (what it is, whether it fits), then tensors, each checked.

`read_lora(path)` returns a `LoraFile`: one `LowRank` adapter per adapted module, in our model's names, with
its scale resolved (kohya `.alpha` / rank, PEFT `lora_adapter_metadata`, else 1). Everything that cannot be
applied exactly is refused with one message naming the file and the fix: other model families' LoRAs, full
models, unknown layouts, DoRA/LoKr/LoHa, incomplete pairs, NaN/Inf, and (with `check_fits`) shapes of another
model size.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from ...errors import ModelFileError
from ...models.transformer import TransformerConfig
from .. import identify_rules as rules
from ..safetensors_io import SafetensorsHeader, load_tensors, read_header
from .layouts import (
    ALPHA,
    BLOCK_MODULES,
    DOWN,
    LAYOUTS,
    TOP_MODULES,
    UP,
    AdapterKey,
    adapter_key,
    foreign_family,
    layout_of,
    split_role,
    unsupported_kind,
)

PEFT_METADATA = "lora_adapter_metadata"


@dataclass(frozen=True)
class LowRank:
    """ΔW = scale · up @ down for the rows of `target` this adapter covers (a q/k/v third, or all)."""

    module: str  # the module as the file names it (normalised), e.g. "layers.0.attention.to_q"
    target: str  # our layer, e.g. "layers.0.attention.qkv"
    third: int | None
    down: torch.Tensor  # [rank, in]
    up: torch.Tensor  # [rows, rank]
    scale: float

    @property
    def rank(self) -> int:
        return self.down.shape[0]


@dataclass(frozen=True)
class LoraFile:
    path: Path
    layout: str  # a layouts.LAYOUTS id
    adapters: tuple[LowRank, ...]
    branch: str | None  # "uncond" when the file says it is for the unconditional branch, else None

    @property
    def name(self) -> str:
        return self.path.name

    def blocks(self) -> list[int]:
        return sorted({int(a.target.split(".")[1]) for a in self.adapters if a.target.startswith("layers.")})

    def check_fits(self, config: TransformerConfig) -> None:
        """Refuse adapters whose shapes or block numbers do not exist in a model of `config`'s size."""
        shapes = linear_shapes(config)
        for adapter in self.adapters:
            out_features, in_features = shapes.get(adapter.target, (None, None))
            rows = out_features if adapter.third is None or out_features is None else out_features // 3
            got = (adapter.up.shape[0], adapter.down.shape[1])
            if out_features is None or got != (rows, in_features):
                expected = "absent" if out_features is None else f"{rows}×{in_features}"
                raise ModelFileError(
                    f"{self.name} does not fit this model: {adapter.module} is {got[0]}×{got[1]} in the LoRA but "
                    f"{expected} in the loaded Ideogram 4 ({config.num_layers} blocks, hidden {config.hidden_size}). "
                    "It was trained for a different model size; use a LoRA made for this model."
                )


def linear_shapes(config: TransformerConfig) -> dict[str, tuple[int, int]]:
    """(out, in) of every Linear of a transformer of this size, by our module path."""
    hidden, ffn, adaln = config.hidden_size, config.intermediate_size, config.adaln_dim
    top = dict(
        zip(
            TOP_MODULES,
            (
                (hidden, config.in_channels),
                (hidden, config.llm_features_dim),
                (hidden, hidden),
                (hidden, hidden),
                (adaln, hidden),
                (config.in_channels, hidden),
                (hidden, adaln),
            ),
            strict=True,
        )
    )
    block = dict(zip(BLOCK_MODULES, ((3 * hidden, hidden), (hidden, hidden), (ffn, hidden), (hidden, ffn),
                 (ffn, hidden), (4 * hidden, adaln)), strict=True))  # fmt: skip
    return top | {f"layers.{i}.{name}": shape for i in range(config.num_layers) for name, shape in block.items()}


def read_lora_header(path: str | Path) -> tuple[SafetensorsHeader, dict[str, AdapterKey], str]:
    """The header, each tensor's place in our model and the layout; refuses what is no Ideogram 4 LoRA."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"LoRA file not found: {path}. Check the path (ComfyUI: put it in models/loras).")
    header = read_header(path)
    names = list(header.tensors)
    keys = {name: key for name in names if (key := adapter_key(name)) is not None}
    lora_names = [name for name in names if split_role(name) is not None]
    if not lora_names and not unsupported_kind(names):
        _refuse_non_lora(path, header)
    kind = unsupported_kind(names) or ("DoRA" if _peft_metadata(header).get("use_dora") else None)
    if kind:
        raise ModelFileError(
            f"{path.name} is a {kind} adapter; only plain low-rank LoRAs (lora_A/lora_B or lora_down/lora_up) can be "
            "applied exactly. Merge it into a plain LoRA (e.g. with the trainer's export), or use a plain LoRA."
        )
    stray = [name for name in names if name not in keys]
    if stray:
        family = foreign_family(stray)
        if family != rules.UNKNOWN and len(stray) == len(names):
            raise ModelFileError(f"{path.name} is {family}, not an Ideogram 4 LoRA. Use a LoRA trained for Ideogram 4.")
        raise ModelFileError(
            f"{path.name} has {len(stray)} tensor(s) that match no Ideogram 4 layer, such as {stray[0]!r}; its layout "
            f"is unknown. Supported layouts: {'; '.join(LAYOUTS.values())}."
        )
    return header, keys, layout_of(names)


def _refuse_non_lora(path: Path, header: SafetensorsHeader) -> None:
    found = rules.classify(rules.Keys([header]))
    what = found[1] if found else f"no LoRA (tensors named like {next(iter(header.tensors), 'nothing')!r})"
    hint = " Load it with --transformer / IG4_ModelLoader instead." if found and found[0] == rules.TRANSFORMER else ""
    raise ModelFileError(f"{path.name} is {what}, not a LoRA.{hint}")


def _peft_metadata(header: SafetensorsHeader) -> dict:
    """PEFT's LoraConfig as diffusers stores it (`lora_adapter_metadata`, keys maybe under `transformer.`)."""
    raw = header.metadata.get(PEFT_METADATA)
    if not raw:
        return {}
    try:
        config = json.loads(raw)
    except json.JSONDecodeError:
        raise ModelFileError(f"{header.path.name} has a corrupt {PEFT_METADATA} entry. Download it again.") from None
    return {k.removeprefix("transformer."): v for k, v in config.items()} if isinstance(config, dict) else {}


def read_lora(path: str | Path) -> LoraFile:
    """Read and check a LoRA file (see the module docstring); tensors are float32 on the CPU."""
    header, keys, layout = read_lora_header(path)
    tensors = load_tensors([header.path])
    modules: dict[str, tuple[AdapterKey, dict[str, torch.Tensor]]] = {}
    for name, key in keys.items():
        tensor = tensors[name]
        if not tensor.is_floating_point() or not bool(torch.isfinite(tensor).all()):
            raise ModelFileError(
                f"{header.path.name}: {name} holds NaN/Inf or non-float values; the LoRA is broken (a diverged "
                "training run or a damaged download). Use another checkpoint of it."
            )
        modules.setdefault(key.module, (key, {}))[1][key.role] = tensor.float()
    peft = _peft_metadata(header)
    adapters = tuple(_adapter(header.path, key, parts, peft) for key, parts in modules.values())
    if not adapters:
        raise ModelFileError(f"{header.path.name} holds no adapter weights (only alpha values). Use a complete LoRA.")
    branch = "uncond" if "uncond" in header.path.name.lower() or header.metadata.get("branch") == "uncond" else None
    return LoraFile(header.path, layout, adapters, branch)


def _adapter(path: Path, key: AdapterKey, parts: Mapping[str, torch.Tensor], peft: Mapping) -> LowRank:
    module = key.module
    if DOWN not in parts or UP not in parts:
        missing = "down (lora_A / lora_down)" if DOWN not in parts else "up (lora_B / lora_up)"
        raise ModelFileError(f"{path.name}: {module} lacks its {missing} weight; the LoRA is incomplete.")
    down, up = parts[DOWN], parts[UP]
    if down.ndim != 2 or up.ndim != 2 or down.shape[0] != up.shape[1]:
        raise ModelFileError(
            f"{path.name}: {module} has down {tuple(down.shape)} and up {tuple(up.shape)}, which are no low-rank "
            "pair of linear weights. The LoRA is damaged or not for a transformer's Linear layers."
        )
    return LowRank(module, key.target, key.third, down, up, _scale(module, down.shape[0], parts.get(ALPHA), peft))


def _scale(module: str, rank: int, alpha: torch.Tensor | None, peft: Mapping) -> float:
    """alpha / rank: the file's alpha, else PEFT's (alpha_pattern, lora_alpha, rsLoRA), else 1."""
    if alpha is not None:
        return float(alpha.reshape(())) / rank
    if not peft:
        return 1.0
    pattern = peft.get("alpha_pattern") or {}
    value = next((v for k, v in pattern.items() if module == k or module.endswith(f".{k}")), peft.get("lora_alpha"))
    if value is None:
        return 1.0
    return float(value) / (math.sqrt(rank) if peft.get("use_rslora") else rank)
