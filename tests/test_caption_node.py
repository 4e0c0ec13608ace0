"""The Caption Builder node and the check route, with a stand-in for ComfyUI's ``comfy_api`` (``comfy_stub``)."""

from __future__ import annotations

import importlib
import json
import re
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
from comfy_stub import comfy_api_modules, forget_pack, import_pack

ROOT = Path(__file__).resolve().parents[1]
CORPUS = json.loads((ROOT / "tests" / "caption_corpus" / "corpus.json").read_text(encoding="utf-8"))
PHOTO = next(e["caption"] for e in CORPUS if e["name"] == "photo_full")


@pytest.fixture
def pack(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The pack root as package `ig4pack` with a fake comfy_api installed."""
    yield import_pack(monkeypatch, comfy_api_modules())
    forget_pack()


@pytest.fixture
def node(pack: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> type:
    monkeypatch.delenv("IDEOGRAM4_TOKENIZER", raising=False)
    return importlib.import_module("ig4pack.nodes.caption_builder").IG4_CaptionBuilder


def test_schema(node: type) -> None:
    schema = node.define_schema()
    assert (schema.node_id, schema.display_name, schema.category) == (
        "IG4_CaptionBuilder",
        "Ideogram 4 · Caption Builder",
        "Ideogram 4",
    )
    inputs = {i.id: i for i in schema.inputs}
    assert list(inputs) == ["width", "height", "document", "strict", "caption", "reference_image"]
    assert inputs["width"].step == 16 and inputs["caption"].optional and inputs["reference_image"].kind == "IMAGE"
    assert [o.kind for o in schema.outputs] == ["STRING", "INT", "INT", "STRING"]


def test_execute_document(node: type) -> None:
    document = json.dumps({"caption": PHOTO, "editor": {"hidden": []}})
    out = node.execute(width=1024, height=768, document=document, strict=True)
    caption, width, height, edit = out.values
    assert json.loads(caption) == PHOTO and (width, height) == (1024, 768) and edit == ""
    assert out.ui["caption"] == [caption] and re.search(r"tokens: \d+ of 2048", out.ui["text"][0])


def test_execute_import_repairs_and_reference_image(node: type) -> None:
    llm = "```json\n" + json.dumps({"aspect_ratio": "4:3", "background": "b", "elements": []}) + "\n```"
    out = node.execute(width=1024, height=768, document="", strict=False, caption=llm, reference_image=object())
    assert out.values[0] == '{"compositional_deconstruction":{"background":"b","elements":[]}}'
    assert "repair: aspect_ratio" in out.ui["text"][0] and out.ui["images"] == ["preview.png"]


def test_edit_elements_output(node: type) -> None:
    """Ticked element numbers come out as "2,3": sorted, distinct, only elements that exist."""
    n = len(PHOTO["compositional_deconstruction"]["elements"])
    document = json.dumps({"caption": PHOTO, "edit_elements": [3, 2, 3, n + 1, 0, True, "1"]})
    assert node.execute(width=1024, height=768, document=document, strict=True).values[3] == "2,3"
    # An imported caption replaces the document's elements, so the document's ticks no longer apply.
    out = node.execute(width=1024, height=768, document=document, strict=False, caption=json.dumps(PHOTO))
    assert out.values[3] == ""


def test_strict_raises_with_paths(node: type, pack: types.ModuleType) -> None:
    errors = importlib.import_module("ig4pack.ideogram4_core.errors")
    bad = {
        **PHOTO,
        "compositional_deconstruction": {
            "background": "b",
            "elements": [{"type": "obj", "bbox": [9, 0, 1, 5], "desc": "d"}],
        },
    }
    with pytest.raises(errors.CaptionError, match=r"compositional_deconstruction\.elements\[0\]\.bbox: y_min"):
        node.execute(width=1024, height=768, document=json.dumps(bad), strict=True)
    out = node.execute(width=1024, height=768, document=json.dumps(bad), strict=False)
    assert "error: compositional_deconstruction.elements[0].bbox" in out.ui["text"][0]


def test_empty_and_bad_sizes_raise(node: type, pack: types.ModuleType) -> None:
    errors = importlib.import_module("ig4pack.ideogram4_core.errors")
    with pytest.raises(errors.CaptionError, match="empty"):
        node.execute(width=1024, height=1024, document="", strict=False)
    with pytest.raises(errors.Ideogram4Error, match="6:1"):
        node.execute(width=2048, height=256, document=json.dumps(PHOTO), strict=False)


def test_tokenizer_from_environment(node: type, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IDEOGRAM4_TOKENIZER", str(tmp_path))
    assert sys.modules["ig4pack.nodes.caption_builder"].configured_tokenizer_dir() == tmp_path


def test_route_registers_only_with_a_server(pack: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    routes = importlib.import_module("ig4pack.nodes.routes")
    monkeypatch.setattr(routes, "_registered", False)
    monkeypatch.setitem(sys.modules, "server", None)  # no ComfyUI server importable
    assert routes.register_routes(lambda: None) is False


def test_route_handler(pack: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    handlers = {}
    server = types.ModuleType("server")
    routes_table = SimpleNamespace(post=lambda path: lambda fn: handlers.setdefault(path, fn))
    server.PromptServer = SimpleNamespace(instance=SimpleNamespace(routes=routes_table))
    web = types.ModuleType("aiohttp.web")
    web.Request = object
    web.Response = object
    web.json_response = lambda payload, status=200, dumps=json.dumps: SimpleNamespace(
        text=dumps(payload), status=status
    )
    aiohttp = types.ModuleType("aiohttp")
    aiohttp.web = web
    for name, module in {"server": server, "aiohttp": aiohttp, "aiohttp.web": web}.items():
        monkeypatch.setitem(sys.modules, name, module)
    routes = importlib.import_module("ig4pack.nodes.routes")
    monkeypatch.setattr(routes, "_registered", False)
    assert routes.register_routes(lambda: None)
    handler = handlers["/ideogram4/caption/check"]

    async def call(body: object) -> SimpleNamespace:
        async def read() -> str:
            return body if isinstance(body, str) else json.dumps(body)

        return await handler(SimpleNamespace(text=read))

    ok = asyncio.run(call({"caption": {**PHOTO, "high_level_description": "Café"}}))
    assert ok.status == 200 and json.loads(ok.text)["valid"] and "Café" in ok.text
    assert asyncio.run(call({"nope": 1})).status == 400
    assert asyncio.run(call("{not json")).status == 400
    deep = asyncio.run(call('{"caption": ' + "[" * 100_000 + "]" * 100_000 + "}"))
    assert deep.status == 400 and "nested too deeply" in json.loads(deep.text)["error"]
