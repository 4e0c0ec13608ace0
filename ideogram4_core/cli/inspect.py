"""``python -m ideogram4_core inspect FILE_OR_DIR``: what a model file or folder is and what it is for, as JSON.

Reads safetensors headers only, so it is instant for multi-GB files. A repo root is reported per component
(`components`), a plain folder of files per file (`files`). Exit status: 0 recognised, 1 readable but not
recognised, 2 unreadable (pickle, truncated, corrupt, missing). GGUF files are read with the `gguf` package
(header and metadata only). Wire it with ``add_parser(subparsers)``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ..devices import DTYPES
from ..errors import Ideogram4Error, ModelFileError
from ..weights import identify_rules as rules
from ..weights.identify import REPO, REPO_FOLDERS, UNKNOWN, Identity, identify, is_repo_root, label, mismatch
from ..weights.lora.summary import lora_summary
from ..weights.resident import resident_bytes
from ..weights.safetensors_io import TensorInfo
from .plan import plan_report

EXIT_RECOGNISED, EXIT_UNRECOGNISED, EXIT_UNREADABLE = 0, 1, 2
_MODEL_FILES = ("*.safetensors", "*.gguf", "*.ckpt", "*.pt", "*.pth", "*.bin")
"""Side tensors that only describe a layer (JSON markers): read at load time, never kept."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``inspect`` sub-command."""
    parser = subparsers.add_parser(
        "inspect",
        help="say what a model file or folder is and where it goes (JSON, headers only)",
        description="Print JSON: family, weight format, dtypes, parameter count, memory once loaded and whether "
        "Ideogram 4 can use it (and as what). Exit 0 recognised, 1 not recognised, 2 unreadable.",
    )
    parser.add_argument("path", metavar="FILE_OR_DIR", type=Path, nargs="?",
                        help=".safetensors file, component folder or repo (optional with --plan)")  # fmt: skip
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bf16", help="compute dtype assumed (bf16)")
    plan = parser.add_argument_group("memory plan (computed from the config; see README 'Memory')")
    plan.add_argument("--plan", action="store_true",
                      help="report which format, branch mode and block streaming fit (the released sizes "
                      "without FILE_OR_DIR)")  # fmt: skip
    plan.add_argument("--vram-budget", type=float, metavar="GB", help="GPU memory to plan for, in GiB")
    plan.add_argument("--width", type=int, default=1024)
    plan.add_argument("--height", type=int, default=1024)
    plan.add_argument("--caption-tokens", type=int, default=600, help="caption length to plan for (600)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Print the report of ``args.path`` (or the memory plan); returns the exit status."""
    if args.plan:
        report = plan_report(args.path, args.vram_budget, args.width, args.height, args.caption_tokens,
                             DTYPES[args.dtype])  # fmt: skip
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return EXIT_RECOGNISED if args.vram_budget is None or report["recommended"] else EXIT_UNRECOGNISED
    if args.path is None:
        raise Ideogram4Error("inspect needs a FILE_OR_DIR (or --plan for a memory plan of the released sizes).")
    report = inspect(args.path, DTYPES[args.dtype])
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return _status(report)


def inspect(path: Path, compute_dtype: torch.dtype = torch.bfloat16) -> dict:
    """The JSON report of a file, a component folder, a repo root or a folder of model files."""
    if path.is_dir() and is_repo_root(path):
        return _repo_report(path, compute_dtype)
    if path.is_dir() and not _is_component(path):
        files = sorted(f for pattern in _MODEL_FILES for f in path.glob(pattern))
        return {"path": str(path), "files": [_guarded(f, None, compute_dtype) for f in files]}
    return _report(identify(path), None, compute_dtype)


def _is_component(folder: Path) -> bool:
    return (folder / "config.json").is_file() or any(folder.glob("*.safetensors.index.json"))


def _repo_report(root: Path, compute_dtype: torch.dtype) -> dict:
    identity = identify(root)
    report = {"path": str(root), "family": identity.family, "description": identity.description}
    if identity.family != REPO:
        return {**report, "usable": False, "problem": _problem(identity)}
    components = {
        sub: _guarded(root / sub, role, compute_dtype) for sub, role in REPO_FOLDERS.items() if (root / sub).is_dir()
    }
    usable = identity.usable and all(c.get("usable") for c in components.values())
    stages = [components.get(sub, {}).get("resident_bytes") or 0 for sub in REPO_FOLDERS]
    return {
        **report,
        "usable": usable,
        "use_as": identity.use_as if usable else None,
        "problem": identity.problem,
        "tokenizer": (root / "tokenizer").is_dir(),
        "compute_dtype": _dtype_name(compute_dtype),
        # Stages load one at a time: the text encoder, then both transformers together, then the VAE.
        "peak_resident_bytes": max(stages[0] + stages[1], stages[2], stages[3]),
        "components": components,
    }


def _guarded(path: Path, role: str | None, compute_dtype: torch.dtype) -> dict:
    """A file's or component's report, or its one-line error when it cannot be read."""
    try:
        return _report(identify(path), role, compute_dtype)
    except ModelFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return {"path": str(path), "error": str(exc)}


def _report(identity: Identity, role: str | None, compute_dtype: torch.dtype) -> dict:
    """One file's or folder's fields; `role` (as in an official repo) decides usability when given."""
    problem = mismatch(identity, role) if role else _problem(identity)
    tensors = {n: i for h in identity.headers for n, i in h.tensors.items()}
    dtypes: dict[str, int] = {}
    for info in tensors.values():
        dtypes[info.dtype] = dtypes.get(info.dtype, 0) + 1
    report = {
        "path": str(identity.path),
        "family": identity.family,
        "description": identity.description,
        "branch": identity.branch,
        "format": identity.format,
        "dtypes": dtypes,
        "quant_types": quant_types(tensors),
        "tensors": len(tensors),
        "parameters": sum(rules.parameters(n, i) for n, i in tensors.items()),
        "file_bytes": sum(h.path.stat().st_size for h in identity.headers),
        "compute_dtype": _dtype_name(compute_dtype),
        "resident_bytes": None if problem else resident_bytes(identity, compute_dtype),
        "usable": problem is None,
        "use_as": None if problem else identity.use_as,
        "problem": problem,
        "notes": list(identity.notes),
    }
    if identity.family != rules.TRANSFORMER:
        del report["branch"]
    if identity.family == rules.LORA:
        report |= _lora_fields(identity.path)
    return report


def _lora_fields(path: Path) -> dict:
    """A LoRA's layout, ranks and targets, or why it cannot be applied (e.g. another model family's LoRA)."""
    try:
        summary = lora_summary(path)
    except ModelFileError as exc:
        return {"usable": False, "use_as": None, "problem": str(exc), "resident_bytes": None}
    return {"usable": True, "use_as": summary.pop("use_as"), "problem": None, "lora": summary}


def _problem(identity: Identity) -> str | None:
    if identity.usable:
        return None
    if identity.problem:
        return identity.problem
    return f"{label(identity.path)} is {identity.description}; Ideogram 4 has no use for it."


def quant_types(tensors: dict[str, TensorInfo]) -> dict[str, int]:
    """Count of weight tensors (scales and markers left out) per stored type, most frequent first: GGML types
    for GGUF ("Q4_K", "F32"), safetensors dtypes otherwise, with packed 4-bit uint8 weights named "NF4" or
    "NVFP4" (from their side tensors)."""
    counts: dict[str, int] = {}
    for name, info in tensors.items():
        if rules.parameters(name, info):
            kind = _packed_kind(name, tensors) if info.dtype == "U8" else info.dtype
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def _packed_kind(name: str, tensors: dict[str, TensorInfo]) -> str:
    if f"{name}.absmax" in tensors:
        return "NF4"
    return "NVFP4" if f"{name}_scale_2" in tensors else "U8"


def _dtype_name(dtype: torch.dtype) -> str:
    return next(name for name, d in DTYPES.items() if d == dtype)


def _status(report: dict) -> int:
    entries = [report] if "family" in report else []
    entries += [*report.get("components", {}).values(), *report.get("files", [])]
    if any("error" in e for e in entries):
        return EXIT_UNREADABLE
    unrecognised = any(e["family"] == UNKNOWN or (e["family"] == rules.LORA and not e["usable"]) for e in entries)
    return EXIT_UNRECOGNISED if not entries or unrecognised else EXIT_RECOGNISED
