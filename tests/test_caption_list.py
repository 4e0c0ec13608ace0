"""The Caption List node and its parser: every accepted form, bad lines by number, with a stand-in for
ComfyUI's ``comfy_api`` (``comfy_stub``)."""

from __future__ import annotations

import importlib
import json
import types

import pytest
from comfy_stub import comfy_api_modules, forget_pack, import_pack

from ideogram4_core.caption import dumps_canonical
from ideogram4_core.caption.caption_list import parse_caption_list
from ideogram4_core.errors import CaptionError

POSTER = {"compositional_deconstruction": {"elements": [], "background": "teal wall"}}
CANONICAL = dumps_canonical(POSTER)


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    import_pack(monkeypatch, comfy_api_modules())
    yield importlib.import_module("ig4pack.nodes.caption_list").IG4_CaptionList
    forget_pack()


def test_schema_is_a_list_output(node: type) -> None:
    schema = node.define_schema()
    assert (schema.node_id, schema.display_name, schema.category) == (
        "IG4_CaptionList",
        "Ideogram 4 · Caption List",
        "Ideogram 4",
    )
    (captions,) = schema.inputs
    assert (captions.id, captions.kind, captions.multiline) == ("captions", "STRING", True)
    assert [(o.kind, o.display_name, getattr(o, "is_output_list", False)) for o in schema.outputs] == [
        ("STRING", "captions", True),
        ("INT", "count", False),
    ]


def test_execute_gives_the_list_its_count_and_a_status(node: type) -> None:
    text = f"{json.dumps(POSTER, indent=None)}\n\n# a comment\na red poster with the word SALE\n"
    out = node.execute(captions=text)
    assert out.values == ([CANONICAL, "a red poster with the word SALE"], 2)
    assert out.ui == {"text": ["2 captions (1 plain text)"]}


def test_lines_jsonl_jobs_arrays_and_one_multi_line_caption() -> None:
    job = json.dumps({"id": "p1", "caption": POSTER, "width": 1024, "height": 1024})
    text_job = json.dumps({"id": "p2", "caption": "plain job caption", "seed": 3})
    assert parse_caption_list(f'{job}\n{text_job}\n  "quoted text"  \n') == [
        CANONICAL,
        "plain job caption",
        "quoted text",
    ]
    assert parse_caption_list(json.dumps([POSTER, "second", POSTER], indent=2)) == [CANONICAL, "second", CANONICAL]
    assert parse_caption_list(json.dumps(POSTER, indent=2)) == [CANONICAL]
    assert parse_caption_list("Ünïcode caption ✓") == ["Ünïcode caption ✓"]


def test_bad_lines_are_all_named_by_number(node: type) -> None:
    text = 'good caption\n{"compositional_deconstruction": \n42\n""\n\nfine\n[1, 2]\nnull'
    with pytest.raises(CaptionError) as raised:
        parse_caption_list(text)
    message = str(raised.value)
    assert message.startswith("The caption list has 3 bad entries: line 2: not valid JSON (Expecting value")
    assert "line 4: an empty caption; line 7: a JSON array, not a caption" in message
    assert "line 3" not in message  # a bare number is plain text, like any other line
    assert "line 8" not in message  # "null" does not start like JSON: plain text
    assert message.endswith("Give one caption per line (a JSON object or plain text), or a JSON array.")
    errors = importlib.import_module("ig4pack.ideogram4_core.errors")
    with pytest.raises(errors.CaptionError, match="line 2: not valid JSON"):
        node.execute(captions=text)


def test_bad_arrays_and_empty_lists() -> None:
    with pytest.raises(CaptionError, match=r"item 1: a JSON number, not a caption; item 3: JSON null, not a caption"):
        parse_caption_list('[1, "x", null]')
    with pytest.raises(CaptionError, match=r"not a valid JSON array: Expecting ',' delimiter at line 2, column 1"):
        parse_caption_list('["a"\n"b"]')
    for empty in ("", "  \n\n", "# only a comment", "[]"):
        with pytest.raises(CaptionError, match="The caption list is empty"):
            parse_caption_list(empty)
    many = "\n".join("{bad" for _ in range(13))
    with pytest.raises(CaptionError, match=r"13 bad entries: .*line 10: .*; … and 3 more\. Give"):
        parse_caption_list(many)
