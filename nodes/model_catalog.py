"""What ComfyUI's model folders hold for Ideogram 4, as loader combo entries, and how transformers pair up.

Pure (no ComfyUI imports): the loaders pass the folder roots in. Entries are names relative to their root;
folders end with "/". Files are recognised from their safetensors headers only (`identify`), cached by path,
size and mtime, so listing a folder of large checkpoints costs a few header reads once.

- Transformers: official repo folders (a folder holding `transformer/`, up to two levels deep, under
  diffusion_models or diffusers) and Ideogram 4 transformer files (.safetensors or .gguf) under diffusion_models
  (and unet_gguf, the folder ComfyUI-GGUF registers).
- Unconditional twin: the repo's `unconditional_transformer/`, a `transformer/` folder's sibling, or the file
  whose name matches once "cond"/"uncond"/"conditional"/"unconditional" words are dropped
  (`ideogram4_fp8_scaled` ↔ `ideogram4_unconditional_fp8_scaled`, `x_cond` ↔ `x_uncond`).
- Text encoders: Qwen3-VL files or folders under text_encoders, and the repos' `text_encoder/` folders.
- VAEs: FLUX.2 VAE files or folders under vae, and the repos' `vae/` folders.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..ideogram4_core.errors import Ideogram4Error, ModelFileError
from ..ideogram4_core.models.text_encoder import find_tokenizer_folder
from ..ideogram4_core.models.tokenizer import bundled_tokenizer_dir
from ..ideogram4_core.weights.gguf_io import is_gguf
from ..ideogram4_core.weights.identify import identify
from ..ideogram4_core.weights.identify_rules import TEXT_ENCODER, TRANSFORMER, VAE

AUTO, NONE = "auto", "none"
WEIGHT_SUFFIXES = (".safetensors", ".sft", ".gguf")
REPO_DEPTH = 2
_BRANCH_WORDS = {"cond", "conditional", "uncond", "unconditional"}
_WORD = re.compile(r"[^a-z0-9]+")
COMFY_TOKENIZER = Path("text_encoders") / "qwen25_tokenizer"


@dataclass(frozen=True)
class Found:
    """What a weight file or folder is (the cached part of `identify`)."""

    family: str
    branch: str | None
    format: str | None
    description: str
    problem: str | None


def describe(path: Path) -> Found | None:
    """`identify(path)` reduced to what listing needs, cached by size and mtime; None when unreadable."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return _describe(path, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4096)
def _describe(path: Path, size: int, mtime_ns: int) -> Found | None:
    try:
        found = identify(path)
    except Ideogram4Error:
        return None
    return Found(found.family, found.branch, found.format, found.description, found.problem)


def fingerprint(paths: Iterable[Path | None]) -> tuple:
    """Size and mtime of every weight file behind `paths` (files or folders): changes when any is rewritten."""
    out = []
    for path in paths:
        if path is None:
            continue
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        out += [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()]
    return tuple(out)


# --- walking the roots ------------------------------------------------------------------------------------


def _weight_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(name relative to root, path) of every weight file below `root`, like ComfyUI's own listing."""
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs.sort()
        for file in sorted(files):
            if file.lower().endswith(WEIGHT_SUFFIXES):
                path = Path(folder) / file
                yield path.relative_to(root).as_posix(), path


def _folders(root: Path, depth: int) -> Iterator[tuple[str, Path]]:
    """(name + "/", path) of the folders up to `depth` levels below `root`."""
    if depth == 0 or not root.is_dir():
        return
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        yield child.relative_to(root).as_posix() + "/", child
        for name, path in _folders(child, depth - 1):
            yield f"{child.name}/{name}", path


def repo_folders(roots: Iterable[Path]) -> dict[str, Path]:
    """Official-layout repos (folders holding `transformer/`) under `roots`, by entry name."""
    out: dict[str, Path] = {}
    for root in roots:
        for name, path in _folders(root, REPO_DEPTH):
            if (path / "transformer").is_dir():
                out.setdefault(name, path)
    return out


def _files_of(roots: Iterable[Path], family: str) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for root in roots:
        for name, path in _weight_files(root):
            found = describe(path)
            if found is not None and found.family == family:
                out.setdefault(name, path)
    return out


def _component_folders(roots: Iterable[Path], family: str) -> dict[str, Path]:
    """Component folders (config.json + weights) under `roots` that identify as `family`."""
    out: dict[str, Path] = {}
    for root in roots:
        for name, path in _folders(root, REPO_DEPTH):
            if (path / "config.json").is_file() and (found := describe(path)) is not None and found.family == family:
                out.setdefault(name, path)
    return out


# --- listings -----------------------------------------------------------------------------------------------


def transformers(diffusion_roots: list[Path], diffusers_roots: list[Path]) -> dict[str, Path]:
    """Model combo entries: repo folders first, then transformer files (conditional before unconditional)."""
    repos = repo_folders([*diffusion_roots, *diffusers_roots])
    files = _files_of(diffusion_roots, TRANSFORMER)
    ordered = sorted(files, key=lambda name: (describe(files[name]).branch == "uncond", name))
    return repos | {name: files[name] for name in ordered if name not in repos}


def text_encoders(text_encoder_roots: list[Path], repo_roots: list[Path]) -> dict[str, Path]:
    """Text encoder combo entries: files and folders under text_encoders, then the repos' text_encoder/."""
    return _components(text_encoder_roots, repo_roots, TEXT_ENCODER, "text_encoder")


def vaes(vae_roots: list[Path], repo_roots: list[Path]) -> dict[str, Path]:
    """VAE combo entries: files and folders under vae, then the repos' vae/."""
    return _components(vae_roots, repo_roots, VAE, "vae")


def _components(roots: list[Path], repo_roots: list[Path], family: str, sub: str) -> dict[str, Path]:
    out = _files_of(roots, family) | _component_folders(roots, family)
    for name, repo in repo_folders(repo_roots).items():
        if (repo / sub).is_dir():
            out.setdefault(f"{name}{sub}/", repo / sub)
    return out


def tokenizers(repo_roots: list[Path]) -> dict[str, Path]:
    """Tokenizer combo entries besides "auto": the repos' tokenizer/ folders, ComfyUI's copy and the bundled one."""
    out = {f"{name}tokenizer/": repo / "tokenizer" for name, repo in repo_folders(repo_roots).items()}
    comfy = comfy_tokenizer()
    if comfy is not None:
        out["ComfyUI bundled Qwen tokenizer"] = comfy
    out["Qwen tokenizer bundled with this pack"] = bundled_tokenizer_dir()
    return {name: path for name, path in out.items() if path.is_dir()}


def comfy_tokenizer() -> Path | None:
    """The Qwen tokenizer shipped inside ComfyUI (`comfy/text_encoders/qwen25_tokenizer`), when present."""
    spec = importlib.util.find_spec("comfy")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / COMFY_TOKENIZER
        if candidate.is_dir():
            return candidate
    return None


def resolve_tokenizer(choice: str, text_encoder: Path, choices: dict[str, Path]) -> Path | None:
    """The tokenizer folder: "auto" = next to the text encoder, else the bundled one; or a listed entry.
    None for "auto" with a GGUF text encoder: it brings its own vocabulary (see `load_tokenizer`)."""
    if choice != AUTO:
        return pick(choices, choice, "Tokenizer")
    if is_gguf(text_encoder):
        return None
    return find_tokenizer_folder(text_encoder)


def pick(entries: dict[str, Path], name: str, what: str) -> Path:
    """The path of combo entry `name`, or ModelFileError saying it is gone."""
    try:
        return entries[name]
    except KeyError:
        raise ModelFileError(
            f"{what} {name!r} is not in the model folders any more (deleted or moved?). Refresh the page (R) and "
            "pick one from the list."
        ) from None


# --- pairing ------------------------------------------------------------------------------------------------


def pair_key(name: str) -> str:
    """A file name without its branch words: twins share it (`ideogram4_unconditional_fp8` → `ideogram4 fp8`)."""
    stem = name.rsplit("/", 1)[-1].lower().removesuffix(".safetensors").removesuffix(".sft").removesuffix(".gguf")
    return " ".join(w for w in _WORD.split(stem) if w and w not in _BRANCH_WORDS)


def branch_of(path: Path) -> str | None:
    found = describe(path)
    return found.branch if found is not None else None


def twin(model: Path, candidates: dict[str, Path], branch: str = "uncond") -> Path | None:
    """The `branch` twin of a transformer: its sibling repo folder, else the file with the same pair key."""
    if model.is_dir():
        sibling = model.parent / ("unconditional_transformer" if branch == "uncond" else "transformer")
        return sibling if sibling.is_dir() and sibling != model else None
    key = pair_key(model.name)
    matches = [p for p in candidates.values() if p.is_file() and p != model and pair_key(p.name) == key]
    wanted = [p for p in matches if (branch_of(p) == "uncond") == (branch == "uncond")]  # unrecorded = cond
    matches = sorted(wanted, key=lambda p: (p.parent != model.parent, p.name))
    return matches[0] if matches else None


def conditional_path(entry: Path) -> Path:
    """The conditional transformer of a model entry: a repo's `transformer/`, else the entry itself."""
    return entry / "transformer" if (entry / "transformer").is_dir() else entry


def unconditional_path(entry: Path) -> Path:
    """The unconditional transformer of an entry: a repo's `unconditional_transformer/`, else the entry."""
    folder = entry / "unconditional_transformer"
    return folder if folder.is_dir() else entry


def resolve_pair(model: Path, unconditional: str, candidates: dict[str, Path]) -> tuple[Path, Path | None]:
    """(conditional, unconditional or None) for the loader's choices; clear errors for swaps and misses.

    `unconditional` is "auto" (find the twin), "none" (guidance 1 only) or a combo entry of `candidates`.
    """
    cond = conditional_path(model)
    if branch_of(cond) == "uncond":
        other = twin(cond, candidates, branch="cond")
        fix = f" Pick {other.name} as the model and {cond.name} as the unconditional model." if other else ""
        raise ModelFileError(
            f"{cond.name} is the unconditional Ideogram 4 transformer, so it cannot be the model (the models are "
            f"swapped?).{fix}"
        )
    if unconditional == NONE:
        return cond, None
    if unconditional == AUTO:
        found = twin(cond, candidates)
        if found is None:
            raise ModelFileError(
                f"No unconditional transformer found for {cond.name} (looked for an unconditional_transformer/ "
                f"folder and a file named like it with 'unconditional'). Put ideogram4_unconditional_*.safetensors "
                "next to it, pick the file explicitly, or choose 'none' (then only guidance 1 works)."
            )
        return cond, found
    uncond = unconditional_path(pick(candidates, unconditional, "Unconditional model"))
    if uncond == cond:
        raise ModelFileError(f"{cond.name} was picked as both the model and the unconditional model.")
    if branch_of(uncond) == "cond":
        raise ModelFileError(
            f"{uncond.name} is the conditional Ideogram 4 transformer, not the unconditional one (the models are "
            "swapped?). Pick the file with 'unconditional' in its name."
        )
    return cond, uncond
