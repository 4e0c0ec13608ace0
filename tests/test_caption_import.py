"""Forgiving import (repairs, refusals) and canonical serialisation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ideogram4_core.caption import canonicalize, dumps_canonical, import_caption

CORPUS = json.loads((Path(__file__).parent / "caption_corpus" / "corpus.json").read_text(encoding="utf-8"))
OBJECTS = [e for e in CORPUS if isinstance(e["caption"], dict)]


def _caption(*elements: dict, **top: object) -> str:
    return json.dumps({**top, "compositional_deconstruction": {"background": "b", "elements": list(elements)}})


def _element(text: str, i: int = 0) -> dict:
    return import_caption(text).caption["compositional_deconstruction"]["elements"][i]


@pytest.mark.parametrize("entry", OBJECTS, ids=[e["name"] for e in OBJECTS])
def test_canonical_round_trip_is_stable(entry: dict) -> None:
    once = dumps_canonical(entry["caption"])
    assert dumps_canonical(json.loads(once)) == once
    assert json.loads(once) == entry["caption"]  # same content, only the order may change


def test_canonical_form_is_minified_utf8_in_key_order() -> None:
    caption = {
        "compositional_deconstruction": {
            "elements": [{"desc": "d", "text": "ÉTÉ", "type": "text"}],
            "background": "b",
        },
        "style_description": {"medium": "m", "photo": "p", "lighting": "l", "aesthetics": "a"},
    }
    assert dumps_canonical(caption) == (
        '{"style_description":{"aesthetics":"a","lighting":"l","photo":"p","medium":"m"},'
        '"compositional_deconstruction":{"background":"b","elements":[{"type":"text","text":"ÉTÉ","desc":"d"}]}}'
    )


def test_canonicalize_keeps_unknown_keys_last() -> None:
    assert list(canonicalize({"zz": 1, "high_level_description": "h"})) == ["high_level_description", "zz"]


@pytest.mark.parametrize("entry", [e for e in CORPUS if e["valid"]], ids=lambda e: e["name"])
def test_valid_captions_import_unchanged(entry: dict) -> None:
    text = entry["caption"] if isinstance(entry["caption"], str) else json.dumps(entry["caption"], ensure_ascii=False)
    result = import_caption(text)
    assert result.valid
    assert result.caption == json.loads(text)
    assert all(r.message == "put the keys in the canonical order" for r in result.repairs)


def test_llm_reply_with_fence_prose_trailing_commas_and_smart_quotes() -> None:
    body = '{“compositional_deconstruction”: {"background": "a “quoted” sky",\n"elements": [],},}'
    text = f"Here is your caption:\n```json\n{body}\n```\nEnjoy!"
    result = import_caption(text)
    assert result.valid
    assert result.caption["compositional_deconstruction"]["background"] == "a “quoted” sky"
    messages = " | ".join(r.message for r in result.repairs)
    assert "code fence" in messages and "trailing comma" in messages and "typographic quote" in messages


def test_v15_dialect_drops_aspect_ratio_and_moves_loose_keys() -> None:
    text = json.dumps({"aspect_ratio": "16:9", "high_level_description": "h", "background": "b", "elements": []})
    result = import_caption(text)
    assert result.valid
    assert result.caption == {
        "high_level_description": "h",
        "compositional_deconstruction": {"background": "b", "elements": []},
    }
    assert [r.path for r in result.repairs][:3] == ["aspect_ratio", "background", "elements"]


def test_alias_keys_and_values() -> None:
    text = _caption(
        {"type": "Object", "description": "cat", "palette": "#ff0000, abc123, #fa0"},
        {"type": "text", "label": "HI", "desc": "sign", "box_2d": [1, 2, 3, 4]},
    )
    result = import_caption(text)
    assert result.valid, result.problems
    obj, sign = result.caption["compositional_deconstruction"]["elements"]
    assert obj == {"type": "obj", "desc": "cat", "color_palette": ["#FF0000", "#ABC123", "#FFAA00"]}
    assert sign == {"type": "text", "bbox": [1, 2, 3, 4], "text": "HI", "desc": "sign"}


def test_label_on_obj_is_not_guessed() -> None:
    result = import_caption(_caption({"type": "obj", "label": "Rex", "desc": "dog"}))
    assert not result.valid
    assert [p.path for p in result.problems] == ["compositional_deconstruction.elements[0].label"]


@pytest.mark.parametrize(
    ("element", "top", "box"),
    [
        ({"bbox_xywh": [100, 200, 300, 400]}, {}, [200, 100, 600, 400]),
        ({"bbox": [0.1, 0.2, 0.3, 0.4], "normalized": True}, {}, [100, 200, 300, 400]),
        ({"bbox": [100, 200, 300, 400], "bbox_format": "xyxy"}, {}, [200, 100, 400, 300]),
        (
            {"bounding_box": [0.1, 0.2, 0.3, 0.4]},
            {"bbox_format": "xywh", "bbox_normalized": True},
            [200, 100, 600, 400],
        ),
        ({"x": 0.1, "y": 0.2, "w": 0.5, "h": 0.25}, {}, [200, 100, 450, 600]),
        ({"bbox": [100.0, 200, 300, 400.0]}, {}, [100, 200, 300, 400]),
    ],
)
def test_marked_boxes_are_converted(element: dict, top: dict, box: list[int]) -> None:
    result = import_caption(_caption({"type": "obj", "desc": "d", **element}, **top))
    assert result.valid, result.problems
    assert result.caption["compositional_deconstruction"]["elements"][0] == {"type": "obj", "bbox": box, "desc": "d"}


def test_comfy_pixel_boxes_need_the_image_size() -> None:
    text = _caption({"type": "obj", "desc": "d", "x": 100, "y": 50, "width": 200, "height": 100})
    assert not import_caption(text).valid
    result = import_caption(text, image_size=(1000, 500))
    assert result.valid
    assert result.caption["compositional_deconstruction"]["elements"][0]["bbox"] == [100, 100, 300, 300]


def test_kj_unplaced_element_loses_its_box() -> None:
    assert "bbox" not in _element(
        _caption({"type": "obj", "desc": "d", "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2, "nobbox": True})
    )


@pytest.mark.parametrize(
    ("element", "path_end"),
    [
        ({"bbox": [0.1, 0.2, 0.3, 0.4]}, "bbox[0]"),  # fractions without a marker
        ({"bbox_xywh": [0.1, 0.2, 0.3, 0.4]}, "bbox_xywh"),  # fractions without a marker
        ({"bounding_box": [1, 2, 3, 4]}, "bounding_box"),  # unknown order
        ({"bbox": [1, 2, 3, 4], "box_2d": [1, 2, 3, 4]}, "box_2d"),  # two spellings
        ({"bbox": [1, 2, 3, 4], "bbox_xywh": [1, 2, 3, 4]}, "elements[0]"),  # two boxes
        ({"bbox": [600, 0, 400, 10]}, "bbox"),  # swapped min/max is not guessed either
        ({"bbox_xywh": [900, 0, 200, 10]}, "bbox_xywh"),  # past the image edge
        ({"bbox": [1, 2, 3, 4], "bbox_format": "ltrb"}, "bbox_format"),
    ],
)
def test_ambiguous_boxes_are_errors(element: dict, path_end: str) -> None:
    result = import_caption(_caption({"type": "obj", "desc": "d", **element}))
    assert not result.valid
    assert any(p.path.endswith(path_end) and p.severity == "error" for p in result.problems), result.problems


def test_palette_over_cap_is_not_truncated() -> None:
    colors = ["#000000", "#111111", "#222222", "#333333", "#444444", "#555555"]
    result = import_caption(_caption({"type": "obj", "desc": "d", "color_palette": colors}))
    assert not result.valid
    assert _element(_caption({"type": "obj", "desc": "d", "color_palette": colors}))["color_palette"] == colors


def test_null_optional_keys_are_dropped() -> None:
    result = import_caption(_caption({"type": "obj", "bbox": None, "desc": "d"}, high_level_description=None))
    assert result.valid
    assert result.caption == {
        "compositional_deconstruction": {"background": "b", "elements": [{"type": "obj", "desc": "d"}]}
    }


def test_double_encoded_caption() -> None:
    result = import_caption(json.dumps(_caption()))
    assert result.valid and result.repairs[0].message.startswith("decoded a caption")


def test_unparseable_text_reports_where() -> None:
    result = import_caption('{"compositional_deconstruction": {"background": "b" "elements": []}}')
    assert result.caption is None
    (problem,) = result.problems
    assert problem.path == "" and "line 1, column 53" in problem.message
