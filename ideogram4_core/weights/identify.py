"""What a model file or folder is, from its safetensors headers alone (no tensor data is ever read).

`identify(path)` names the family (an Ideogram 4 component or something else), the transformer branch and the
weight format; `expect(path, role)` raises ModelFileError before any loading when the path cannot serve as
`role`, naming what it is and where the right file goes. GGUF files are read with the `gguf` package
(`gguf_io`); pickles, truncated and corrupt files are refused by the header readers (never unpickled).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelFileError
from . import identify_rules as rules
from .gguf_io import GgufHeader, is_gguf, read_gguf_header
from .identify_rules import TEXT_ENCODER, TRANSFORMER, UNKNOWN, VAE
from .quant import PlainFloat, detect_format
from .quant.gguf import SUPPORTED_TYPES
from .safetensors_io import SafetensorsHeader, read_header, weight_files

REPO, OTHER_REPO = "ideogram4-repo", "other-repo"
COMPONENT_FAMILIES = (TRANSFORMER, TEXT_ENCODER, VAE)

ROLES = {
    "transformer": (TRANSFORMER, "an Ideogram 4 transformer"),
    "conditional_transformer": (TRANSFORMER, "the conditional Ideogram 4 transformer"),
    "unconditional_transformer": (TRANSFORMER, "the unconditional Ideogram 4 transformer"),
    "text_encoder": (TEXT_ENCODER, "a Qwen3-VL text encoder"),
    "vae": (VAE, "a FLUX.2 VAE"),
}
"""Role → (family it needs, how to name it). "transformer" takes either branch; the other two check it."""

REPO_FOLDERS = {"transformer": "conditional_transformer", "unconditional_transformer": "unconditional_transformer",
                "text_encoder": "text_encoder", "vae": "vae"}  # fmt: skip
"""The official repo's weight folders and the role each one plays."""

WHERE = {
    TRANSFORMER: "Ideogram 4 transformers go in models/diffusion_models (ideogram4_fp8_scaled.safetensors, "
    "ideogram4_unconditional_fp8_scaled.safetensors) or are the transformer/ and unconditional_transformer/ "
    "folders of the official repo.",
    TEXT_ENCODER: "The Ideogram 4 text encoder (Qwen3-VL-8B) goes in models/text_encoders "
    "(qwen3vl_8b_fp8_scaled.safetensors) or is the text_encoder/ folder of the official repo.",
    VAE: "The FLUX.2 VAE goes in models/vae (flux2-vae.safetensors) or is the vae/ folder of the official repo.",
}

_BRANCH_FOLDERS = {"transformer": "cond", "unconditional_transformer": "uncond", "cond": "cond", "uncond": "uncond",
                   "conditional": "cond", "unconditional": "uncond"}  # fmt: skip
"""Folder names that say the branch: the official repo's, and the `cond/` / `uncond/` of GGUF sets."""
_MIN_TEXT_LAYERS = 36  # Ideogram 4 taps decoder layer 35 (0-based)
_RELEASED_DIT = (34, 4608)  # blocks, hidden


@dataclass(frozen=True)
class Identity:
    """What `path` is. `problem` says why a recognised Ideogram 4 component cannot be used (None: it can)."""

    path: Path
    family: str
    description: str
    branch: str | None = None  # "cond" / "uncond" for Ideogram 4 transformers when recorded
    format: str | None = None
    problem: str | None = None
    notes: tuple[str, ...] = ()
    headers: tuple[SafetensorsHeader, ...] = ()

    @property
    def usable(self) -> bool:
        return self.family in (*COMPONENT_FAMILIES, REPO) and self.problem is None

    @property
    def use_as(self) -> str | None:
        """Where it plugs in: the CLI flag and the ComfyUI loader input."""
        if self.family == TRANSFORMER and self.branch == "uncond":
            return "--unconditional-transformer / IG4_ModelLoader unconditional model"
        return {
            TRANSFORMER: "--transformer / IG4_ModelLoader model",
            TEXT_ENCODER: "--text-encoder / IG4_TextEncoderLoader",
            VAE: "--vae / IG4_VAELoader",
            REPO: "--model / IG4_ModelLoader model",
            rules.LORA: "--lora / IG4_LoraLoader",
        }.get(self.family)


def identify(path: str | Path) -> Identity:
    """Identify a .safetensors file, a component folder (config.json + weights) or an official repo root.

    Raises ModelFileError for missing paths and unreadable files (pickle, truncated, corrupt).
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path} does not exist. Check the path.")
    if path.is_dir() and is_repo_root(path):
        return _identify_repo(path)
    config = _read_config(path / "config.json") if path.is_dir() else {}
    files = weight_files(path) if path.is_dir() else [path]
    headers = tuple(read_weight_header(f) for f in files)
    keys = rules.Keys(headers)
    metadata = {k: v for h in headers for k, v in h.metadata.items()}
    family, description = _family(keys, config, path, metadata.get("general.architecture"))
    if family in COMPONENT_FAMILIES:
        fmt, problem = _component_format(headers, config)
    elif isinstance(headers[0], GgufHeader):
        fmt, problem = headers[0].format_name, None
    else:
        fmt, problem = rules.quantisation(headers, config) or rules.float_format(headers), None
    branch, notes = None, [f"{len(files)} shards"] if len(files) > 1 else []
    if family == TRANSFORMER:
        branch, note = _branch(path, metadata)
        notes += [note, _dit_size(keys)]
        if branch == "cond":
            description += " (conditional branch)"
        elif branch == "uncond":
            description = "the unconditional Ideogram 4 transformer"
    elif family == TEXT_ENCODER:
        problem = problem or _text_encoder_problem(path, keys, config)
        notes.append("only the language tower up to decoder layer 35 is loaded")
    elif family == VAE and not keys.has("encoder.conv_in.weight"):
        notes.append("decoder only: decodes, cannot encode images")
    if problem:
        problem = f"{label(path)} is {description} {problem}."
    return Identity(path, family, description, branch, fmt, problem, tuple(notes), headers)


def expect(path: str | Path, role: str) -> Identity:
    """The identity of `path`, or ModelFileError when it cannot serve as `role` (one of ROLES).

    A repo root passed as the text encoder is taken as its text_encoder/ folder, like the loader does.
    """
    path = Path(path)
    if role == "text_encoder" and path.is_dir() and is_repo_root(path) and (path / "text_encoder").is_dir():
        path = path / "text_encoder"
    identity = identify(path)
    message = mismatch(identity, role)
    if message:
        raise ModelFileError(message)
    return identity


def mismatch(identity: Identity, role: str) -> str | None:
    """Why `identity` cannot serve as `role` (a one-paragraph user message), or None when it can."""
    family, wanted = ROLES[role]
    name = label(identity.path)
    if identity.family == REPO:
        sub = next(folder for folder, r in REPO_FOLDERS.items() if ROLES[r][0] == family)
        return (
            f"{name} is the whole Ideogram 4 repo folder, not {wanted}: pass it as --model (IG4_ModelLoader model), "
            f"or pass its {sub}/ folder."
        )
    if identity.family != family:
        use = f"; use it as {identity.use_as}" if identity.use_as else ""
        return f"{name} is not {wanted}: it is {identity.description}{use}. {WHERE[family]}"
    if identity.problem:
        return f"{identity.problem} {WHERE[family]}"
    opposite = {"conditional_transformer": "uncond", "unconditional_transformer": "cond"}.get(role)
    if opposite and identity.branch == opposite:
        return f"{name} is not {wanted}: it is {identity.description}; use it as {identity.use_as}."
    return None


def read_weight_header(path: Path) -> SafetensorsHeader:
    """The header of a safetensors or GGUF file (a `GgufHeader` for GGUF); reads no tensor data."""
    return read_gguf_header(path) if is_gguf(path) else read_header(path)


def label(path: Path) -> str:
    """How messages name a path: a file by its name, a folder by its path (`transformer` alone says little)."""
    return str(path) if path.is_dir() else path.name


def is_repo_root(folder: Path) -> bool:
    """An official-layout repo: model_index.json or any of the component folders."""
    return (folder / "model_index.json").is_file() or any((folder / sub).is_dir() for sub in REPO_FOLDERS)


def _identify_repo(folder: Path) -> Identity:
    pipeline = _read_config(folder / "model_index.json").get("_class_name", "Ideogram4Pipeline")
    if pipeline != "Ideogram4Pipeline":
        return Identity(folder, OTHER_REPO, f"a diffusers {pipeline} repo")
    missing = [f"{sub}/" for sub in (*REPO_FOLDERS, "tokenizer") if not (folder / sub).is_dir()]
    problem = f"{folder} is missing {', '.join(missing)}; download the complete repo." if missing else None
    return Identity(folder, REPO, "the Ideogram 4 repo (official layout)", problem=problem)


def _read_config(file: Path) -> dict:
    if not file.is_file():
        return {}
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{file} cannot be read ({exc}). Download it again.") from exc
    return config if isinstance(config, dict) else {}


def _family(keys: rules.Keys, config: Mapping, path: Path, architecture: str | None) -> tuple[str, str]:
    """The family from tensor names and shapes (and a GGUF's `general.architecture`); a folder's config names it
    when the tensors say nothing."""
    found = rules.with_gguf_architecture(rules.classify(keys), architecture)
    if found is not None:
        return found
    label = _config_label(config)
    example = next(iter(keys.tensors), "nothing")
    where = "" if not path.is_dir() or config else "; the folder has no config.json"
    return UNKNOWN, f"{label or 'an unrecognised model'} (tensors named like {example!r}{where})"


def _config_label(config: Mapping) -> str:
    if "_class_name" in config:
        return f"a diffusers {config['_class_name']} folder"
    if "model_type" in config:
        architectures = ", ".join(config.get("architectures") or [])
        return f"a {config['model_type']} model" + (f" ({architectures})" if architectures else "")
    return ""


def _component_format(headers: Sequence[SafetensorsHeader], config: Mapping) -> tuple[str, str | None]:
    """The registered weight format, or the file's own description and why it cannot be loaded."""
    if isinstance(headers[0], GgufHeader):
        unsupported = headers[0].unsupported_types()
        problem = (
            f"stored with GGML type {', '.join(unsupported)}, which this version cannot dequantise; use a GGUF "
            f"of it quantised as one of {', '.join(SUPPORTED_TYPES)}"
            if unsupported
            else None
        )
        return headers[0].format_name, problem
    fmt = detect_format(headers, config)
    if not isinstance(fmt, PlainFloat):
        return fmt.name, None
    quantisation = rules.quantisation(headers, config)
    if quantisation is None:
        return rules.float_format(headers), None
    when = "yet" if quantisation in rules.PLANNED_FORMATS else "(unknown quantisation)"
    return quantisation, f"quantised as {quantisation}, which this version cannot load {when}"


def _branch(path: Path, metadata: Mapping[str, str]) -> tuple[str | None, str]:
    """cond/uncond from metadata `model_type`, the folder name or 'uncond' in the file name (SPEC §2.1)."""
    model_type = metadata.get("model_type", "")
    if model_type in ("ideogram4_cond", "ideogram4_uncond"):
        return model_type.removeprefix("ideogram4_"), f"branch from metadata model_type {model_type}"
    folder = path.name if path.is_dir() else path.parent.name
    if folder in _BRANCH_FOLDERS:
        return _BRANCH_FOLDERS[folder], f"branch from the folder name {folder}/"
    if "uncond" in path.name.lower():
        return "uncond", "branch from 'uncond' in the file name"
    return None, "branch not recorded (no model_type metadata, folder or 'uncond' in the name): taken as conditional"


def _dit_size(keys: rules.Keys) -> str:
    blocks, hidden = keys.count_layers(), (keys.shape("input_proj.weight") or (0,))[0]
    size = "the released size" if (blocks, hidden) == _RELEASED_DIT else "not the released 34 × 4608"
    return f"{blocks} blocks, hidden {hidden} ({size})"


def _text_encoder_problem(path: Path, keys: rules.Keys, config: Mapping) -> str | None:
    layers = (config.get("text_config") or {}).get("num_hidden_layers") or keys.count_layers()
    if layers < _MIN_TEXT_LAYERS:
        return (
            f"but has {layers} decoder layers; Ideogram 4 taps layer {_MIN_TEXT_LAYERS - 1}, so at least "
            f"{_MIN_TEXT_LAYERS} are needed"
        )
    if path.is_dir() and config.get("model_type") != "qwen3_vl":
        return f"but its folder's config.json is {_config_label(config) or 'missing'}, not a qwen3_vl config"
    return None
