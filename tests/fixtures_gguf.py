"""GGUF files written with the `gguf` package's own writer (GGUFWriter) from tiny random models.

Types `gguf.quants.quantize` implements (Q8_0, Q5_0/Q5_1, Q4_0/Q4_1, BF16, F16, F32) are quantised by it; for
the others (the K-quants, IQ4_NL) random valid blocks are written: random code bytes with small finite fp16
scales. Either way the model handed in receives exactly what `gguf.quants.dequantize` reads back, so a
diffusers/transformers module becomes the oracle for the file. Transformers are written as stable-diffusion.cpp
exports are (original tensor names, no `general.architecture`); text encoders as llama.cpp's converter writes
Qwen3-VL (names from gguf's own `TensorNameMap`, `qwen3vl.*` metadata, the tokenizer in the metadata).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import gguf
import numpy as np
import torch
from fixtures_quant import SINGLE_FILE_DIT, Stored, store, transformer_groups
from torch import nn

from ideogram4_core.models.tokenizer import bundled_tokenizer_dir

T = gguf.GGMLQuantizationType
SCALE_OFFSETS = {
    "Q4_0": (0,), "Q4_1": (0, 2), "Q5_0": (0,), "Q5_1": (0, 2), "Q8_0": (0,), "IQ4_NL": (0,),
    "Q2_K": (80, 82), "Q3_K": (108,), "Q4_K": (0, 2), "Q5_K": (0, 2), "Q6_K": (208,),
}  # fmt: skip
"""Byte offsets of the fp16 scale (and minimum) fields inside one block (ggml-common.h layouts)."""
QUANT_TYPES = tuple(SCALE_OFFSETS)
WIDE_DIT = SINGLE_FILE_DIT | {"intermediate_size": 256}
"""The single-file tiny DiT with rows of 256 in the feed-forward too, so K-quant blocks (256 weights) fit most
layers."""


def random_blocks(rows: int, cols: int, qtype: str, seed: int) -> np.ndarray:
    """Random valid blocks: any code bytes, fp16 scales drawn small and finite (magnitude 1e-4…1e-3)."""
    block, size = gguf.GGML_QUANT_SIZES[T[qtype]]
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (rows * cols // block, size), dtype=np.uint8)
    for offset in SCALE_OFFSETS[qtype]:
        scales = (rng.uniform(1e-4, 1e-3, blocks.shape[0]) * rng.choice([-1, 1], blocks.shape[0])).astype(np.float16)
        blocks[:, offset : offset + 2] = scales.view(np.uint8).reshape(-1, 2)
    return blocks.reshape(rows, -1)


def encode(weight: torch.Tensor, qtype: str, seed: int = 0) -> tuple[np.ndarray, torch.Tensor]:
    """(what the writer stores, what gguf.quants.dequantize reads back as float32) for a 2-D weight."""
    x = weight.detach().float().numpy()
    if qtype == "F32":
        return x, weight.float()
    if qtype == "F16":
        data = x.astype(np.float16)
        return data, torch.from_numpy(data.astype(np.float32))
    try:
        data = gguf.quants.quantize(x, T[qtype])
    except NotImplementedError:
        data = random_blocks(*x.shape, qtype, seed)
    return data, torch.from_numpy(gguf.quants.dequantize(data, T[qtype]).copy())


def write_gguf(
    path: Path,
    tensors: Mapping[str, tuple[np.ndarray, str]],
    metadata: Mapping[str, object] | None = None,
    arch: str | None = None,
) -> Path:
    """A GGUF written by GGUFWriter; `arch` None leaves out `general.architecture` as sd.cpp exports do."""
    writer = gguf.GGUFWriter(str(path), arch or "unused")
    if arch is None:
        del writer.kv_data[0][gguf.Keys.General.ARCHITECTURE]
    for key, value in (metadata or {}).items():
        _add(writer, key, value)
    for name, (data, qtype) in tensors.items():
        raw = None if qtype in ("F32", "F16") else T[qtype]
        writer.add_tensor(name, np.ascontiguousarray(data), raw_dtype=raw)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _add(writer: gguf.GGUFWriter, key: str, value: object) -> None:
    if isinstance(value, str):
        writer.add_string(key, value)
    elif isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        writer.add_uint32(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    else:
        writer.add_array(key, list(value))


QtypeOf = Callable[[str, int], str]
"""(layer name, weights per row) → the GGML type to store its weight in."""


def prefer(qtype: str) -> QtypeOf:
    """`qtype` where rows are whole blocks of it, else Q8_0 (blocks of 32), else F16."""
    block = gguf.GGML_QUANT_SIZES[T[qtype]][0]
    return lambda layer, cols: qtype if cols % block == 0 else "Q8_0" if cols % 32 == 0 else "F16"


def gguf_store(
    groups: Mapping[str, list[torch.Tensor]], linears: set[str], qtype_of: QtypeOf
) -> dict[str, tuple[np.ndarray, str]]:
    """`fixtures_quant.store` into GGUF tensors: Linear weights as `qtype_of(layer, cols)`, the rest F32
    (bf16-rounded). The model tensors receive exactly the values the file holds."""
    qtypes: dict[str, str] = {}

    def quantise(layer: str, weight: torch.Tensor) -> Stored:
        qtypes[layer] = qtype_of(layer, weight.shape[1])
        data, exact = encode(weight, qtypes[layer], seed=len(qtypes))
        raw = torch.from_numpy(data.view(np.uint8) if data.dtype == np.float16 else data)
        return {"weight": raw}, exact

    stored = store(groups, linears, quantise)
    out: dict[str, tuple[np.ndarray, str]] = {}
    for name, tensor in stored.items():
        layer = name.removesuffix(".weight")
        if name.endswith(".weight") and layer in qtypes:
            data = tensor.numpy()
            out[name] = (data.view(np.float16) if qtypes[layer] == "F16" else data, qtypes[layer])
        else:
            out[name] = (tensor.float().numpy(), "F32")
    return out


def write_gguf_transformer(
    path: Path, model: nn.Module, qtype_of: QtypeOf, *, prefix: str = "", metadata: Mapping | None = None
) -> Path:
    """An sd.cpp-style Ideogram 4 transformer GGUF (original fused names, optional prefix, no architecture)."""
    groups, linears = transformer_groups(model, fused=True)
    tensors = gguf_store(groups, linears, qtype_of)
    return write_gguf(path, {prefix + name: value for name, value in tensors.items()}, metadata)


def _vocabulary(model: str = "gpt2", pre: str = "qwen2") -> dict[str, object]:
    """The bundled Qwen tokenizer as llama.cpp's converter stores it (gpt2 model, qwen2 pre-tokenizer), or
    labelled as another tokenizer `model` / `pre`."""
    folder = bundled_tokenizer_dir()
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    added = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))["added_tokens_decoder"]
    tokens = sorted(vocab, key=vocab.get) + [added[str(i)]["content"] for i in sorted(map(int, added))]
    types = [1] * len(vocab) + [3 if added[str(i)].get("special") else 4 for i in sorted(map(int, added))]
    merges = [line for line in (folder / "merges.txt").read_text(encoding="utf-8").splitlines()[1:] if line]
    return {"tokenizer.ggml.model": model, "tokenizer.ggml.pre": pre, "tokenizer.ggml.tokens": tokens,
            "tokenizer.ggml.token_type": types, "tokenizer.ggml.merges": merges}  # fmt: skip


def write_gguf_text_encoder(
    path: Path,
    model: nn.Module,
    qtype_of: QtypeOf,
    *,
    arch: str = "qwen3vl",
    vocabulary: bool = True,
    tokenizer: tuple[str, str] = ("gpt2", "qwen2"),
) -> Path:
    """The language tower of a transformers Qwen3VLModel as llama.cpp's converter writes it; `tokenizer` the
    (tokenizer.ggml.model, tokenizer.ggml.pre) labels of the stored vocabulary."""
    tower = model.language_model
    text = model.config.text_config
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN3VL, text.num_hidden_layers)
    groups = {f"model.{name}": [tensor] for name, tensor in tower.state_dict().items()}
    linears = {f"model.{n}" for n, m in tower.named_modules() if isinstance(m, nn.Linear | nn.Embedding)}
    tensors = gguf_store(groups, linears, qtype_of)
    renamed = {names.get_name(name, try_suffixes=(".weight", ".bias")): value for name, value in tensors.items()}
    rope = text.rope_parameters
    metadata = {f"{arch}.block_count": text.num_hidden_layers, f"{arch}.embedding_length": text.hidden_size,
                f"{arch}.rope.freq_base": float(rope["rope_theta"]),
                f"{arch}.attention.layer_norm_rms_epsilon": float(text.rms_norm_eps)}  # fmt: skip
    return write_gguf(path, renamed, metadata | (_vocabulary(*tokenizer) if vocabulary else {}), arch)
