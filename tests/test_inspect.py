"""`python -m ideogram4_core inspect`: JSON for repo folders, components, single files; exit status; no data reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from fixtures_checkpoints import FOREIGN, ideogram4, write_headers
from fixtures_gguf import prefer, write_gguf_text_encoder
from fixtures_model import write_official_model
from fixtures_quant import write_comfy_text_encoder
from fixtures_text import tiny_qwen3_vl
from safetensors.torch import save_file
from test_lora import quantised_transformer

from ideogram4_core.cli import main
from ideogram4_core.models.text_encoder import TAP_LAYERS, TextEncoder
from ideogram4_core.models.transformer import Ideogram4Transformer, TransformerConfig
from ideogram4_core.weights import safetensors_io
from ideogram4_core.weights.quant import FORMATS
from ideogram4_core.weights.transformer_weights import load_transformer


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    folder = tmp_path_factory.mktemp("official")
    return folder, write_official_model(folder)


def inspect(capsys, *argv) -> tuple[int, dict, str]:
    code = main(["inspect", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out else {}, err


def numel(module: torch.nn.Module) -> int:
    return sum(t.numel() for t in module.state_dict().values())


def test_official_folder_reports_each_component(official, capsys, monkeypatch):
    folder, pipe = official
    monkeypatch.setattr(safetensors_io, "safe_open", None)  # any tensor read would fail
    code, report, _ = inspect(capsys, folder)
    assert code == 0
    assert {k: report[k] for k in ("family", "usable", "use_as", "tokenizer", "compute_dtype")} == {
        "family": "ideogram4-repo", "usable": True, "use_as": "--model / IG4_ModelLoader model", "tokenizer": True,
        "compute_dtype": "bf16",
    }  # fmt: skip
    parts = report["components"]
    assert {name: (part["family"], part.get("branch"), part["use_as"]) for name, part in parts.items()} == {
        "transformer": ("ideogram4-transformer", "cond", "--transformer / IG4_ModelLoader model"),
        "unconditional_transformer": (
            "ideogram4-transformer", "uncond", "--unconditional-transformer / IG4_ModelLoader unconditional model",
        ),
        "text_encoder": ("qwen3-vl-text-encoder", None, "--text-encoder / IG4_TextEncoderLoader"),
        "vae": ("flux2-vae", None, "--vae / IG4_VAELoader"),
    }  # fmt: skip
    dit = parts["transformer"]
    assert (dit["format"], dit["dtypes"], dit["usable"], dit["problem"]) == (
        "fp32",
        {"F32": dit["tensors"]},
        True,
        None,
    )
    assert dit["parameters"] == numel(pipe.transformer) and dit["resident_bytes"] == 2 * dit["parameters"]
    assert parts["vae"]["parameters"] == numel(pipe.vae)
    encoder = parts["text_encoder"]
    assert encoder["parameters"] == numel(pipe.text_encoder)  # the file: both towers
    language = pipe.text_encoder.language_model.state_dict()
    final_norm = len(pipe.text_encoder.language_model.layers) == max(TAP_LAYERS) + 1  # kept when it follows the tap
    loaded = sum(t.numel() for name, t in language.items() if final_norm or name != "norm.weight")  # no vision tower
    assert encoder["resident_bytes"] == 2 * loaded
    stages = [parts[n]["resident_bytes"] for n in ("transformer", "unconditional_transformer", "text_encoder", "vae")]
    assert report["peak_resident_bytes"] == max(stages[0] + stages[1], stages[2], stages[3])


def test_single_files(tmp_path, capsys):
    cfg = TransformerConfig(num_layers=2, attention_head_dim=256, num_attention_heads=1, intermediate_size=64,
                            adaln_dim=16, llm_features_dim=52)  # fmt: skip
    model = Ideogram4Transformer(cfg).to(torch.bfloat16)
    path = tmp_path / "ideogram4_bf16.safetensors"
    save_file(model.state_dict(), str(path))
    code, report, _ = inspect(capsys, path, "--dtype", "fp32")
    assert code == 0
    params = numel(model)
    assert report == {
        "path": str(path), "family": "ideogram4-transformer", "description": "the Ideogram 4 transformer",
        "branch": None, "format": "bf16", "dtypes": {"BF16": len(model.state_dict())},
        "quant_types": {"BF16": len(model.state_dict())}, "tensors": len(model.state_dict()), "parameters": params,
        "file_bytes": path.stat().st_size,
        "compute_dtype": "fp32", "resident_bytes": 4 * params, "usable": True,
        "use_as": "--transformer / IG4_ModelLoader model", "problem": None,
        "notes": [
            "branch not recorded (no model_type metadata, folder or 'uncond' in the name): taken as conditional",
            "2 blocks, hidden 256 (not the released 34 × 4608)",
        ],
    }  # fmt: skip

    spec, description = FOREIGN["flux1-dev.safetensors"]
    code, report, _ = inspect(capsys, write_headers(tmp_path / "flux1-dev.safetensors", spec))
    assert code == 0
    assert (report["family"], report["usable"], report["use_as"], report["resident_bytes"]) == (
        "flux1-transformer", False, None, None,
    )  # fmt: skip
    assert report["problem"] == f"flux1-dev.safetensors is {description}; Ideogram 4 has no use for it."
    assert report["parameters"] == sum(torch.Size(shape).numel() for _, shape in spec.values())


def test_exit_status_and_folders_of_files(tmp_path, capsys):
    write_headers(tmp_path / "files" / "mystery.safetensors", {"foo.weight": ("F32", (2, 2))})
    code, report, _ = inspect(capsys, tmp_path / "files" / "mystery.safetensors")
    assert (code, report["family"]) == (1, "unknown")
    (tmp_path / "files" / "old.ckpt").write_bytes(b"\x80\x04K\x01.")
    code, report, err = inspect(capsys, tmp_path / "files" / "old.ckpt")
    assert (code, report) == (2, {})
    assert err.count("\n") == 1 and err.startswith("error: old.ckpt is a pickle checkpoint")
    spec, _ = FOREIGN["ae.safetensors"]
    write_headers(tmp_path / "files" / "ae.safetensors", spec)
    code, report, err = inspect(capsys, tmp_path / "files")
    assert code == 2 and err.startswith("error: old.ckpt")
    assert [(Path(f["path"]).name, f.get("family", "error" in f)) for f in report["files"]] == [
        ("ae.safetensors", "other-vae"), ("mystery.safetensors", "unknown"), ("old.ckpt", True),
    ]  # fmt: skip


def test_quantised_weights_stay_quantised_in_the_estimate(tmp_path, capsys):
    if "official-fp8" not in {fmt.name for fmt in FORMATS}:
        pytest.skip("no official-fp8 loader registered")
    spec = ideogram4(hidden=256, blocks=2, ffn=64, text=52, adaln=16)
    linears = [name for name, (_, shape) in spec.items() if name.startswith("layers.") and len(shape) == 2]
    for name in linears:
        rows = spec[name][1][0]
        spec[name] = ("F8_E4M3", spec[name][1])
        spec[name.replace(".weight", ".weight_scale")] = ("F32", (rows,))
    code, report, _ = inspect(capsys, write_headers(tmp_path / "ideogram4_fp8.safetensors", spec))
    assert (code, report["format"], report["usable"]) == (0, "official-fp8", True)
    fp8 = sum(torch.Size(spec[n][1]).numel() for n in linears)
    scales = sum(4 * spec[n.replace(".weight", ".weight_scale")][1][0] for n in linears)
    assert report["resident_bytes"] == fp8 + scales + 2 * (report["parameters"] - fp8)


def held_bytes(module: torch.nn.Module) -> int:
    """Bytes of every distinct tensor a loaded model keeps (parameters and buffers)."""
    tensors = {(t.data_ptr(), t.nbytes): t.nbytes for t in [*module.parameters(), *module.buffers()]}
    return sum(tensors.values())


@pytest.mark.parametrize(
    ("kind", "types"),
    [
        ("gguf-Q4_K", {"F32": 23, "Q4_K": 14, "Q8_0": 5}),
        ("gguf-Q8_0", {"F32": 23, "Q8_0": 19}),
        ("comfy-int8_convrot", {"BF16": 23, "I8": 10, "F8_E4M3": 9}),
        ("comfy-fp8-scaled", {"BF16": 23, "F8_E4M3": 19}),
        ("official-nf4", {"NF4": 19, "BF16": 23}),
    ],
)
def test_transformer_quant_types_and_resident_bytes(tmp_path, capsys, kind, types):
    """`quant_types` counts weight tensors per stored type; `resident_bytes` is exactly what the loader keeps.

    The tiny DiT has 19 Linears (5 in each of 2 blocks, quantised as block linears by the int8 writer; K-quant
    blocks of 256 fit 14 of them, the others fall back to Q8_0) and 23 norms, biases and tables (F32 in GGUF,
    bf16 in safetensors)."""
    path, _ = quantised_transformer(kind, tmp_path)
    for dtype, name in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        code, report, _ = inspect(capsys, path, "--dtype", name)
        assert (code, report["quant_types"]) == (0, types)
        assert report["resident_bytes"] == held_bytes(load_transformer(path, device="cpu", dtype=dtype))


@pytest.mark.parametrize("kind", ["gguf-Q5_1", "gguf-IQ4_NL", "comfy-int8_rowwise"])
def test_text_encoder_quant_types_and_resident_bytes(tmp_path, capsys, kind):
    model = tiny_qwen3_vl(seed=3)
    if kind.startswith("gguf-"):
        path = write_gguf_text_encoder(tmp_path / "qwen3vl.gguf", model, prefer(kind.removeprefix("gguf-")))
        stored = kind.removeprefix("gguf-")
    else:
        path = write_comfy_text_encoder(tmp_path / "qwen3vl_int8.safetensors", model, fmt="int8_rowwise")
        stored = "I8"
    linears = 7 * model.config.text_config.num_hidden_layers
    for dtype, name in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        code, report, _ = inspect(capsys, path, "--dtype", name)
        assert code == 0 and report["quant_types"][stored] == linears + kind.startswith("gguf-")  # + embedding
        assert report["resident_bytes"] == held_bytes(TextEncoder.load(path, device="cpu", dtype=dtype).model)
