"""The magic prompt's LM head: a (vocab, hidden) projection from the official `prompt_enhancer_head/` folder,
the Hugging Face Qwen3-VL original's `lm_head.weight`, or a single .safetensors file holding it."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn

from ..errors import ModelFileError
from ..weights.identify import identify, read_weight_header

HEAD_FOLDER = "prompt_enhancer_head"
"""The official repo's folder for the head (diffusers `Ideogram4PromptEnhancerHead`: config.json + weights)."""
HEAD_TENSOR = "lm_head.weight"
_FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
WHERE_HEAD = (
    f"put the official {HEAD_FOLDER}/ folder (config.json + weights) next to text_encoder/ in the model folder, "
    f"or pass the LM head explicitly (--lm-head): a {HEAD_FOLDER}/ folder, the Hugging Face Qwen3-VL-8B-Instruct "
    f"folder (its safetensors hold {HEAD_TENSOR}), or one .safetensors file holding {HEAD_TENSOR}"
)


def head_candidates(text_encoder: str | Path) -> list[Path]:
    """Where a head may sit for a text encoder: the HF original folder itself, `prompt_enhancer_head/` inside
    a repo root, next to `text_encoder/`, or next to a single file."""
    path = Path(text_encoder)
    folder = path if path.is_dir() else path.parent
    candidates = [path] if path.is_dir() else []
    candidates += [folder / HEAD_FOLDER, folder.parent / HEAD_FOLDER]
    return list(dict.fromkeys(candidates))


def find_lm_head(text_encoder: str | Path) -> Path:
    """The first candidate that holds a head (see `head_candidates`), else ModelFileError naming where it goes."""
    candidates = head_candidates(text_encoder)
    for candidate in candidates:
        if candidate.exists() and _head_file(candidate) is not None:
            return candidate
    searched = ", ".join(str(c) for c in candidates)
    raise ModelFileError(f"The magic prompt needs an LM head, and none was found (looked in {searched}): {WHERE_HEAD}.")


def load_lm_head(
    path: str | Path, *, vocab_size: int, hidden_size: int, device: torch.device | str, dtype: torch.dtype
) -> nn.Linear:
    """The head as a bias-free Linear in `dtype` on `device`; refuses other files and mismatched sizes."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"The LM head {path} does not exist: {WHERE_HEAD}.")
    file = _head_file(path)
    if file is None:
        raise ModelFileError(f"{path} is {_describe(path)}, not an LM head (it holds no {HEAD_TENSOR}): {WHERE_HEAD}.")
    with safe_open(str(file), framework="pt", device=str(device)) as f:
        weight = f.get_tensor(HEAD_TENSOR)
    if weight.dtype not in _FLOAT_DTYPES:
        raise ModelFileError(
            f"{file.name} stores {HEAD_TENSOR} as {weight.dtype}; the LM head must be bf16, fp16 or fp32 "
            "(quantised heads are not supported). Use the official prompt_enhancer_head/ weights."
        )
    if tuple(weight.shape) != (vocab_size, hidden_size):
        raise ModelFileError(
            f"{file.name}'s {HEAD_TENSOR} is {tuple(weight.shape)}, but the text encoder needs "
            f"({vocab_size}, {hidden_size}) (vocabulary, hidden size): the head belongs to another model. "
            "Use the Qwen3-VL-8B head (the official prompt_enhancer_head/)."
        )
    _check_config(path, vocab_size, hidden_size)
    head = nn.Linear(hidden_size, vocab_size, bias=False, device="meta")
    head.weight = nn.Parameter(weight.to(dtype), requires_grad=False)
    return head.eval()


def _head_file(path: Path) -> Path | None:
    """The .safetensors file under `path` that holds HEAD_TENSOR, or None."""
    files = sorted(path.glob("*.safetensors")) if path.is_dir() else [path]
    for file in files:
        if file.suffix == ".safetensors" and HEAD_TENSOR in read_weight_header(file).tensors:
            return file
    return None


def _check_config(path: Path, vocab_size: int, hidden_size: int) -> None:
    """A prompt_enhancer_head/ config.json must state the same sizes as its weight."""
    config_file = path / "config.json" if path.is_dir() else None
    if config_file is None or not config_file.is_file():
        return
    config = json.loads(config_file.read_text(encoding="utf-8"))
    stated = (config.get("vocab_size"), config.get("hidden_size"))
    if "_class_name" in config and stated != (vocab_size, hidden_size):
        raise ModelFileError(
            f"{config_file} states vocab_size {stated[0]} / hidden_size {stated[1]}, not {vocab_size} / "
            f"{hidden_size}: the folder is inconsistent. Download {HEAD_FOLDER}/ again."
        )


def _describe(path: Path) -> str:
    """What identify() makes of a file that is not a head ("a LoRA ...", "the FLUX.2 VAE", ...)."""
    try:
        return identify(path).description
    except ModelFileError as exc:
        return f"unreadable as weights ({exc})"
