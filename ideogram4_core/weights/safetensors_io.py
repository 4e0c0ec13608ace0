"""Reading safetensors files: headers without touching tensor data, and memory-mapped tensors."""

from __future__ import annotations

import json
import stat
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open

from ..errors import ModelFileError

_MAX_HEADER_BYTES = 100 * 1024 * 1024

_DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
    "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8, "F8_E8M0": 1, "F4": 1,
}  # fmt: skip


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]
    nbytes: int


@dataclass(frozen=True)
class SafetensorsHeader:
    path: Path
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]

    @property
    def total_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors.values())


_SPECIAL_FILES = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def not_a_file_message(path: Path) -> str:
    """Why `path` cannot be read as a model file: missing, or what kind of non-regular file it is."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return f"File not found: {path}. Check the path."
    kind = next((name for test, name in _SPECIAL_FILES if test(mode)), "not a regular file")
    return f"{path} is {kind}, not a model file. Point to the .safetensors file itself."


def read_header(path: str | Path) -> SafetensorsHeader:
    """Parse and check a safetensors header; never reads tensor data.

    Raises ModelFileError for pickles, GGUF, truncated or corrupt files, naming what was found.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(not_a_file_message(path))
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(9)  # the header length, then the JSON's "{"
        _refuse_foreign_format(path, head)
        if len(head) < 9:
            raise ModelFileError(f"{path.name} is empty or truncated (only {size} bytes). Download it again.")
        (header_len,) = struct.unpack("<Q", head[:8])
        f.seek(8)
        if header_len > _MAX_HEADER_BYTES or 8 + header_len > size:
            raise ModelFileError(
                f"{path.name} is not a valid safetensors file (corrupt or truncated header). Download it again."
            )
        raw = f.read(header_len)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path.name} has a corrupt safetensors header ({exc}). Download it again.") from exc
    metadata = header.pop("__metadata__", None) or {}
    tensors: dict[str, TensorInfo] = {}
    data_end = 0
    for name, entry in header.items():
        try:
            start, end = entry["data_offsets"]
            tensors[name] = TensorInfo(entry["dtype"], tuple(entry["shape"]), end - start)
            data_end = max(data_end, end)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path.name} has a corrupt entry for tensor {name!r}. Download it again.") from exc
    if 8 + header_len + data_end > size:
        missing = 8 + header_len + data_end - size
        raise ModelFileError(
            f"{path.name} is truncated: {missing} bytes of tensor data are missing. The download did not finish; "
            "download it again."
        )
    return SafetensorsHeader(path, tensors, metadata)


def _refuse_foreign_format(path: Path, head: bytes) -> None:
    if head[:4] == b"GGUF":
        raise ModelFileError(
            f"{path.name} is a GGUF file, which is read for transformers and text encoders only. Use the .safetensors "
            "version of this model."
        )
    pickle_magic = (head[:2] == b"PK" or head[:1] == b"\x80") and head[8:9] != b"{"  # else: a header length
    if pickle_magic or path.suffix in {".ckpt", ".pt", ".pth", ".bin", ".pkl"}:
        raise ModelFileError(
            f"{path.name} is a pickle checkpoint (.ckpt/.pt/.bin); it is never loaded because unpickling can run "
            "code. Use the .safetensors version of this model."
        )


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a Hugging Face style folder (single file or sharded with an index)."""
    index = sorted(folder.glob("*.safetensors.index.json"))
    if index:
        weight_map = json.loads(index[0].read_text())["weight_map"]
        files = [folder / name for name in sorted(set(weight_map.values()))]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise ModelFileError(f"{folder} is missing shard(s) {', '.join(missing)}. Download the whole folder.")
        return files
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ModelFileError(f"No .safetensors weights in {folder}. Download the model's weight files into it.")
    return files


def iter_tensors(paths: Iterable[Path], device: str | torch.device = "cpu") -> Iterator[tuple[str, torch.Tensor]]:
    """Yield (name, tensor) from each file; tensors are memory-mapped when device is the CPU."""
    for path in paths:
        read_header(path)
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            for name in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                yield name, f.get_tensor(name)


def load_tensors(paths: Iterable[Path], device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    return dict(iter_tensors(paths, device))
