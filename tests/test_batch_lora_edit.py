"""Batch jobs with LoRAs and with a picture to edit: pixel-identical to `generate` with the same flags, one
LoRA set read once per group, base transformers loaded once."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixtures_lora import peft_lora, random_adapters, write_lora
from fixtures_model import write_official_model
from PIL import Image

from ideogram4_core.batch.jobs import read_jobs
from ideogram4_core.batch.runner import run_batch
from ideogram4_core.batch.worker import WorkerSpec
from ideogram4_core.caption import dumps_canonical
from ideogram4_core.cli import main
from ideogram4_core.pipeline import Ideogram4Pipeline, ModelPaths
from ideogram4_core.weights.lora import choice as lora_choice_module

CAPTION = {
    "compositional_deconstruction": {
        "background": "paper",
        "elements": [{"type": "text", "bbox": [0, 0, 500, 500], "text": "HELLO", "desc": "headline"}],
    }
}
CAPTION_TEXT = dumps_canonical(CAPTION)  # how a job's caption object is sent


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Path:
    """A tiny official repo, two LoRAs (PEFT/diffusers and kohya layouts), a picture and a mask."""
    folder = tmp_path_factory.mktemp("batch_lora_edit")
    oracle = write_official_model(folder / "repo")
    peft_lora(
        folder, oracle.transformer, ["layers.0.attention.to_q", "final_layer.linear"], 2, 4.0, 1, "style.safetensors"
    )
    adapters = random_adapters(oracle.transformer, ["layers.1.feed_forward.w1"], 3, 2, 3.0)
    write_lora(folder / "uncond.safetensors", adapters, "kohya")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)).save(folder / "photo.png")
    mask = np.zeros((16, 24), dtype=np.uint8)  # another size than the image: it is fitted
    mask[:, :12] = 255
    Image.fromarray(mask).save(folder / "mask.png")
    return folder


JOBS = [
    ({"id": "lora", "loras": [{"file": "style.safetensors", "strength": 0.7}],
      "unconditional_loras": ["uncond.safetensors"]},
     ["--lora", "style.safetensors:0.7", "--unconditional-lora", "uncond.safetensors"]),
    ({"id": "single", "loras": ["style.safetensors"], "unconditional_loras": ["uncond.safetensors:0.5"],
      "unconditional_from_conditional": True},
     ["--lora", "style.safetensors", "--unconditional-lora", "uncond.safetensors:0.5",
      "--unconditional-from-conditional"]),
    ({"id": "inpaint", "init_image": "photo.png", "mask": "mask.png", "denoise": 0.8},
     ["--init-image", "photo.png", "--mask", "mask.png", "--denoise", "0.8"]),
    ({"id": "img2img", "init_image": "photo.png", "loras": ["style.safetensors:0.5"]},
     ["--init-image", "photo.png", "--lora", "style.safetensors:0.5"]),
    ({"id": "elements", "init_image": "photo.png", "edit_elements": [1], "edit_margin": 4},
     ["--init-image", "photo.png", "--edit-elements", "1", "--edit-margin", "4"]),
]  # fmt: skip


def test_lora_and_edit_jobs_match_generate(setup, capsys):
    folder = setup
    common = {"caption": CAPTION, "width": 48, "height": 32, "seed": 4, "steps": 3}
    jobs = folder / "jobs.jsonl"
    jobs.write_text("".join(json.dumps({**common, **job}) + "\n" for job, _ in JOBS))
    out = folder / "out"
    code = main(["batch", str(jobs), "--output", str(out), "--model", str(folder / "repo"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0, err
    rows = {row["id"]: row for row in map(json.loads, (out / "manifest.jsonl").read_text().splitlines())}
    assert {row["status"] for row in rows.values()} == {"done"}, rows
    for job, flags in JOBS:
        single = folder / f"{job['id']}_generate.png"
        paths = [str(folder / f) if f.split(":")[0].endswith((".png", ".safetensors")) else f for f in flags]
        argv = ["generate", "--model", str(folder / "repo"), "--caption", CAPTION_TEXT, "--width", "48", "--height",
                "32", "--seed", "4", "--steps", "3", "--output", str(single), *paths]  # fmt: skip
        assert main(argv) == 0, capsys.readouterr().err
        batch_png = Image.open(out / rows[job["id"]]["file"])
        reference = Image.open(single)
        assert np.array_equal(np.asarray(batch_png), np.asarray(reference)), job["id"]
        assert batch_png.info["ideogram4_settings"] == reference.info["ideogram4_settings"], job["id"]
    assert "LoRA style.safetensors @ 0.7" in Image.open(out / "lora_4.png").info["ideogram4_settings"]
    lora_models = {k for k in rows["single"]["models"] if k.startswith("lora:")}
    assert lora_models == {f"lora:{folder / 'style.safetensors'}", f"lora:{folder / 'uncond.safetensors'}"}
    assert not any(k.startswith("lora:") for k in rows["inpaint"]["models"])
    assert rows["inpaint"]["mask"] == str(folder / "mask.png") and rows["lora"]["loras"] == [
        f"{folder / 'style.safetensors'}:0.7"
    ]
    # The edit changes the picture only inside the mask (left half): away from its edge the rest is the original.
    photo = np.asarray(Image.open(folder / "photo.png"))
    inpainted = np.asarray(Image.open(out / "inpaint_4.png"))
    assert np.array_equal(inpainted[:, 32:], photo[:, 32:]) and not np.array_equal(inpainted[:, :16], photo[:, :16])


def test_one_lora_set_is_read_once_per_group_and_base_weights_once(setup, monkeypatch):
    folder = setup
    reads, branches = [], []
    original_read = lora_choice_module.read_lora
    monkeypatch.setattr(lora_choice_module, "read_lora", lambda path: reads.append(path.name) or original_read(path))
    original_branch = Ideogram4Pipeline.load_branch
    monkeypatch.setattr(Ideogram4Pipeline, "load_branch",
                        lambda self, branch: branches.append(branch) or original_branch(self, branch))  # fmt: skip
    style = {"loras": ["style.safetensors:0.7"], "unconditional_loras": ["uncond.safetensors"]}
    jobs = folder / "grouping.jsonl"
    rows = [{"id": "a", **style, "seeds": [1, 2]}, {"id": "plain", "seed": 1}, {"id": "b", **style, "seed": 3},
            {"id": "c", "loras": ["style.safetensors:0.2"], "seed": 1}]  # fmt: skip
    jobs.write_text("".join(json.dumps({"caption": "a kite", "width": 32, "height": 32, "steps": 2, **r}) + "\n"
                            for r in rows))  # fmt: skip
    spec = WorkerSpec(ModelPaths.from_folder(folder / "repo"), device="cpu")
    summary = run_batch(read_jobs(jobs), spec, folder / "grouped", chunk_size=1, progress=False)
    assert (summary.rendered, summary.failed) == (5, 0), summary.failures
    assert branches == ["cond", "uncond"]  # the base transformers load once, whatever the LoRAs
    # Three LoRA sets (style+uncond for a and b, none, style at 0.2): each set's files read once.
    assert sorted(reads) == ["style.safetensors", "style.safetensors", "uncond.safetensors"]


def test_bad_lora_and_edit_fields(setup, capsys):
    folder = setup
    jobs = folder / "bad.jsonl"
    common = {"caption": CAPTION, "width": 32, "height": 32, "steps": 2}
    bad = [{"id": "orphan", "mask": "mask.png"}, {"id": "strength", "loras": ["style.safetensors:strong"]},
           {"id": "nopicture", "init_image": "none.png"}, {"id": "noelement", "init_image": "photo.png",
           "edit_elements": [3]}, {"id": "nolora", "loras": ["absent.safetensors"]},
           {"id": "cut", "loras": ["cut.safetensors"]}]  # fmt: skip
    (folder / "cut.safetensors").write_bytes(b"\x10\x00")  # a truncated download
    jobs.write_text("".join(json.dumps({**common, **job}) + "\n" for job in bad))
    out = folder / "bad_out"
    code = main(["batch", str(jobs), "--output", str(out), "--model", str(folder / "repo"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "bad.jsonl line 1: 'mask' need \"init_image\": the picture to edit; skipped" in err
    assert "bad.jsonl line 2: \"loras[0]\": The LoRA strength 'strong'" in err
    errors = {row["id"]: row["error"] for row in map(json.loads, (out / "manifest.jsonl").read_text().splitlines())}
    assert set(errors) == {"nopicture", "noelement", "nolora", "cut"}
    assert "none.png" in errors["nopicture"] and "Element 3 does not exist" in errors["noelement"]
    assert "LoRA file not found" in errors["nolora"]
