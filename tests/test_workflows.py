"""The example workflows without ComfyUI: valid UI-format JSON whose nodes are the pack's (or core's), consistent
links, real model file names, and an API twin equal to the UI workflow converted with the nodes' schemas (the
frontend's `graphToPrompt` rules). The files themselves come from the real frontend (tests/e2e)."""

from __future__ import annotations

import asyncio
import importlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from comfy_stub import FakeComfy, comfy_api_modules, forget_pack, import_pack
from test_generation_nodes import _dynamic_combo

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / "example_workflows").glob("*.json"))
WIDGET_KINDS = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", "COMFY_DYNAMICCOMBO_V3"}
# Core nodes used by the examples: (display name, widget names in order).
CORE_NODES = {
    "SaveImage": ("Save Image", ["filename_prefix"]),
    "PreviewImage": ("Preview Image", []),
    "PrimitiveStringMultiline": ("Text (Multiline)", ["value"]),
    "LoadImage": ("Load Image", ["image", None]),  # None: the upload button's value
    "SetLatentNoiseMask": ("Set Latent Noise Mask", []),
    "ImageCompositeMasked": ("Image Composite Masked", ["x", "y", "resize_source"]),
    "ImagePadForOutpaint": ("Pad Image for Outpainting", ["left", "top", "right", "bottom", "feathering"]),
}
VIRTUAL = {"Note", "MarkdownNote"}  # frontend-only nodes, left out of API prompts
MODEL_NAMES = {
    "model": {"ideogram-4/", "ideogram4_fp8_scaled.safetensors"},
    "unconditional_model": {"auto", "ideogram4_unconditional_fp8_scaled.safetensors"},
    "text_encoder": {"ideogram-4/text_encoder/", "qwen3vl_8b_fp8_scaled.safetensors"},
    "vae": {"ideogram-4/vae/", "flux2-vae.safetensors"},
}
NodeTypes = dict[str, tuple[str, list[str | None]]]


@pytest.fixture(scope="module")
def node_types(tmp_path_factory: pytest.TempPathFactory) -> NodeTypes:
    """{class: (display name, widget names in serialisation order; None = control_after_generate's value)}."""
    fake = FakeComfy({kind: [tmp_path_factory.mktemp(kind)] for kind in ("diffusion_models", "diffusers")})
    modules = comfy_api_modules() | fake.modules()
    modules["comfy_api.latest"].io.DynamicCombo = _dynamic_combo()
    modules["server"].PromptServer.instance.routes = SimpleNamespace(post=lambda path: lambda handler: handler)
    with pytest.MonkeyPatch.context() as monkeypatch:
        import_pack(monkeypatch, modules)
        extension = importlib.import_module("ig4pack.nodes.extension").Ideogram4Extension()
        schemas = [node.define_schema() for node in asyncio.run(extension.get_node_list())]
        forget_pack()
    types: NodeTypes = dict(CORE_NODES)
    for schema in schemas:
        widgets: list[str | None] = []
        for spec in schema.inputs:
            if spec.kind in WIDGET_KINDS and not getattr(spec, "force_input", False):
                widgets += [spec.id, None] if getattr(spec, "control_after_generate", False) else [spec.id]
        types[schema.node_id] = (schema.display_name, widgets)
    return types


def read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def to_api(workflow: dict, node_types: NodeTypes) -> dict:
    """The API prompt of a UI workflow: widget values by name, links as [node id, output slot]."""
    links = {link[0]: link for link in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        if node["type"] in VIRTUAL or node["mode"] != 0:
            continue
        display_name, widget_names = node_types[node["type"]]
        values = node.get("widgets_values", [])
        assert len(values) == len(widget_names), (node["type"], values)
        inputs = {name: value for name, value in zip(widget_names, values, strict=True) if name is not None}
        for slot in node.get("inputs", []):
            if slot.get("link") is not None:
                _, origin, origin_slot, *_ = links[slot["link"]]
                inputs[slot["name"]] = [str(origin), origin_slot]
        title = node.get("title", display_name)
        prompt[str(node["id"])] = {"inputs": inputs, "class_type": node["type"], "_meta": {"title": title}}
    return prompt


def test_every_workflow_has_an_api_twin():
    assert [p.name for p in WORKFLOWS] == sorted(p.name for p in (ROOT / "example_workflows" / "api").glob("*.json"))
    assert len(WORKFLOWS) == 9


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_ui_format(path: Path, node_types: NodeTypes):
    workflow = read(path)
    assert workflow["version"] == 0.4
    assert {"id", "revision", "last_node_id", "last_link_id", "nodes", "links", "groups", "config", "extra"} <= set(
        workflow
    )
    ids = [node["id"] for node in workflow["nodes"]]
    assert len(set(ids)) == len(ids) and max(ids) <= workflow["last_node_id"]
    assert {node["type"] for node in workflow["nodes"]} <= set(node_types) | VIRTUAL
    assert any(node["type"] == "Note" for node in workflow["nodes"]), "a Note says where the model files go"
    assert any(node["type"] == "SaveImage" for node in workflow["nodes"])


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_links_are_consistent(path: Path):
    workflow = read(path)
    nodes = {node["id"]: node for node in workflow["nodes"]}
    assert max(link[0] for link in workflow["links"]) <= workflow["last_link_id"]
    for link_id, origin, origin_slot, target, target_slot, kind in workflow["links"]:
        output, slot = nodes[origin]["outputs"][origin_slot], nodes[target]["inputs"][target_slot]
        assert link_id in output["links"] and slot["link"] == link_id
        assert output["type"] == kind and slot["type"] in (kind, "*"), (path.name, link_id)
    linked = {slot["link"] for node in nodes.values() for slot in node.get("inputs", []) if slot.get("link")}
    assert linked == {link[0] for link in workflow["links"]}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_api_twin_is_the_converted_ui_workflow(path: Path, node_types: NodeTypes):
    assert to_api(read(path), node_types) == read(path.parent / "api" / path.name)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_models_are_the_file_names_users_have(path: Path):
    for node in read(path.parent / "api" / path.name).values():
        for name, value in node["inputs"].items():
            linked = isinstance(value, list)  # a link to another node (the LoRA node's model input)
            if (
                name in MODEL_NAMES
                and not linked
                and node["class_type"].startswith("IG4_")
                and "Loader" in node["class_type"]
            ):
                assert value in MODEL_NAMES[name], (path.name, name, value)
