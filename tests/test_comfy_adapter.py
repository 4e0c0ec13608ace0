"""`nodes/comfy_adapter.py` against a recording stand-in of ComfyUI's runtime (`comfy_stub.FakeComfy`)."""

from __future__ import annotations

import importlib
import types
from pathlib import Path

import pytest
import torch
from comfy_stub import FakeComfy, comfy_api_modules, forget_pack, import_pack
from fixtures_model import TINY_DIT, randomized

from ideogram4_core.models.transformer import Ideogram4Transformer, TransformerConfig


@pytest.fixture
def fake(tmp_path: Path) -> FakeComfy:
    (tmp_path / "vae").mkdir()
    (tmp_path / "vae" / "flux2-vae.safetensors").write_bytes(b"")
    (tmp_path / "diffusers" / "repo").mkdir(parents=True)
    return FakeComfy({"vae": [tmp_path / "vae"], "diffusers": [tmp_path / "diffusers"]})


@pytest.fixture
def adapter(fake: FakeComfy, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    import_pack(monkeypatch, comfy_api_modules() | fake.modules())
    yield importlib.import_module("ig4pack.nodes.comfy_adapter")
    forget_pack()


def dit() -> Ideogram4Transformer:
    return randomized(Ideogram4Transformer(TransformerConfig.from_dict(TINY_DIT)), 0)


def test_folders(adapter, fake, tmp_path):
    assert adapter.folder_roots("vae") == [tmp_path / "vae"] and adapter.folder_roots("nope") == []
    assert adapter.list_files("vae") == ["flux2-vae.safetensors"]
    assert adapter.full_path("vae", "flux2-vae.safetensors") == tmp_path / "vae" / "flux2-vae.safetensors"
    assert adapter.full_path("diffusers", "repo/") == tmp_path / "diffusers" / "repo"
    errors = importlib.import_module("ig4pack.ideogram4_core.errors")
    for name in ("missing.safetensors", "../vae/"):
        with pytest.raises(errors.ModelFileError, match=r"not found in models/\w+ \(.*vae"):
            adapter.full_path("vae", name)


def test_wrap_and_dtypes(adapter, fake):
    patcher = adapter.wrap_model(dit(), "text_encoder")
    assert (patcher.load_device, patcher.offload_device) == (torch.device("cpu"), torch.device("cpu"))
    with pytest.raises(ValueError, match="unknown model role"):
        adapter.wrap_model(dit(), "lora")
    assert adapter.compute_dtype("diffusion", torch.device("cpu")) == torch.float32
    assert adapter.compute_dtype("vae", torch.device("cuda")) == torch.bfloat16
    fake.args.fp16_unet = True
    assert adapter.compute_dtype("diffusion", torch.device("cuda")) == torch.float16
    assert adapter.compute_dtype("text_encoder", torch.device("cuda")) == torch.bfloat16


def test_load_to_device_loads_whole(adapter, fake):
    patchers = [adapter.wrap_model(dit(), "diffusion") for _ in range(2)]
    assert adapter.load_to_device(patchers, memory_required=5) == torch.device("cpu")
    assert fake.loaded == [(patchers, 5, True)]


def test_plan_streams_what_does_not_fit(adapter, fake):
    cond, uncond = (adapter.wrap_model(dit(), "diffusion") for _ in range(2))
    vae = adapter.wrap_model(torch.nn.Linear(4, 4), "vae")
    size = cond.model_size()
    fake.device = cond.load_device = uncond.load_device = vae.load_device = torch.device("cuda")
    fake.weight_budget = int(size * 1.5) + 100
    assert adapter.plan_residency([cond, uncond], memory_required=100) == [False, True]
    assert adapter.plan_residency([cond, uncond], stream=True) == [True, True]
    assert adapter.plan_residency([cond, uncond, vae], stream=True) == [True, True, False]  # no blocks to stream
    fake.weight_budget = 1 << 40
    assert adapter.plan_residency([cond, uncond]) == [False, False]
    cond.load_device = torch.device("cpu")
    assert adapter.plan_residency([cond, uncond], stream=True) == [False, False]  # the CPU never streams


def test_models_on_device_on_cpu_loads_whole(adapter, fake):
    patchers = [adapter.wrap_model(dit(), "diffusion")]
    with adapter.models_on_device(patchers, memory_required=7, stream=True) as device:
        assert device == torch.device("cpu")
    assert fake.loaded == [(patchers, 7, True)]


def test_step_reporter_progress_preview_interrupt(adapter, fake):
    report = adapter.step_reporter("5", 3, (2, 3), torch.device("cpu"))
    tokens = torch.zeros(2, 6, 128)
    report(0, 3, tokens, tokens)
    assert fake.progress == [(1, 3, ("JPEG", (1, 128, 2, 3)))]
    fake.interrupted = True
    mm = importlib.import_module("comfy.model_management")
    with pytest.raises(mm.InterruptProcessingException):
        report(1, 3, tokens, tokens)
    fake.previews = False
    adapter.step_reporter(None, 3, (2, 3), torch.device("cpu"))(2, 3, tokens, tokens)
    assert fake.progress[-1] == (3, 3, None)


def test_status_and_oom(adapter, fake):
    adapter.send_status("9", "loading")
    adapter.send_status(None, "nowhere")
    assert fake.texts == [("9", "loading")]
    errors = importlib.import_module("ig4pack.ideogram4_core.errors")
    message = r"Out of memory while running the cond model\. Use fp8\."
    with pytest.raises(errors.Ideogram4Error, match=message) as oom, adapter.oom_guard("the cond model", "Use fp8."):
        raise torch.OutOfMemoryError("CUDA out of memory")
    assert isinstance(oom.value.__cause__, torch.OutOfMemoryError)
    with pytest.raises(KeyError), adapter.oom_guard("x", "y"):
        raise KeyError("not memory")
