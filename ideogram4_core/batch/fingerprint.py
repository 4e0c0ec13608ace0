"""Which model files rendered an image: a SHA-256 of each component's safetensors headers (and configs).

Headers hold every tensor's name, dtype, shape and byte offsets plus the file's metadata, so they tell two
downloads apart without reading gigabytes of weights. The tokenizer has no header: its files are hashed whole.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

from ..pipeline import ModelPaths
from ..weights.safetensors_io import weight_files


def _header_bytes(path: Path) -> bytes:
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        return handle.read(length)


def component_sha256(path: Path) -> str:
    """SHA-256 over a file's header, or a folder's JSON configs and weight-file headers, in name order."""
    files = sorted(path.glob("*.json")) + weight_files(path) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0")
        digest.update(file.read_bytes() if file.suffix == ".json" else _header_bytes(file))
    return digest.hexdigest()


def files_sha256(folder: Path) -> str:
    """SHA-256 over every file of a folder (names and contents), in name order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.iterdir() if p.is_file()):
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def model_fingerprints(paths: ModelPaths) -> dict[str, str]:
    """Header hashes of every component given (the tokenizer's files whole)."""
    components = {
        "transformer": paths.transformer,
        "unconditional_transformer": paths.unconditional_transformer,
        "text_encoder": paths.text_encoder,
        "vae": paths.vae,
    }
    out = {name: component_sha256(Path(path)) for name, path in components.items() if path is not None}
    if paths.tokenizer is not None:
        out["tokenizer"] = files_sha256(Path(paths.tokenizer))
    return out
