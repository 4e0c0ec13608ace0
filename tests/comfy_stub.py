"""Stand-ins for ComfyUI's modules, for tests of the pack's nodes without ComfyUI (CI has none).

- `comfy_api_modules()`: `comfy_api.latest` (io/ui) — enough for node schemas and `execute`.
- `FakeComfy`: the runtime modules `nodes/comfy_adapter.py` imports (`comfy.model_management`,
  `comfy.model_patcher`, `comfy.utils`, `comfy.latent_formats`, `comfy.cli_args`, `folder_paths`,
  `latent_preview`, `server`), a CPU-only ComfyUI that records what the pack asked of it.
- `import_pack(monkeypatch, modules)`: the pack root as package ``ig4pack`` with those modules installed, so the
  nodes' relative imports resolve as inside ComfyUI without running the pack's or ``nodes``' ``__init__``.
"""

from __future__ import annotations

import enum
import importlib
import importlib.machinery
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _socket(kind: str) -> SimpleNamespace:
    return SimpleNamespace(
        io_type=kind,
        Input=lambda id, **kw: SimpleNamespace(kind=kind, id=id, **kw),
        Output=lambda **kw: SimpleNamespace(kind=kind, **kw),
    )


class _ComfyNode:
    hidden = SimpleNamespace(unique_id="7")


def comfy_api_modules() -> dict[str, types.ModuleType]:
    io = types.ModuleType("comfy_api.latest.io")
    io.ComfyNode = _ComfyNode
    io.Schema = lambda **kw: SimpleNamespace(**kw)
    io.NodeOutput = lambda *values, ui=None: SimpleNamespace(values=values, ui=ui)
    io.Hidden = SimpleNamespace(unique_id="UNIQUE_ID")
    io.Custom = _socket
    for name in ("Int", "Float", "String", "Boolean", "Image", "Combo", "Latent", "Mask"):
        setattr(io, name, _socket(name.upper()))
    ui = types.ModuleType("comfy_api.latest.ui")
    ui.PreviewImage = lambda image, cls=None: SimpleNamespace(as_dict=lambda: {"images": ["preview.png"]})
    latest = types.ModuleType("comfy_api.latest")
    latest.io, latest.ui, latest.ComfyExtension = io, ui, object
    return {"comfy_api": types.ModuleType("comfy_api"), "comfy_api.latest": latest}


class VRAMState(enum.Enum):
    NO_VRAM = 1
    NORMAL_VRAM = 3


class FakePatcher:
    """ComfyUI's ModelPatcher reduced to what the pack touches."""

    def __init__(self, model: torch.nn.Module, load_device: torch.device, offload_device: torch.device) -> None:
        self.model, self.load_device, self.offload_device = model, load_device, offload_device
        self.attachments: dict[str, object] = {}

    def model_size(self) -> int:
        return module_size(self.model)

    def clone(self) -> FakePatcher:
        """A new patcher over the same module, with a copy of the attachments (as ModelPatcher.clone)."""
        twin = FakePatcher(self.model, self.load_device, self.offload_device)
        twin.attachments = dict(self.attachments)
        return twin

    def is_clone(self, other: object) -> bool:
        return getattr(other, "model", None) is self.model

    def set_attachments(self, key: str, value: object) -> None:
        self.attachments[key] = value

    def get_attachment(self, key: str) -> object:
        return self.attachments.get(key)


def module_size(module: torch.nn.Module) -> int:
    return sum(t.nbytes for t in module.state_dict().values())


class FakeComfy:
    """A CPU-only ComfyUI runtime: model folders from `folders`, and a log of loads, progress and messages."""

    def __init__(self, folders: dict[str, list[Path]]) -> None:
        self.folders = folders
        self.loaded: list[tuple[list, int, bool]] = []
        self.freed: list[int] = []
        self.progress: list[tuple[int, int, object]] = []
        self.texts: list[tuple[str, str]] = []
        self.interrupted = False
        self.previews = True
        self.device = torch.device("cpu")
        self.weight_budget = 1 << 40
        self.vram_state = VRAMState.NORMAL_VRAM
        self.args = SimpleNamespace()

    def modules(self) -> dict[str, types.ModuleType]:
        mm = types.ModuleType("comfy.model_management")
        device = lambda: self.device  # noqa: E731
        for name in ("get_torch_device", "text_encoder_device", "vae_device"):
            setattr(mm, name, device)
        for name in ("unet_offload_device", "text_encoder_offload_device", "vae_offload_device"):
            setattr(mm, name, lambda: torch.device("cpu"))
        mm.VRAMState = VRAMState
        mm.vram_state = self.vram_state
        mm.is_device_cpu = lambda d: torch.device(d).type == "cpu"
        mm.should_use_bf16 = lambda d=None: torch.device(d).type != "cpu"
        mm.load_models_gpu = lambda models, memory_required=0, force_full_load=False: self.loaded.append(
            (list(models), memory_required, force_full_load)
        )
        mm.maximum_vram_for_weights = lambda d=None: self.weight_budget
        mm.module_size = module_size
        mm.free_memory = lambda memory, d, **_: self.freed.append(memory)
        mm.extra_reserved_memory = lambda: 0
        mm.is_oom = lambda e: isinstance(e, torch.OutOfMemoryError)
        mm.soft_empty_cache = lambda force=False: None
        mm.InterruptProcessingException = type("InterruptProcessingException", (BaseException,), {})
        mm.throw_exception_if_processing_interrupted = self._throw_if_interrupted
        mm.__fake__ = self
        patcher = types.ModuleType("comfy.model_patcher")
        patcher.ModelPatcher = patcher.CoreModelPatcher = FakePatcher
        utils = types.ModuleType("comfy.utils")
        utils.ProgressBar = self._progress_bar
        latent_formats = types.ModuleType("comfy.latent_formats")
        latent_formats.Flux2 = lambda: "Flux2"
        cli_args = types.ModuleType("comfy.cli_args")
        cli_args.args = self.args
        comfy = types.ModuleType("comfy")
        comfy.__spec__ = importlib.machinery.ModuleSpec("comfy", None, is_package=True)  # no bundled tokenizer
        comfy.model_management, comfy.model_patcher, comfy.utils = mm, patcher, utils
        comfy.latent_formats, comfy.cli_args = latent_formats, cli_args
        folder_paths = types.ModuleType("folder_paths")
        folder_paths.get_folder_paths = lambda kind: [str(p) for p in self.folders[kind]]
        folder_paths.get_full_path = self._full_path
        folder_paths.get_filename_list = lambda kind: sorted(
            p.relative_to(root).as_posix() for root in self.folders.get(kind, []) for p in root.rglob("*.safetensors")
        )
        latent_preview = types.ModuleType("latent_preview")
        latent_preview.get_previewer = lambda device, fmt: self._previewer() if self.previews else None
        server = types.ModuleType("server")
        server.PromptServer = SimpleNamespace(
            instance=SimpleNamespace(send_progress_text=lambda text, node: self.texts.append((node, text)))
        )
        return {
            "comfy": comfy,
            "comfy.model_management": mm,
            "comfy.model_patcher": patcher,
            "comfy.utils": utils,
            "comfy.latent_formats": latent_formats,
            "comfy.cli_args": cli_args,
            "folder_paths": folder_paths,
            "latent_preview": latent_preview,
            "server": server,
        }

    def _throw_if_interrupted(self) -> None:
        if self.interrupted:
            self.interrupted = False
            raise sys.modules["comfy.model_management"].InterruptProcessingException()

    def _progress_bar(self, total: int, node_id: str | None = None) -> SimpleNamespace:
        return SimpleNamespace(update_absolute=lambda value, total=None, preview=None: self.progress.append(
            (value, total, preview)
        ))  # fmt: skip

    def _previewer(self) -> SimpleNamespace:
        return SimpleNamespace(decode_latent_to_preview_image=lambda fmt, x0: (fmt, tuple(x0.shape)))

    def _full_path(self, kind: str, name: str) -> str | None:
        for root in self.folders.get(kind, []):
            if (root / name).is_file():
                return str(root / name)
        return None


def _package(name: str, path: Path) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__path__ = [str(path)]
    return module


def import_pack(monkeypatch: pytest.MonkeyPatch, modules: dict[str, types.ModuleType]) -> types.ModuleType:
    """Install `modules` and the pack as ``ig4pack`` (undone by `monkeypatch`; call `forget_pack` afterwards)."""
    forget_pack()
    pack = {"ig4pack": _package("ig4pack", ROOT), "ig4pack.nodes": _package("ig4pack.nodes", ROOT / "nodes")}
    for name, module in {**modules, **pack}.items():
        monkeypatch.setitem(sys.modules, name, module)
    return importlib.import_module("ig4pack")


def forget_pack() -> None:
    """Drop the pack's submodules so the next test imports them against its own stand-ins."""
    for name in [n for n in sys.modules if n.startswith("ig4pack.")]:
        del sys.modules[name]
