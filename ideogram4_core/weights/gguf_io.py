"""Reading GGUF files with the `gguf` package (the llama.cpp project's reader): headers, tensors, vocabulary.

GGUF lists a tensor's dimensions fastest-first (ggml's `ne`); headers here give shapes in torch order
(`[out, in]` for a Linear), the reverse. Tensor names are kept as stored, except that llama.cpp language-model
names (`token_embd.weight`, `blk.N.attn_q.weight`, …) are mapped to their Hugging Face names under `model.`
(`model.embed_tokens.weight`, `model.layers.N.self_attn.q_proj.weight`, …), so one set of rules and loaders
serves safetensors and GGUF text encoders. llama.cpp's converter stores Qwen2/Qwen3/Qwen3-VL weights
unpermuted (only its LLaMA converter permutes Q/K for interleaved rotary) and norm weights as they are, so the
mapping is a pure renaming.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from gguf import GGUFReader, GGUFValueType

from ..errors import ModelFileError
from .quant.gguf import PLAIN_TYPES, SUPPORTED_TYPES, GgufTensor
from .safetensors_io import SafetensorsHeader, TensorInfo

MAGIC = b"GGUF"
ARCHITECTURE = "general.architecture"
_VOCABULARY = ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type")

_LLAMA_CPP_NAMES = {
    "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "attn_q_norm": "self_attn.q_norm", "attn_k_norm": "self_attn.k_norm",
    "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
}  # fmt: skip
"""llama.cpp per-block tensor names (gguf-py `tensor_mapping.py`) → Hugging Face module names."""
_LLAMA_CPP_GLOBAL = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
                     "output.weight": "lm_head.weight"}  # fmt: skip
_BLOCK = re.compile(r"^blk\.(\d+)\.([a-z_]+)\.(weight|bias)$")


@dataclass(frozen=True)
class GgufHeader(SafetensorsHeader):
    """A GGUF file's tensors (dtype = GGML type name such as "Q4_K", shape in torch order) and its scalar
    metadata as strings; `stored_names` maps each (possibly renamed) tensor name to the name in the file,
    `data_offsets` to the byte offset of its data in the file (as the reader found it)."""

    stored_names: dict[str, str] = field(default_factory=dict)
    data_offsets: dict[str, int] = field(default_factory=dict)

    @property
    def architecture(self) -> str | None:
        return self.metadata.get(ARCHITECTURE)

    def types(self) -> dict[str, int]:
        """Tensor count per GGML type, most frequent first."""
        counts: dict[str, int] = {}
        for info in self.tensors.values():
            counts[info.dtype] = counts.get(info.dtype, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: -item[1]))

    def unsupported_types(self) -> list[str]:
        return sorted({info.dtype for info in self.tensors.values()} - set(SUPPORTED_TYPES))

    @property
    def format_name(self) -> str:
        """E.g. "gguf Q4_K+Q6_K": the quantised types by frequency, or the narrowest float type when none is."""
        types = self.types()
        quantised = [t for t in types if t not in PLAIN_TYPES] or [t for t in ("BF16", "F16", "F32") if t in types][:1]
        return "gguf " + "+".join(quantised)


def is_gguf(path: Path) -> bool:
    """True for a regular file starting with the GGUF magic (never opens a FIFO or device, which could block)."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        with path.open("rb") as f:
            return f.read(4) == MAGIC
    except OSError:
        return False


class _Reader(GGUFReader):
    """GGUFReader over a plain ndarray view of its memory map: slicing numpy's memmap subclass costs several
    times more, which dominates parsing a 150k-token vocabulary (seconds on a Qwen GGUF)."""

    @property
    def data(self) -> np.ndarray:
        return self._data

    @data.setter
    def data(self, value: np.ndarray) -> None:
        self._data = value.view(np.ndarray)


def _open(path: Path) -> GGUFReader:
    """The reader (memory-mapped, copy-on-write: never writes the file); ModelFileError for bad files."""
    try:
        return _Reader(path, "c")
    except ValueError as exc:
        unknown = re.search(r"(\d+)\)? is not a valid GGMLQuantizationType", str(exc))
        if unknown:
            raise ModelFileError(
                f"{path.name} stores a tensor of GGML type id {unknown[1]}, which is unknown to this gguf package "
                f"(a newer quantisation?). Use a GGUF quantised as one of {', '.join(SUPPORTED_TYPES)}."
            ) from None
        raise _corrupt(path, exc) from None
    except (IndexError, KeyError, OverflowError, UnicodeDecodeError, MemoryError) as exc:
        raise _corrupt(path, exc) from None


def _corrupt(path: Path, exc: Exception) -> ModelFileError:
    return ModelFileError(
        f"{path.name} is a truncated or corrupt GGUF file ({type(exc).__name__}: {exc}). The download did not finish "
        "or the file is damaged; download it again."
    )


def _hf_name(name: str) -> str:
    """A llama.cpp language-model tensor name → its Hugging Face name; other names unchanged."""
    if name in _LLAMA_CPP_GLOBAL:
        return _LLAMA_CPP_GLOBAL[name]
    match = _BLOCK.match(name)
    if match and match[2] in _LLAMA_CPP_NAMES:
        return f"model.layers.{match[1]}.{_LLAMA_CPP_NAMES[match[2]]}.{match[3]}"
    return name


def _renamer(names: list[str]) -> Callable[[str], str]:
    llama_cpp = "token_embd.weight" in names or any(n.startswith("blk.") for n in names)
    return _hf_name if llama_cpp else lambda name: name


def _metadata(reader: GGUFReader) -> dict[str, str]:
    """Scalar key-value fields as strings (arrays such as the vocabulary are left out)."""
    out: dict[str, str] = {}
    for name, entry in reader.fields.items():
        if entry.types and entry.types[0] != GGUFValueType.ARRAY and not name.startswith("GGUF."):
            out[name] = str(entry.contents())
    return out


def read_gguf_header(path: str | Path) -> GgufHeader:
    """The tensors and metadata of a GGUF file; reads no tensor data. ModelFileError for truncated/corrupt files.
    Cached by size and modification time (parsing a vocabulary takes a few seconds)."""
    return _parse(*_stat(path))[0]


def read_vocabulary(path: str | Path) -> Vocabulary | None:
    """The tokenizer stored in the GGUF's metadata, or None when it holds none (cached like the header)."""
    return _parse(*_stat(path))[1]


def _stat(path: str | Path) -> tuple[Path, int, int]:
    path = Path(path)
    stat = path.stat()
    return path, stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=8)
def _parse(path: Path, size: int, mtime_ns: int) -> tuple[GgufHeader, Vocabulary | None]:
    reader = _open(path)
    rename = _renamer([t.name for t in reader.tensors])
    tensors: dict[str, TensorInfo] = {}
    stored: dict[str, str] = {}
    offsets: dict[str, int] = {}
    for tensor in reader.tensors:
        name = rename(tensor.name)
        shape = tuple(int(d) for d in reversed(tensor.shape.tolist()))
        tensors[name] = TensorInfo(tensor.tensor_type.name, shape, int(tensor.n_bytes))
        stored[name], offsets[name] = tensor.name, int(tensor.data_offset)
    end = max((t.data_offset + int(t.n_bytes) for t in reader.tensors), default=0)
    if end > size:
        raise ModelFileError(
            f"{path.name} is truncated: {end - size} bytes of tensor data are missing. The download did not finish; "
            "download it again."
        )
    return GgufHeader(path, tensors, _metadata(reader), stored, offsets), _vocabulary(reader)


_FLOATS = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def load_gguf_tensors(path: str | Path, wanted: Callable[[str], bool] = lambda name: True) -> dict[str, object]:
    """The `wanted` tensors (by header name), memory-mapped (copy-on-write: the file is never written): torch
    tensors for F32/F16/BF16, `GgufTensor` blocks [rows, bytes per row] for quantised types. Nothing is
    dequantised or copied here. The tensor table comes from the cached header, so the metadata (a 151k-token
    vocabulary takes seconds) is parsed once per file, not again for the data."""
    header = read_gguf_header(path)
    data = torch.from_numpy(np.memmap(header.path, dtype=np.uint8, mode="c"))
    out: dict[str, object] = {}
    for name, info in header.tensors.items():
        if not wanted(name):
            continue
        start = header.data_offsets[name]
        raw = data[start : start + info.nbytes]
        if info.dtype in _FLOATS:
            out[name] = raw.view(_FLOATS[info.dtype]).reshape(info.shape)
        else:
            rows = math.prod(info.shape[:-1])
            out[name] = GgufTensor(raw.reshape(rows, info.nbytes // rows), info.dtype, info.shape)
    return out


@dataclass(frozen=True)
class Vocabulary:
    """A GGUF's own tokenizer (llama.cpp `gpt2`-style BPE): tokens by id, merges, token types (1 normal,
    3 control, 4 user-defined), and the pre-tokenizer name (`tokenizer.ggml.pre`, "qwen2" for Qwen)."""

    tokens: list[str]
    merges: list[str]
    token_types: list[int]
    model: str
    pre: str


def _vocabulary(reader: GGUFReader) -> Vocabulary | None:
    if not all(key in reader.fields for key in _VOCABULARY):
        return None
    tokens, merges, types = (reader.fields[key].contents() for key in _VOCABULARY)

    def scalar(key: str) -> str:
        return str(reader.fields[key].contents()) if key in reader.fields else ""

    return Vocabulary(list(tokens), list(merges), [int(t) for t in types], scalar("tokenizer.ggml.model"),
                      scalar("tokenizer.ggml.pre"))  # fmt: skip
