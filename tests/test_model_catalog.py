"""Listing Ideogram 4 files in ComfyUI-style model folders and pairing the two transformers (header-only files)."""

from __future__ import annotations

import os
import types
from pathlib import Path

import pytest
from comfy_stub import forget_pack, import_pack
from fixtures_checkpoints import FOREIGN, qwen3_text_encoder, tiny_ideogram4, vae, write_headers

from ideogram4_core.demo import write_demo_model
from ideogram4_core.models.tokenizer import bundled_tokenizer_dir


@pytest.fixture
def catalog(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    import_pack(monkeypatch, {})
    import importlib

    yield importlib.import_module("ig4pack.nodes.model_catalog")
    forget_pack()


@pytest.fixture
def errors(catalog: types.ModuleType) -> types.ModuleType:
    import importlib

    return importlib.import_module("ig4pack.ideogram4_core.errors")


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory) -> Path:
    return write_demo_model(tmp_path_factory.mktemp("diffusers") / "ideogram-4-demo")


def dit(path: Path, **metadata: str) -> Path:
    return write_headers(path, tiny_ideogram4(), metadata or None)


def models(tmp_path: Path) -> Path:
    folder = tmp_path / "diffusion_models"
    dit(folder / "ideogram4_fp8_scaled.safetensors")
    dit(folder / "ideogram4_unconditional_fp8_scaled.safetensors")
    dit(folder / "sub" / "ig4_cond.safetensors", model_type="ideogram4_cond")
    dit(folder / "sub" / "ig4_uncond.safetensors", model_type="ideogram4_uncond")
    write_headers(folder / "flux1-dev.safetensors", FOREIGN["flux1-dev.safetensors"][0])
    (folder / "notes.txt").write_text("not a model")
    (folder / "broken.safetensors").write_bytes(b"garbage")
    return folder


def test_transformers_lists_repos_then_files_cond_first(catalog, tmp_path, demo_repo):
    entries = catalog.transformers([models(tmp_path)], [demo_repo.parent])
    assert list(entries) == [
        "ideogram-4-demo/",
        "ideogram4_fp8_scaled.safetensors",
        "sub/ig4_cond.safetensors",
        "ideogram4_unconditional_fp8_scaled.safetensors",
        "sub/ig4_uncond.safetensors",
    ]
    assert entries["ideogram-4-demo/"] == demo_repo


def test_repo_folders_two_levels_deep(catalog, tmp_path):
    (tmp_path / "org" / "repo" / "transformer").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c" / "transformer").mkdir(parents=True)
    assert list(catalog.repo_folders([tmp_path, tmp_path / "missing"])) == ["org/repo/"]


@pytest.mark.parametrize(
    ("model", "twin"),
    [
        ("ideogram4_fp8_scaled.safetensors", "ideogram4_unconditional_fp8_scaled.safetensors"),
        ("sub/ig4_cond.safetensors", "sub/ig4_uncond.safetensors"),
    ],
)
def test_auto_finds_the_unconditional_twin(catalog, tmp_path, model, twin):
    entries = catalog.transformers([models(tmp_path)], [])
    assert catalog.resolve_pair(entries[model], catalog.AUTO, entries) == (entries[model], entries[twin])
    assert catalog.resolve_pair(entries[model], catalog.NONE, entries) == (entries[model], None)


def test_pair_key_drops_branch_words(catalog):
    assert catalog.pair_key("ideogram4_unconditional_fp8_scaled.safetensors") == "ideogram4 fp8 scaled"
    assert catalog.pair_key("dir/Ideogram4-FP8-Scaled.sft") == "ideogram4 fp8 scaled"
    assert catalog.pair_key("x_cond.safetensors") == catalog.pair_key("x-uncond.safetensors") == "x"
    assert catalog.pair_key("second.safetensors") == "second"  # "cond" inside a word is not a branch word


def test_repo_pairs_with_its_unconditional_folder(catalog, demo_repo):
    entries = catalog.transformers([], [demo_repo.parent])
    pair = catalog.resolve_pair(demo_repo, catalog.AUTO, entries)
    assert pair == (demo_repo / "transformer", demo_repo / "unconditional_transformer")
    explicit = catalog.resolve_pair(demo_repo, "ideogram-4-demo/", entries)
    assert explicit == pair  # a repo picked as the unconditional model means its unconditional_transformer/


def test_swapped_model_names_the_fix(catalog, errors, tmp_path):
    entries = catalog.transformers([models(tmp_path)], [])
    with pytest.raises(errors.ModelFileError, match="swapped") as raised:
        catalog.resolve_pair(entries["ideogram4_unconditional_fp8_scaled.safetensors"], catalog.AUTO, entries)
    assert "Pick ideogram4_fp8_scaled.safetensors as the model" in str(raised.value)


def test_conditional_picked_as_unconditional_is_refused(catalog, errors, tmp_path):
    entries = catalog.transformers([models(tmp_path)], [])
    with pytest.raises(errors.ModelFileError, match="conditional Ideogram 4 transformer, not the unconditional"):
        catalog.resolve_pair(entries["ideogram4_fp8_scaled.safetensors"], "sub/ig4_cond.safetensors", entries)
    with pytest.raises(errors.ModelFileError, match="both the model and the unconditional"):
        path = entries["ideogram4_fp8_scaled.safetensors"]
        catalog.resolve_pair(path, "ideogram4_fp8_scaled.safetensors", entries)


def test_missing_twin_suggests_none(catalog, errors, tmp_path):
    lone = dit(tmp_path / "dm" / "my_ideogram.safetensors")
    entries = catalog.transformers([tmp_path / "dm"], [])
    with pytest.raises(errors.ModelFileError, match="choose 'none'"):
        catalog.resolve_pair(lone, catalog.AUTO, entries)
    with pytest.raises(errors.ModelFileError, match="not in the model folders any more"):
        catalog.pick(entries, "gone.safetensors", "Model")


def test_text_encoders_vaes_and_tokenizers(catalog, tmp_path, demo_repo):
    te_root, vae_root = tmp_path / "text_encoders", tmp_path / "vae"
    write_headers(te_root / "qwen3vl_8b_fp8_scaled.safetensors", qwen3_text_encoder())
    write_headers(te_root / "qwen3_4b.safetensors", qwen3_text_encoder(layers=2))
    write_headers(te_root / "t5xxl.safetensors", FOREIGN["flux1-dev.safetensors"][0])
    write_headers(vae_root / "flux2-vae.safetensors", vae())
    repos = [demo_repo.parent]
    assert list(catalog.text_encoders([te_root], repos)) == [
        "qwen3_4b.safetensors",  # a Qwen3 text encoder too shallow for Ideogram 4: listed, refused when loaded
        "qwen3vl_8b_fp8_scaled.safetensors",
        "ideogram-4-demo/text_encoder/",
    ]
    assert list(catalog.vaes([vae_root], repos)) == ["flux2-vae.safetensors", "ideogram-4-demo/vae/"]
    assert catalog.tokenizers(repos)["ideogram-4-demo/tokenizer/"] == demo_repo / "tokenizer"


def test_tokenizer_auto_next_to_encoder_else_bundled(catalog, tmp_path, demo_repo):
    te = demo_repo / "text_encoder"
    assert catalog.resolve_tokenizer(catalog.AUTO, te, {}) == demo_repo / "tokenizer"
    lone = write_headers(tmp_path / "te" / "qwen.safetensors", qwen3_text_encoder())
    bundled = catalog.resolve_tokenizer(catalog.AUTO, lone, {})
    assert bundled == bundled_tokenizer_dir() and (bundled / "vocab.json").is_file()
    assert catalog.tokenizers([])["Qwen tokenizer bundled with this pack"] == bundled
    assert catalog.resolve_tokenizer("x/", lone, {"x/": tmp_path}) == tmp_path


def test_rewritten_file_is_identified_again_and_changes_the_fingerprint(catalog, tmp_path):
    path = dit(tmp_path / "ig4.safetensors")
    before = catalog.fingerprint([path, None])
    assert catalog.describe(path).branch is None and catalog.fingerprint([path]) == before
    dit(path, model_type="ideogram4_uncond")
    os.utime(path, ns=(1, 1))
    assert catalog.describe(path).branch == "uncond"
    assert catalog.fingerprint([path]) != before
    assert catalog.describe(tmp_path / "missing.safetensors") is None
