"""Pure node helpers: preset combo → settings, size messages, status line, the encoding cache."""

from __future__ import annotations

import importlib
import types

import pytest
import torch
from comfy_stub import forget_pack, import_pack

from ideogram4_core.sampling.schedule import PRESETS


@pytest.fixture
def helpers(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    import_pack(monkeypatch, {})
    yield types.SimpleNamespace(
        settings=importlib.import_module("ig4pack.nodes.sampler_settings"),
        conditioning=importlib.import_module("ig4pack.nodes.conditioning"),
        errors=importlib.import_module("ig4pack.ideogram4_core.errors"),
    )
    forget_pack()


def test_every_preset_label_resolves_to_its_engine_preset(helpers):
    labels = helpers.settings.PRESET_LABELS
    assert [PRESETS[name].steps for name in labels.values()] == [20, 48, 12, 34, 16, 8, 4]
    for label, name in labels.items():
        assert repr(helpers.settings.resolve_settings({"preset": label})) == repr(PRESETS[name])


def test_custom_takes_its_fields_and_names_what_is_missing(helpers):
    resolve = helpers.settings.resolve_settings
    custom = {"preset": "Custom", "steps": 30, "guidance": 5, "polish_steps": 4, "polish_guidance": 2.5,
              "mu": 0.25, "std": 1.5}  # fmt: skip
    settings = resolve(custom)
    assert (settings.steps, settings.guidance, settings.polish_steps, settings.mu) == (30, 5.0, 4, 0.25)
    assert settings.guidance_schedule() == [5.0] * 26 + [2.5] * 4
    with pytest.raises(helpers.errors.Ideogram4Error, match=r"needs mu, std .*'preset\.mu'"):
        resolve({k: v for k, v in custom.items() if k not in ("mu", "std")})
    with pytest.raises(helpers.errors.Ideogram4Error, match="polish steps must be between"):
        resolve(custom | {"polish_steps": 31})
    with pytest.raises(helpers.errors.Ideogram4Error, match=r"Unknown preset 'Fast'.*Custom"):
        resolve({"preset": "Fast"})


def test_size_errors(helpers):
    size_error = helpers.settings.size_error
    assert size_error(64, 48) is None and size_error(None, 48) is None
    assert "width 1000 is not a positive multiple of 16; use 992 or 1008" in size_error(1000, 1024)
    assert size_error(64, 48, full_size=True).startswith("width 64 is outside 256–2048")
    assert "wider than 6:1" in size_error(2048, 256, full_size=True)


def test_status_line(helpers):
    line = helpers.settings.describe_run("Turbo (12 steps)", PRESETS["V4_TURBO_12"], (1024, 768), 2, 7, 6.0, 12)
    assert line == (
        "Turbo (12 steps): 12 steps, guidance 7 (1 polish @ 3), mu 0.5, std 1.75 · 1024×768 ×2 · seed 7 · "
        "6.0 s (0.50 s/step)"
    )
    partial = helpers.settings.describe_run("Custom", PRESETS["V4_TURBO_12"], (64, 64), 1, 0, 1.0, 5)
    assert "image-to-image: last 5 steps" in partial


class Encoder:
    """Stands in for a text encoder value (hashable, weak-referenceable)."""


def test_encoding_cache_is_lru_per_encoder_and_bounded(helpers):
    cache = helpers.conditioning.EncodingCache(max_entries=2, max_bytes=1000)
    a, b = Encoder(), Encoder()
    feats = {name: torch.zeros(10, 5) for name in "xyz"}  # 200 bytes each
    cache.put(a, "x", feats["x"])
    cache.put(a, "y", feats["y"])
    assert cache.get(a, "x") is feats["x"] and cache.get(b, "x") is None
    cache.put(a, "z", feats["z"])  # evicts y, the least recently used
    assert cache.get(a, "y") is None and cache.get(a, "x") is feats["x"]
    cache.put(a, "big", torch.zeros(100, 5))  # over the byte bound: only the newest stays
    assert cache.get(a, "x") is None and cache.get(a, "big") is not None
    del a
    assert len(cache._by_encoder) == 0
