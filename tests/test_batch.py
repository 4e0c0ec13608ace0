"""Batch rendering in one process: identical to `generate`, resumable, and bad input handled per job or line."""

from __future__ import annotations

import csv
import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ideogram4_core.batch.jobs import JobDefaults, read_jobs
from ideogram4_core.batch.manifest import Manifest, write_atomic
from ideogram4_core.batch.runner import local_backend, run_batch
from ideogram4_core.batch.worker import Worker, WorkerSpec
from ideogram4_core.caption import dumps_canonical
from ideogram4_core.cli import main
from ideogram4_core.demo import write_demo_model
from ideogram4_core.pipeline import ModelPaths

CAPTION = {"compositional_deconstruction": {"background": "teal wall", "elements": []}}
PLAIN = "a red poster with the word SALE"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_demo_model(tmp_path_factory.mktemp("batch_model"))


def write_jsonl(path: Path, jobs: list) -> Path:
    path.write_text("\n".join(j if isinstance(j, str) else json.dumps(j, ensure_ascii=False) for j in jobs) + "\n")
    return path


def run_cli(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def rows(output: Path) -> list[dict]:
    return [json.loads(line) for line in (output / "manifest.jsonl").read_text().splitlines()]


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_batch_images_are_identical_to_generate(model, tmp_path, capsys):
    caption_file = tmp_path / "poster.json"
    caption_file.write_text('{"compositional_deconstruction":{"background":"paper","elements":[]}}\n')
    jobs = write_jsonl(tmp_path / "jobs.jsonl", [
        {"id": "obj", "caption": CAPTION, "width": 48, "height": 32, "seeds": [3, 11], "preset": "V4_TURBO_12"},
        {"id": "file", "caption_file": "poster.json", "width": 32, "height": 32, "seed": 7, "variations": 2,
         "steps": 3, "guidance": 4.5},
        {"id": "plain", "caption": PLAIN, "width": 32, "height": 48, "seed": 1, "polish_steps": 0, "steps": 2},
    ])  # fmt: skip
    out = tmp_path / "out"
    code, err = run_cli(capsys, "batch", jobs, "--output", out, "--model", model, "--no-progress")
    assert code == 0, err
    assert "5 images in 3 jobs: 5 to render" in err
    runs = {
        ("obj", 3): ["--caption", dumps_canonical(CAPTION), "--width", 48, "--height", 32, "--preset", "V4_TURBO_12"],
        ("obj", 11): ["--caption", dumps_canonical(CAPTION), "--width", 48, "--height", 32, "--preset", "V4_TURBO_12"],
        ("file", 8): ["--caption-file", caption_file, "--width", 32, "--height", 32, "--steps", 3, "--guidance", 4.5],
        ("plain", 1): ["--caption", PLAIN, "--width", 32, "--height", 48, "--steps", 2, "--polish-steps", 0],
    }
    by_image = {(r["id"], r["seed"]): r for r in rows(out)}
    assert len(by_image) == 5 and all(r["status"] == "done" for r in by_image.values())
    for (job_id, seed), flags in runs.items():
        single = tmp_path / f"{job_id}_{seed}_generate.png"
        code, err = run_cli(capsys, "generate", "--model", model, *flags, "--seed", seed, "--output", single)
        assert code == 0, err
        row = by_image[job_id, seed]
        batch_png = out / row["file"]
        assert row["file"] == f"{job_id}_{seed}.png"
        assert row["sha256"] == hashlib.sha256(batch_png.read_bytes()).hexdigest()
        assert np.array_equal(pixels(batch_png), pixels(single)), (job_id, seed)
        info, reference = Image.open(batch_png).info, Image.open(single).info
        assert info["ideogram4_caption"] == reference["ideogram4_caption"]
        assert info["ideogram4_settings"] == reference["ideogram4_settings"]
        assert json.loads(info["ideogram4_job"])["id"] == job_id
    row = by_image["file", 7]
    assert set(row["timings"]) == {"encode", "sample", "decode", "png", "write"}
    assert set(row["models"]) == {"transformer", "unconditional_transformer", "text_encoder", "vae", "tokenizer"}
    assert row["settings"] == {"steps": 3, "guidance": 4.5, "polish_steps": 2, "polish_guidance": 3.0,
                               "mu": 0.0, "std": 1.75}  # fmt: skip
    # The second image of a caption reuses its encoding.
    assert [by_image["obj", s]["encode_cached"] for s in (3, 11)] == [False, True]


def test_each_model_loads_once_and_captions_are_encoded_once(model, monkeypatch):
    spec = WorkerSpec(ModelPaths.from_folder(model), device="cpu")
    worker = Worker(spec)
    loads = []
    for name in ("load_text_encoder", "load_branch", "load_vae"):
        original = getattr(worker.pipeline, name)
        monkeypatch.setattr(worker.pipeline, name, lambda *a, _o=original, _n=name: loads.append(_n) or _o(*a))
    encoder_calls = []
    job_set = read_jobs(write_jsonl(Path(spec.paths.transformer).parent / "jobs.jsonl", [
        {"id": "a", "caption": PLAIN, "width": 32, "height": 32, "seeds": [1, 2, 3], "steps": 2},
        {"id": "b", "caption": PLAIN, "width": 48, "height": 32, "seed": 4, "steps": 2},
        {"id": "c", "caption": "another caption", "width": 32, "height": 32, "seed": 4, "steps": 2},
    ]))  # fmt: skip
    from ideogram4_core.batch.worker import ImageTask

    tasks = [ImageTask(job, seed) for job in job_set.jobs for seed in job.seeds]
    first = list(worker.render(tasks[:3]))
    encoder = worker._text_encoder()
    original_encode = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda captions: encoder_calls.append(captions) or original_encode(captions))
    second = list(worker.render(tasks[3:]))
    assert all(o.png for o in first + second)
    assert loads == ["load_text_encoder", "load_branch", "load_branch", "load_vae"]  # cond + uncond, once each
    assert encoder_calls == [["another caption"]]  # PLAIN came from the cache
    assert set(worker.load_seconds) == {"text_encoder", "transformer", "unconditional_transformer", "vae"}


def test_csv_and_caption_folder_match_jsonl(model, tmp_path, capsys):
    table = tmp_path / "jobs.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "caption", "width", "height", "seeds", "steps"])
        writer.writerow(["row", json.dumps(CAPTION), "32", "32", "5,6", "2"])
    code, err = run_cli(capsys, "batch", table, "--output", tmp_path / "csv", "--model", model, "--no-progress")
    assert code == 0, err
    folder = tmp_path / "captions"
    folder.mkdir()
    (folder / "row.json").write_text(json.dumps(CAPTION))
    code, err = run_cli(capsys, "batch", folder, "--output", tmp_path / "folder", "--model", model, "--width", 32,
                        "--height", 32, "--seed", 5, "--variations", 2, "--steps", 2, "--no-progress")  # fmt: skip
    assert code == 0, err
    for seed in (5, 6):
        name = f"row_{seed}.png"
        assert np.array_equal(pixels(tmp_path / "csv" / name), pixels(tmp_path / "folder" / name))


def test_bad_input_is_reported_by_line_and_failed_jobs_recorded(model, tmp_path, capsys):
    jobs = write_jsonl(tmp_path / "jobs.jsonl", [
        {"id": "good", "caption": PLAIN, "width": 32, "height": 32, "seed": 1},
        "{not json",
        {"id": "good", "caption": PLAIN, "width": 32, "height": 32, "seed": 2},
        {"id": "typo", "caption": PLAIN, "width": 32, "heigth": 32},
        {"id": "size", "caption": PLAIN, "width": 40, "height": 32},
        {"id": "nofile", "caption_file": "missing.json", "width": 32, "height": 32},
        {"id": "empty", "caption": "   ", "width": 32, "height": 32},
        {"id": "preset", "caption": PLAIN, "width": 32, "height": 32, "preset": "FAST"},
        {"id": "lora", "caption": PLAIN, "width": 32, "height": 32,
         "loras": [{"file": "style.safetensors", "strength": 0.5}]},
        {"id": "same", "caption": PLAIN, "width": 32, "height": 32, "seed": 1},
    ])  # fmt: skip
    out = tmp_path / "out"
    code, err = run_cli(capsys, "batch", jobs, "--output", out, "--model", model, "--steps", 2, "--no-progress")
    assert code == 1
    assert "jobs.jsonl line 2: not valid JSON" in err
    assert "jobs.jsonl line 3: duplicate job id 'good' (first at jobs.jsonl line 1); skipped" in err
    assert "jobs.jsonl line 4: unknown field 'heigth'" in err
    by_id = {r["id"]: r for r in rows(out)}
    assert by_id["good"]["status"] == "done" and (out / "good_1.png").is_file()
    errors = {job_id: by_id[job_id]["error"] for job_id in ("size", "nofile", "empty", "preset", "lora")}
    assert all(by_id[job_id]["status"] == "failed" and by_id[job_id]["file"] is None for job_id in errors)
    assert "width 40 is not a positive multiple of 16" in errors["size"]
    assert "Cannot read the caption file" in errors["nofile"] and "missing.json" in errors["nofile"]
    assert "The caption is empty" in errors["empty"]
    assert "Unknown preset 'FAST'" in errors["preset"]
    assert "LoRA file not found" in errors["lora"] and "style.safetensors" in errors["lora"]
    assert by_id["lora"]["loras"] == [f"{tmp_path / 'style.safetensors'}:0.5"]
    # Identical jobs are rendered once: the second names the first one's file.
    assert by_id["same"]["status"] == "done" and by_id["same"]["file"] == "good_1.png"
    assert by_id["same"]["duplicate_of"] == "good"
    assert "1 rendered, 0 already done, 1 identical to another job, 5 failed, 3 input problems" in err
    assert sorted(p.name for p in out.iterdir()) == ["good_1.png", "manifest.jsonl"]


def test_rerun_skips_done_images_and_retries_failed_ones(model, tmp_path, capsys):
    caption_file = tmp_path / "later.json"
    jobs = write_jsonl(tmp_path / "jobs.jsonl", [
        {"id": "a", "caption": PLAIN, "width": 32, "height": 32, "seeds": [1, 2], "steps": 2},
        {"id": "b", "caption_file": "later.json", "width": 32, "height": 32, "steps": 2},
    ])  # fmt: skip
    out = tmp_path / "out"
    code, _ = run_cli(capsys, "batch", jobs, "--output", out, "--model", model, "--no-progress")
    assert code == 1
    first = {(r["id"], r["seed"]): r for r in rows(out)}
    assert first["b", 0]["status"] == "failed"
    caption_file.write_text(PLAIN + " at night")
    code, err = run_cli(capsys, "batch", jobs, "--output", out, "--model", model, "--no-progress")
    assert code == 0, err
    assert "3 images in 2 jobs: 1 to render" in err and "2 already done" in err
    second = rows(out)
    assert [(r["id"], r["seed"], r["status"]) for r in second] == [("a", 1, "done"), ("a", 2, "done"), ("b", 0, "done")]
    assert second[0] == first["a", 1]  # untouched
    # A changed job renders again, replacing its row.
    write_jsonl(jobs, [{"id": "a", "caption": PLAIN, "width": 32, "height": 32, "seeds": [1, 2], "steps": 3}])
    code, err = run_cli(capsys, "batch", jobs, "--output", out, "--model", model, "--no-progress")
    assert code == 0 and "2 to render" in err
    assert [r["settings"]["steps"] for r in rows(out) if r["id"] == "a"] == [3, 3]


def test_ctrl_c_leaves_a_consistent_manifest(model, tmp_path):
    jobs = write_jsonl(tmp_path / "jobs.jsonl", [
        {"id": "a", "caption": PLAIN, "width": 32, "height": 32, "seeds": [1, 2, 3, 4], "steps": 2},
    ])  # fmt: skip
    job_set = read_jobs(jobs)
    spec = WorkerSpec(ModelPaths.from_folder(model), device="cpu")

    def interrupted_after_two(spec, chunks, deliver):
        delivered = []

        def counting(outcome):
            deliver(outcome)
            delivered.append(outcome)
            if len(delivered) == 2:
                raise KeyboardInterrupt

        local_backend(spec, chunks, counting)

    out = tmp_path / "out"
    summary = run_batch(job_set, spec, out, backend=interrupted_after_two, chunk_size=1, progress=False)
    assert summary.interrupted and summary.rendered == 2
    assert [(r["id"], r["seed"]) for r in rows(out)] == [("a", 1), ("a", 2)]
    assert sorted(p.name for p in out.iterdir()) == ["a_1.png", "a_2.png", "manifest.jsonl"]
    summary = run_batch(job_set, spec, out, chunk_size=1, progress=False)
    assert (summary.rendered, summary.already_done) == (2, 2)
    assert [(r["id"], r["seed"]) for r in rows(out)] == [("a", s) for s in (1, 2, 3, 4)]


def test_kill_mid_run_then_rerun_nothing_missing_or_duplicated(model, tmp_path):
    jobs = write_jsonl(tmp_path / "jobs.jsonl", [
        {"id": f"j{i}", "caption": f"{PLAIN} number {i}", "width": 48, "height": 48, "seeds": [1, 2], "steps": 6}
        for i in range(5)
    ])  # fmt: skip
    out = tmp_path / "out"
    command = [sys.executable, "-m", "ideogram4_core", "batch", str(jobs), "--output", str(out), "--model",
               str(model), "--chunk-size", "1", "--no-progress"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    manifest = out / "manifest.jsonl"
    while time.monotonic() < deadline and process.poll() is None:
        if manifest.is_file() and manifest.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    listed = Manifest(out).rows
    assert 3 <= len(listed) < 10
    for row in listed.values():  # every listed image is complete
        assert hashlib.sha256((out / row["file"]).read_bytes()).hexdigest() == row["sha256"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    final = rows(out)
    assert sorted((r["id"], r["seed"]) for r in final) == sorted((f"j{i}", s) for i in range(5) for s in (1, 2))
    assert all(r["status"] == "done" for r in final)
    for row in final:
        assert hashlib.sha256((out / row["file"]).read_bytes()).hexdigest() == row["sha256"]
    assert sorted(p.name for p in out.iterdir()) == sorted([r["file"] for r in final] + ["manifest.jsonl"])


def test_sigint_stops_cleanly_and_a_rerun_completes(model, tmp_path):
    """A real Ctrl-C (SIGINT) mid-run: exit 130, every listed image complete, no temporary files; a rerun
    renders only the rest."""
    jobs = write_jsonl(tmp_path / "jobs.jsonl", [
        {"id": f"j{i}", "caption": f"{PLAIN} number {i}", "width": 48, "height": 48, "seeds": [1, 2], "steps": 6}
        for i in range(4)
    ])  # fmt: skip
    out = tmp_path / "out"
    command = [sys.executable, "-m", "ideogram4_core", "batch", str(jobs), "--output", str(out), "--model",
               str(model), "--chunk-size", "1", "--no-progress"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    manifest = out / "manifest.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if manifest.is_file() and manifest.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    err = process.communicate(timeout=120)[1]
    assert process.returncode == 130, err
    assert "interrupted: the manifest holds every finished image" in err and "Traceback" not in err
    listed = rows(out)
    assert 2 <= len(listed) < 8 and len({(r["id"], r["seed"]) for r in listed}) == len(listed)
    for row in listed:
        assert row["status"] == "done"
        assert hashlib.sha256((out / row["file"]).read_bytes()).hexdigest() == row["sha256"]
    assert sorted(p.name for p in out.iterdir()) == sorted([r["file"] for r in listed] + ["manifest.jsonl"])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert f"8 images in 4 jobs: {8 - len(listed)} to render" in done.stderr
    assert sorted((r["id"], r["seed"]) for r in rows(out)) == sorted((f"j{i}", s) for i in range(4) for s in (1, 2))


def test_bad_csv_rows_are_reported_by_line(model, tmp_path, capsys):
    table = tmp_path / "jobs.csv"
    table.write_text(
        "id,caption,width,height,seed\n"
        f'ok,"{PLAIN}",32,32,1\n'
        'cells,"too many",32,32,1,extra\n'
        'width,"a caption",wide,32,1\n'
        '"multi","a caption\non two lines",32,32,x\n'
        f'ok,"{PLAIN}",32,32,2\n'
        "nofile,,32,32,1\n"
    )
    out = tmp_path / "out"
    code, err = run_cli(capsys, "batch", table, "--output", out, "--model", model, "--steps", 2, "--no-progress")
    assert code == 1
    assert "jobs.csv line 3: 6 cells, more than the header; skipped" in err
    assert 'jobs.csv line 4: "width" must be a whole number (got "wide"); skipped' in err
    assert 'jobs.csv line 6: "seed" must be a whole number (got "x"); skipped' in err  # the row ends on line 6
    assert "jobs.csv line 7: duplicate job id 'ok' (first at jobs.csv line 2); skipped" in err
    assert 'jobs.csv line 8: give exactly one of "caption" and "caption_file"; skipped' in err
    assert [(r["id"], r["status"]) for r in rows(out)] == [("ok", "done")]


def test_ctrl_c_is_held_back_while_an_image_and_its_line_are_written(tmp_path):
    import os

    from ideogram4_core.batch.manifest import deferred_interrupt

    manifest = Manifest(tmp_path)
    with pytest.raises(KeyboardInterrupt), deferred_interrupt():
        os.kill(os.getpid(), signal.SIGINT)
        write_atomic(tmp_path / "a_1.png", b"png")
        manifest.append({"id": "a", "seed": 1, "status": "done", "file": "a_1.png", "key": "k"})
    manifest.close()
    assert Manifest(tmp_path).done("a", 1, "k") and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_manifest_drops_a_line_cut_off_by_a_crash(tmp_path):
    path = tmp_path / "manifest.jsonl"
    (tmp_path / "a_1.png").write_bytes(b"png")
    whole = json.dumps({"id": "a", "seed": 1, "status": "done", "file": "a_1.png", "key": "k"})
    path.write_text(whole + "\n" + '{"id": "a", "seed": 2, "sta')
    manifest = Manifest(tmp_path)
    assert list(manifest.rows) == [("a", 1)] and manifest.done("a", 1, "k") and not manifest.done("a", 1, "other")
    manifest.close()
    assert path.read_text() == whole + "\n"


def test_unwritable_output_and_bad_options_are_one_error(model, tmp_path, capsys, monkeypatch):
    jobs = write_jsonl(tmp_path / "jobs.jsonl", [{"id": "a", "caption": PLAIN, "width": 32, "height": 32}])
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cases = [
        (["--output", blocker / "out"], "Cannot write to the output folder"),
        (["--output", tmp_path / "o", "--workers", 2], "--workers needs --ray"),
        (["--output", tmp_path / "o", "--batch-size", 0], "--batch-size must be at least 1"),
    ]
    for flags, message in cases:
        code, err = run_cli(capsys, "batch", jobs, "--model", model, *flags)
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert code == 2 and len(lines) == 1 and message in lines[0], err
    code, err = run_cli(capsys, "batch", tmp_path / "none.jsonl", "--model", model, "--output", tmp_path / "o")
    assert code == 2 and "Jobs not found" in err

    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a))
    code, err = run_cli(capsys, "batch", jobs, "--model", model, "--output", tmp_path / "o", "--ray")
    assert code == 2 and 'pip install -e ".[ray]"' in err


def test_job_fields_map_to_generate_flags(tmp_path):
    jobs = write_jsonl(tmp_path / "jobs.jsonl", [
        {"id": "x", "caption": "c", "width": 32, "height": 32, "loras": ["a.safetensors:0.7", "b.safetensors"],
         "unconditional_loras": ["u.safetensors:0.3"], "unconditional_from_conditional": True,
         "init_image": "in.png", "denoise": 0.6, "mask": "m.png", "edit_elements": [1, 3], "edit_margin": 8},
    ])  # fmt: skip
    (job,) = read_jobs(jobs, JobDefaults()).jobs
    assert job.loras == (f"{tmp_path / 'a.safetensors'}:0.7", str(tmp_path / "b.safetensors"))
    assert job.unconditional_loras == (f"{tmp_path / 'u.safetensors'}:0.3",)
    assert job.init_image == str(tmp_path / "in.png") and job.mask == str(tmp_path / "m.png")
    assert (job.denoise, job.edit_elements, job.edit_margin) == (0.6, (1, 3), 8)
    assert job.unconditional_from_conditional
    assert job.render_key(0) != read_jobs(write_jsonl(tmp_path / "j2.jsonl", [
        {"id": "x", "caption": "c", "width": 32, "height": 32}]), JobDefaults()).jobs[0].render_key(0)  # fmt: skip


@pytest.mark.parametrize("flag", [[], ["--exact-fp8"]])
def test_exact_fp8_reaches_the_workers_pipeline(model, tmp_path, capsys, monkeypatch, flag):
    from ideogram4_core.cli import batch

    specs = []

    class Stop(Exception):
        """Stops the command before rendering: only the spec is checked."""

    def record(job_set, spec, output, **kwargs):
        specs.append(spec)
        raise Stop

    monkeypatch.setattr(batch, "run_batch", record)
    jobs = write_jsonl(tmp_path / "jobs.jsonl", [{"caption": PLAIN, "width": 32, "height": 32}])
    with pytest.raises(Stop):
        main(["batch", str(jobs), "--model", str(model), "--output", str(tmp_path / "out"), *flag])
    assert [spec.exact_fp8 for spec in specs] == [bool(flag)]
    assert Worker(specs[0]).pipeline.exact_fp8 is bool(flag)
