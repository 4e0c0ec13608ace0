"""The headless client (tools/ideogram4_client.py): arguments, overrides on the example API prompts, error lines,
and whole runs against a fake ComfyUI (aiohttp on 127.0.0.1) that speaks its HTTP + websocket protocol."""

from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tools.ideogram4_client import (
    CUSTOM_FIELDS,
    ClientError,
    apply_overrides,
    format_node_errors,
    main,
    output_path,
    parse_args,
    run_workflow,
    status_text,
)

API = Path(__file__).resolve().parents[1] / "example_workflows" / "api"
PNG = b"\x89PNG\r\n\x1a\nfake"
PRESETS = ["Default (20 steps)", "Turbo (12 steps)", "Custom"]
CUSTOM_DEFAULTS = {"steps": 20, "guidance": 7.0, "polish_steps": 2, "polish_guidance": 3.0, "mu": 0.0, "std": 1.75}
WORKFLOW = API / "ideogram4_text_to_image.json"


def example(name: str) -> dict:
    return json.loads((API / f"{name}.json").read_text(encoding="utf-8"))


def node_of(prompt: dict, class_type: str) -> dict:
    (inputs,) = [node["inputs"] for node in prompt.values() if node["class_type"] == class_type]
    return inputs


SAMPLER = next(key for key, node in example("ideogram4_text_to_image").items() if node["class_type"] == "IG4_Sampler")


def test_parse_args_defaults_and_overrides():
    args = parse_args(["wf.json"])
    assert (args.server, args.output, args.seed, args.preset, args.caption_file) == (
        "http://127.0.0.1:8188",
        Path("output"),
        None,
        None,
        None,
    )
    args = parse_args(["wf.json", "--seed", "7", "--width", "512", "--height", "768", "--preset", "Turbo (12 steps)"])
    assert (args.seed, args.width, args.height, args.preset) == (7, 512, 768, "Turbo (12 steps)")


def test_custom_preset_fields_are_options(capsys: pytest.CaptureFixture[str]):
    argv = ["wf.json", "--steps", "30", "--guidance", "5", "--polish-steps", "3", "--polish-guidance", "2.5"]
    args = parse_args([*argv, "--mu", "0.25", "--std", "1.5"])
    assert args.custom == {"steps": 30, "guidance": 5.0, "polish_steps": 3, "polish_guidance": 2.5, "mu": 0.25,
                           "std": 1.5}  # fmt: skip
    assert [type(v) for v in args.custom.values()] == list(CUSTOM_FIELDS.values())
    assert parse_args(["wf.json", "--preset", "Custom", "--mu", "1"]).custom == {"mu": 1.0}
    with pytest.raises(SystemExit):
        parse_args(["wf.json", "--preset", "Turbo (12 steps)", "--steps", "30"])
    assert "--steps sets a Custom preset field; drop --preset 'Turbo (12 steps)'" in capsys.readouterr().err


def test_help_documents_the_usage(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    options = ("--caption-file", "--seed", "--width", "--height", "--preset", "--output", "exit status", "--steps",
               "--guidance", "--polish-steps", "--polish-guidance", "--mu", "--std")  # fmt: skip
    for option in options:
        assert option in text


def test_overrides_on_the_text_to_image_example():
    original = example("ideogram4_text_to_image")
    prompt = apply_overrides(original, caption="a cat", seed=9, width=512, height=768, preset="Turbo (12 steps)")
    assert node_of(prompt, "IG4_TextEncode")["caption"] == "a cat"
    sampler = node_of(prompt, "IG4_Sampler")
    assert (sampler["seed"], sampler["width"], sampler["height"], sampler["preset"]) == (
        9,
        512,
        768,
        "Turbo (12 steps)",
    )
    assert node_of(original, "IG4_Sampler")["seed"] == 42, "the original prompt is left alone"


def test_overrides_follow_links_to_the_caption_builder_and_primitive_string():
    poster = apply_overrides(example("ideogram4_poster_caption_builder"), caption="{}", width=256, height=512)
    builder = node_of(poster, "IG4_CaptionBuilder")
    assert (builder["document"], builder["width"], builder["height"]) == ("{}", 256, 512)
    assert isinstance(node_of(poster, "IG4_Sampler")["width"], list), "the link stays"
    batch = apply_overrides(example("ideogram4_batch_caption_overlay"), caption="a mug")
    assert node_of(batch, "PrimitiveStringMultiline")["value"] == "a mug"


def test_preset_override_drops_the_custom_fields():
    prompt = {"1": {"class_type": "IG4_Sampler", "inputs": {"preset": "Custom", "preset.steps": 3, "seed": 1}}}
    assert apply_overrides(prompt, preset="Turbo (12 steps)")["1"]["inputs"] == {
        "preset": "Turbo (12 steps)",
        "seed": 1,
    }


def test_custom_fields_keep_the_workflows_custom_values_and_fill_the_rest_from_the_defaults():
    turbo = {"1": {"class_type": "IG4_Sampler", "inputs": {"preset": "Turbo (12 steps)", "seed": 1}}}
    prompt = apply_overrides(turbo, custom={"steps": 30, "mu": 0.5}, custom_defaults=CUSTOM_DEFAULTS)
    expected = {f"preset.{k}": v for k, v in (CUSTOM_DEFAULTS | {"steps": 30, "mu": 0.5}).items()}
    assert prompt["1"]["inputs"] == {"preset": "Custom", "seed": 1, **expected}
    custom = {"1": {"class_type": "IG4_Sampler", "inputs": {"preset": "Custom", "preset.steps": 9, "preset.std": 2.0}}}
    prompt = apply_overrides(custom, preset="Custom", custom={"guidance": 4.0}, custom_defaults=CUSTOM_DEFAULTS)
    assert prompt["1"]["inputs"] == {"preset": "Custom", **{f"preset.{k}": v for k, v in CUSTOM_DEFAULTS.items()},
                                     "preset.steps": 9, "preset.std": 2.0, "preset.guidance": 4.0}  # fmt: skip


def test_an_override_without_a_target_is_an_error():
    with pytest.raises(ClientError, match="--seed: the workflow has no IG4_Sampler input"):
        apply_overrides({"1": {"class_type": "SaveImage", "inputs": {}}}, seed=1)
    with pytest.raises(ClientError, match="--preset: the workflow has no IG4_Sampler"):
        apply_overrides({"1": {"class_type": "SaveImage", "inputs": {}}}, custom={"steps": 3})
    linked = {"1": {"class_type": "IG4_TextEncode", "inputs": {"caption": ["2", 0]}}, "2": {"class_type": "X"}}
    with pytest.raises(ClientError, match="--caption-file"):
        apply_overrides(linked, caption="x")


VALIDATION = {
    "error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation"},
    "node_errors": {
        "5": {
            "class_type": "IG4_Sampler",
            "errors": [
                {
                    "type": "custom_validation_failed",
                    "message": "Custom validation failed for node",
                    "details": "width 73 is not a positive multiple of 16; use 64 or 80.",
                    "extra_info": {"input_name": "width"},
                },
                {"type": "required_input_missing", "message": "Required input is missing", "details": ""},
            ],
        }
    },
}


def test_node_errors_are_one_line_each():
    assert format_node_errors(VALIDATION) == [
        "node 5 (IG4_Sampler) input width: Custom validation failed for node: width 73 is not a positive multiple of "
        "16; use 64 or 80.",
        "node 5 (IG4_Sampler): Required input is missing",
    ]
    body = {"error": {"message": "Prompt has no outputs", "details": ""}, "node_errors": {}}
    assert format_node_errors(body) == ["workflow: Prompt has no outputs"]


def test_outputs_keep_their_subfolder_and_never_leave_the_output_folder(tmp_path: Path):
    assert output_path(tmp_path, {"filename": "a.png", "subfolder": "ig4/posters"}) == tmp_path / "ig4/posters/a.png"
    assert output_path(tmp_path, {"filename": "a.png", "subfolder": ""}) == tmp_path / "a.png"
    assert output_path(tmp_path, {"filename": "a.png", "subfolder": "x\\y"}) == tmp_path / "x" / "y" / "a.png"
    hostile = [("../a.png", ""), ("a.png", "../.."), ("/etc/a.png", ""), ("a.png", "/tmp"), ("a.png", "x/../../y"),
               ("C:\\a.png", ""), ("a.png", "D:"), ("..\\a.png", ""), ("", "ig4")]  # fmt: skip
    for filename, subfolder in hostile:
        with pytest.raises(ClientError, match=f"not a file inside the output folder '{tmp_path}'; refusing"):
            output_path(tmp_path, {"filename": filename, "subfolder": subfolder})


def text_message(node: str, text: str) -> bytes:
    return struct.pack(">II", 3, len(node)) + node.encode() + text.encode()


def test_status_text_messages():
    assert status_text(text_message("5", "Turbo · 1.0 s")) == ("5", "Turbo · 1.0 s")
    assert status_text(struct.pack(">I", 1) + b"jpeg") is None


class FakeComfyUI:
    """POST /prompt, /ws, /history, /view and /object_info, replaying one run's messages."""

    def __init__(
        self, events: list[tuple[str, dict[str, Any]]], validation: dict | None = None, images: list | None = None
    ) -> None:
        self.events = events
        self.validation = validation
        self.images = IMAGES if images is None else images
        self.viewed: list[dict[str, str]] = []
        self.queued: dict | None = None
        self.ready = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_get("/ws", self.ws)
        self.app.router.add_post("/prompt", self.prompt)
        self.app.router.add_get("/history/{id}", self.history)
        self.app.router.add_get("/view", self.view)
        self.app.router.add_get("/object_info/IG4_Sampler", self.object_info)

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}}}})
        await self.ready.wait()
        await ws.send_bytes(text_message(SAMPLER, "Turbo (12 steps): 12 steps"))
        for kind, data in self.events:
            await ws.send_json({"type": kind, "data": {"prompt_id": "p1", **data}})
        await ws.close()
        return ws

    async def prompt(self, request: web.Request) -> web.Response:
        self.queued = await request.json()
        self.ready.set()
        if self.validation is not None:
            self.events = []
            return web.json_response(self.validation, status=400)
        return web.json_response({"prompt_id": "p1", "number": 0, "node_errors": {}})

    async def history(self, request: web.Request) -> web.Response:
        preview = {"filename": "tmp.png", "subfolder": "", "type": "temp"}
        return web.json_response({"p1": {"outputs": {"9": {"images": self.images}, "10": {"images": [preview]}}}})

    async def view(self, request: web.Request) -> web.Response:
        self.viewed.append(dict(request.query))
        return web.Response(body=PNG + request.query["subfolder"].encode(), content_type="image/png")

    async def object_info(self, request: web.Request) -> web.Response:
        fields = {name: ["INT" if kind is int else "FLOAT", {"default": CUSTOM_DEFAULTS[name]}]
                  for name, kind in CUSTOM_FIELDS.items()}  # fmt: skip
        options = [{"key": label, "inputs": {"required": fields} if label == "Custom" else {}} for label in PRESETS]
        return web.json_response(
            {"IG4_Sampler": {"input": {"required": {"preset": ["COMFY_DYNAMICCOMBO_V3", {"options": options}]}}}}
        )


async def _run(fake: FakeComfyUI, argv: list[str]) -> tuple[int, list[str]]:
    runner = web.AppRunner(fake.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    lines: list[str] = []
    try:
        code = await run_workflow(parse_args([*argv, "--server", f"http://127.0.0.1:{port}"]), lines.append)
    finally:
        await runner.cleanup()
    return code, lines


IMAGES = [  # equal names from two SaveImage nodes with different prefixes' folders
    {"filename": "ideogram4_00001_.png", "subfolder": "ideogram4", "type": "output"},
    {"filename": "ideogram4_00001_.png", "subfolder": "ideogram4/overlay", "type": "output"},
]
SUCCESS = [
    ("execution_start", {}),
    ("executing", {"node": SAMPLER}),
    ("progress", {"node": SAMPLER, "value": 1, "max": 2}),
    ("progress", {"node": SAMPLER, "value": 2, "max": 2}),
    ("executing", {"node": None}),
]


def test_a_run_prints_progress_and_downloads_the_saved_images(tmp_path: Path):
    caption = tmp_path / "caption.json"
    caption.write_text('{"compositional_deconstruction": {"background": "sea", "elements": []}}')
    argv = [str(WORKFLOW), "--output", str(tmp_path / "out"), "--caption-file", str(caption), "--seed", "3"]
    fake = FakeComfyUI(SUCCESS)
    code, lines = asyncio.run(_run(fake, [*argv, "--preset", "Turbo (12 steps)"]))
    assert code == 0, lines
    saved = [
        tmp_path / "out" / "ideogram4" / "ideogram4_00001_.png",
        tmp_path / "out/ideogram4/overlay/ideogram4_00001_.png",
    ]
    assert [p.read_bytes() for p in saved] == [PNG + b"ideogram4", PNG + b"ideogram4/overlay"]
    assert [line for line in lines if line.startswith("saved ")] == [f"saved {p}" for p in saved]
    assert [v["subfolder"] for v in fake.viewed] == ["ideogram4", "ideogram4/overlay"]
    assert sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file()) == sorted(saved), (
        "previews stay on the server"
    )
    assert f"node {SAMPLER} (IG4_Sampler) step 2/2" in lines
    assert f"node {SAMPLER} (IG4_Sampler): Turbo (12 steps): 12 steps" in lines
    sampler = node_of(fake.queued["prompt"], "IG4_Sampler")
    assert (sampler["seed"], sampler["preset"]) == (3, "Turbo (12 steps)")
    assert node_of(fake.queued["prompt"], "IG4_TextEncode")["caption"] == caption.read_text()


class StoresHistoryLate(FakeComfyUI):
    """ComfyUI's order: `execution_success`, then the run is stored in /history, then `executing` with no node."""

    def __init__(self) -> None:
        super().__init__([*SUCCESS[:-1], ("execution_success", {})])
        self.stored = False

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await self.ready.wait()
        for kind, data in self.events:
            await ws.send_json({"type": kind, "data": {"prompt_id": "p1", **data}})
        finish = asyncio.create_task(self.store_then_finish(ws))
        async for _ in ws:  # keeps reading, as ComfyUI does: a client that closes now is let go at once
            pass
        await finish
        return ws

    async def store_then_finish(self, ws: web.WebSocketResponse) -> None:
        await asyncio.sleep(0.3)  # the worker stores the run only after execution_success
        self.stored = True
        if not ws.closed:
            await ws.send_json({"type": "executing", "data": {"prompt_id": "p1", "node": None}})
            await ws.close()

    async def history(self, request: web.Request) -> web.Response:
        return await super().history(request) if self.stored else web.json_response({})


def test_the_images_are_read_once_the_run_is_in_the_history(tmp_path: Path):
    code, lines = asyncio.run(_run(StoresHistoryLate(), [str(WORKFLOW), "--output", str(tmp_path)]))
    assert code == 0, lines
    assert len([line for line in lines if line.startswith("saved ")]) == len(IMAGES)


def test_custom_fields_are_sent_with_the_servers_defaults_for_the_rest(tmp_path: Path):
    fake = FakeComfyUI(SUCCESS)
    argv = [str(WORKFLOW), "--output", str(tmp_path), "--steps", "30", "--polish-guidance", "2.5"]
    code, lines = asyncio.run(_run(fake, argv))
    assert code == 0, lines
    sampler = node_of(fake.queued["prompt"], "IG4_Sampler")
    assert sampler["preset"] == "Custom"
    assert {k: v for k, v in sampler.items() if k.startswith("preset.")} == {
        f"preset.{k}": v for k, v in (CUSTOM_DEFAULTS | {"steps": 30, "polish_guidance": 2.5}).items()
    }


def test_a_server_named_output_outside_the_folder_is_refused_before_writing(tmp_path: Path):
    hostile = [IMAGES[0], {"filename": "evil.png", "subfolder": "../../", "type": "output"}]
    fake = FakeComfyUI(SUCCESS, images=hostile)
    with pytest.raises(ClientError, match=r"'../..//evil.png', which is not a file inside the output folder"):
        asyncio.run(_run(fake, [str(WORKFLOW), "--output", str(tmp_path / "out")]))
    assert not (tmp_path / "out").exists() and fake.viewed == [], "nothing is downloaded or written"
    assert not (tmp_path / "evil.png").exists()


def test_an_execution_error_exits_1_with_the_message():
    events = [*SUCCESS[:2], ("execution_error", {"node_id": SAMPLER, "exception_message": "Unknown preset None\n"})]
    code, lines = asyncio.run(_run(FakeComfyUI(events), [str(WORKFLOW)]))
    assert code == 1 and lines[-1] == f"error: node {SAMPLER} (IG4_Sampler): Unknown preset None"


def test_a_validation_error_exits_2_with_one_line_per_error():
    fake = FakeComfyUI([], validation=VALIDATION)
    with pytest.raises(ClientError) as error:
        asyncio.run(_run(fake, [str(WORKFLOW)]))
    assert str(error.value).splitlines() == ["the server refused the workflow:", *format_node_errors(VALIDATION)]


def test_an_unknown_preset_is_refused_before_queueing():
    fake = FakeComfyUI(SUCCESS)
    with pytest.raises(ClientError, match="'Fast' is not one of: Default"):
        asyncio.run(_run(fake, [str(WORKFLOW), "--preset", "Fast"]))
    assert fake.queued is None


def test_main_reports_an_unreachable_server(capsys: pytest.CaptureFixture[str]):
    argv = [str(WORKFLOW), "--server", "http://127.0.0.1:9", "--timeout", "5"]
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("error: ")
