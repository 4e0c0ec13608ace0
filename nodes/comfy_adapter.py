"""The one module that calls ComfyUI's runtime: model folders, memory management, dtypes, interrupt, progress,
latent previews and status text. Nodes go through it; the engine never sees ComfyUI.

Memory model: every engine module is wrapped in a plain ``ModelPatcher`` (what core uses for foreign modules,
e.g. upscale models), so ``load_models_gpu``, ``--lowvram/--novram/--cpu``, ``--gpu-only`` and ``POST /free``
treat it like a core model. Our modules are not ``comfy.ops`` layers, so ComfyUI cannot run them half-loaded:
they are always loaded whole (``force_full_load``). Transformers (and the text encoder) that do not fit are
block-streamed instead (`models_on_device`, `ideogram4_core.models.offload`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import comfy.latent_formats
import comfy.model_management as mm
import comfy.model_patcher
import comfy.utils
import folder_paths
import latent_preview
import torch
from comfy.cli_args import args
from server import PromptServer

from ..ideogram4_core.errors import Ideogram4Error, ModelFileError
from ..ideogram4_core.models.offload import BlockStreamer
from ..ideogram4_core.sampling.latents import tokens_to_comfy

ModelPatcher = comfy.model_patcher.ModelPatcher

_DEVICES = {
    "diffusion": ("get_torch_device", "unet_offload_device"),
    "text_encoder": ("text_encoder_device", "text_encoder_offload_device"),
    "vae": ("vae_device", "vae_offload_device"),
}
"""Role → model_management functions giving its (load device, offload device)."""

_DTYPE_FLAGS = {"diffusion": "unet", "text_encoder": "text_enc", "vae": "vae"}
_FLAG_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

StepReporter = Callable[[int, int, torch.Tensor, torch.Tensor], None]


# --- model folders ----------------------------------------------------------------------------------------


def folder_roots(kind: str) -> list[Path]:
    """The folders ComfyUI searches for `kind` (e.g. "diffusion_models"), extra_model_paths.yaml included."""
    try:
        return [Path(p) for p in folder_paths.get_folder_paths(kind)]
    except KeyError:
        return []


def list_files(kind: str) -> list[str]:
    """File names (relative to their root) ComfyUI lists for `kind`."""
    return list(folder_paths.get_filename_list(kind))


def full_path(kind: str, name: str) -> Path:
    """The file or folder `name` under one of `kind`'s roots; ModelFileError naming the folders when absent."""
    found = folder_paths.get_full_path(kind, name)
    if found is not None:
        return Path(found)
    relative = Path(name.strip("/"))
    if not relative.is_absolute() and ".." not in relative.parts:
        for root in folder_roots(kind):
            if (root / relative).is_dir():
                return root / relative
    roots = ", ".join(str(r) for r in folder_roots(kind)) or f"no folder is registered for {kind!r}"
    raise ModelFileError(
        f"{name!r} was not found in models/{kind} ({roots}). Put it there, or refresh the page (R) and pick "
        "another entry."
    )


# --- devices, dtypes, ModelPatcher --------------------------------------------------------------------------


def devices(role: str) -> tuple[torch.device, torch.device]:
    """(load device, offload device) ComfyUI assigns to a model of `role` ("diffusion", "text_encoder", "vae")."""
    try:
        load, offload = _DEVICES[role]
    except KeyError:
        raise ValueError(f"unknown model role {role!r}; use one of {', '.join(_DEVICES)}") from None
    return getattr(mm, load)(), getattr(mm, offload)()


def wrap_model(module: torch.nn.Module, role: str) -> ModelPatcher:
    """A ModelPatcher for an engine module, with the load/offload devices ComfyUI uses for `role`."""
    load, offload = devices(role)
    return comfy.model_patcher.CoreModelPatcher(module, load_device=load, offload_device=offload)


def compute_dtype(role: str, device: torch.device) -> torch.dtype:
    """bf16 where the device runs it well, else fp32; ComfyUI's --fp32-unet/--bf16-vae/... flags win."""
    suffix = _DTYPE_FLAGS[role]
    for name, dtype in _FLAG_DTYPES.items():
        if getattr(args, f"{name}_{suffix}", False):
            return dtype
    if mm.is_device_cpu(device) or not mm.should_use_bf16(device):
        return torch.float32
    return torch.bfloat16


def load_to_device(patchers: Sequence[ModelPatcher], memory_required: int = 0) -> torch.device:
    """Load the patchers' modules whole onto their load device (evicting others as needed); returns it."""
    mm.load_models_gpu(list(patchers), memory_required=memory_required, force_full_load=True)
    return patchers[0].load_device


def _streaming_bytes(patcher: ModelPatcher) -> int:
    """Device memory a streamed model needs: everything but its blocks, plus two blocks."""
    blocks = patcher.model.layers
    largest = max(mm.module_size(block) for block in blocks)
    return patcher.model_size() - sum(mm.module_size(block) for block in blocks) + 2 * largest


def plan_residency(
    patchers: Sequence[ModelPatcher], memory_required: int = 0, stream: bool | None = None
) -> list[bool]:
    """Which patchers to block-stream (True) instead of loading whole, in order of priority.

    `stream` None decides by size (whole while the sum fits the device's weight budget, and never under
    --novram); True streams every streamable one; False streams none. Only modules with `.layers` stream.
    """
    device = patchers[0].load_device
    budget = mm.maximum_vram_for_weights(device) - memory_required
    plan = []
    for patcher in patchers:
        streamable = hasattr(patcher.model, "layers") and not mm.is_device_cpu(device)
        too_big = mm.vram_state == mm.VRAMState.NO_VRAM or patcher.model_size() > budget
        plan.append(streamable and (too_big if stream is None else stream))
        budget -= _streaming_bytes(patcher) if plan[-1] else patcher.model_size()
    return plan


@contextlib.contextmanager
def models_on_device(
    patchers: Sequence[ModelPatcher], memory_required: int = 0, stream: bool | None = None
) -> Iterator[torch.device]:
    """Make the patchers' modules runnable on their load device for the `with` block; yields that device.

    Those that fit are loaded whole (`load_to_device`); the others are block-streamed (see `plan_residency`
    and `ideogram4_core.models.offload`), which works with any amount of VRAM at the cost of one host→device copy of
    the blocks per forward pass.
    """
    plan = plan_residency(patchers, memory_required, stream)
    whole = [p for p, streamed in zip(patchers, plan, strict=True) if not streamed]
    streamed = [p for p, s in zip(patchers, plan, strict=True) if s]
    device = patchers[0].load_device
    working = memory_required + sum(_streaming_bytes(p) for p in streamed)
    if whole:
        load_to_device(whole, working)
    else:
        mm.free_memory(working + mm.extra_reserved_memory(), device)
    with contextlib.ExitStack() as stack:
        for patcher in streamed:
            stack.enter_context(BlockStreamer(patcher.model, patcher.model.layers, device))
        yield device


# --- errors, interrupt, progress, previews, status ----------------------------------------------------------


def out_of_memory_error(what: str, hint: str) -> Ideogram4Error:
    """The error to raise when `what` ran out of memory; `hint` names a cheaper format or setting."""
    return Ideogram4Error(f"Out of memory while running {what}. {hint}")


@contextlib.contextmanager
def oom_guard(what: str, hint: str) -> Iterator[None]:
    """Turn a device out-of-memory error inside the block into `out_of_memory_error(what, hint)`."""
    try:
        yield
    except Exception as exc:
        if not mm.is_oom(exc):
            raise
        mm.soft_empty_cache()
        raise out_of_memory_error(what, hint) from exc


def check_interrupted() -> None:
    """Raise ComfyUI's interrupt exception when the user pressed Cancel (POST /interrupt)."""
    mm.throw_exception_if_processing_interrupted()


def step_reporter(node_id: str | None, total: int, grid: tuple[int, int], device: torch.device) -> StepReporter:
    """A sampler step callback: honours Cancel, advances the node's progress bar, sends a latent preview.

    The preview decodes the predicted clean latent (tokens) in ComfyUI's FLUX.2 layout with the configured
    previewer (none unless ComfyUI runs with --preview-method).
    """
    previewer = latent_preview.get_previewer(device, comfy.latent_formats.Flux2())
    bar = comfy.utils.ProgressBar(total, node_id=node_id)

    def report(step: int, steps: int, latent: torch.Tensor, denoised: torch.Tensor) -> None:
        check_interrupted()
        preview = None
        if previewer is not None:
            preview = previewer.decode_latent_to_preview_image("JPEG", tokens_to_comfy(denoised[:1], grid))
        bar.update_absolute(step + 1, steps, preview)

    return report


def progress(node_id: str | None, total: int) -> Callable[[int], None]:
    """A plain progress callback `(done)`: honours Cancel, then advances the node's progress bar to done/total."""
    bar = comfy.utils.ProgressBar(total, node_id=node_id)

    def report(done: int) -> None:
        check_interrupted()
        bar.update_absolute(done, total)

    return report


def available_memory(device: torch.device) -> int:
    """Bytes free for work on `device` now (device memory plus what PyTorch has cached there)."""
    return mm.get_free_memory(device)


def is_out_of_memory(exc: BaseException) -> bool:
    """True for the device out-of-memory errors ComfyUI recognises."""
    return mm.is_oom(exc)


def send_status(node_id: str | None, text: str) -> None:
    """Show `text` under the node (progress_text); does nothing without a running server or node id."""
    server = getattr(PromptServer, "instance", None)
    if server is not None and node_id is not None:
        server.send_progress_text(text, node_id)
