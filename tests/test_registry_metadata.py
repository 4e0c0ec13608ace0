"""Comfy Registry metadata in pyproject.toml: the registry's own validator (`comfy node validate`, from comfy-cli)
passes without a warning, and the fields it reads meet the registry's specification
(https://docs.comfy.org/registry/specifications): the node id's rules, a semantic version, a license, the
repository, publisher, display name, an icon in the repository at the documented size, OS and GPU classifiers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from comfy_cli.registry.config_parser import extract_node_configuration
from comfy_cli.registry.types import PyProjectConfig
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# Letters, digits and single `-`, `_` or `.` between them; starts with a letter (the spec's node id rules).
NODE_ID = re.compile(r"[A-Za-z](?:[A-Za-z0-9]|[._-](?=[A-Za-z0-9]))*")
SEMVER = re.compile(r"\d+\.\d+\.\d+")
GITHUB = re.compile(r"https://github\.com/(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+)")
ICON_FORMATS = {"PNG", "JPEG", "GIF"}  # the raster ones of the spec's SVG, PNG, JPG or GIF
ICON_MAX = (800, 400)


@pytest.fixture(scope="module")
def config() -> PyProjectConfig:
    parsed = extract_node_configuration(str(ROOT / "pyproject.toml"))
    assert parsed is not None
    return parsed


def test_the_registry_validator_passes_without_warnings(tmp_path: Path):
    """`comfy node validate` as before publishing (its config goes to a temporary home, telemetry stays off)."""
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / ".config"))
    result = subprocess.run(
        [sys.executable, "-m", "comfy_cli", "--skip-prompt", "--no-json", "node", "validate"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "All validation checks passed successfully" in output, output
    assert not re.search(r"warning|error", output, re.IGNORECASE), output


def test_node_id_and_version(config: PyProjectConfig):
    name = config.project.name
    assert len(name) < 100 and NODE_ID.fullmatch(name), name
    assert "comfyui" not in name.lower(), "the spec advises against ComfyUI in the node id"
    assert SEMVER.fullmatch(config.project.version), config.project.version
    assert config.project.description
    assert config.project.license.text or (ROOT / config.project.license.file).is_file()


def test_repository_publisher_and_display_name(config: PyProjectConfig):
    assert GITHUB.fullmatch(config.project.urls.repository), config.project.urls.repository
    assert config.project.urls.issues.startswith(config.project.urls.repository + "/")
    assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", config.tool_comfy.publisher_id), config.tool_comfy.publisher_id
    assert config.tool_comfy.display_name
    for path in config.tool_comfy.includes:
        assert (ROOT / path).exists(), path


def test_the_icon_is_a_file_of_this_repository_at_the_allowed_size(config: PyProjectConfig):
    """The registry fetches the icon by URL: the raw URL of a file committed here, on the default branch."""
    repository = GITHUB.fullmatch(config.project.urls.repository)
    prefix = f"https://raw.githubusercontent.com/{repository['owner']}/{repository['repo']}/main/"
    assert config.tool_comfy.icon.startswith(prefix), config.tool_comfy.icon
    icon = ROOT / config.tool_comfy.icon.removeprefix(prefix)
    assert icon.is_file(), icon
    with Image.open(icon) as image:
        assert image.format in ICON_FORMATS
        assert image.width <= ICON_MAX[0] and image.height <= ICON_MAX[1], image.size
    assert icon.stat().st_size <= 64 * 1024


def test_os_and_gpu_classifiers(config: PyProjectConfig):
    """Unknown values are warned about (and dropped) by the validator, so the first test catches them."""
    assert config.project.supported_os == ["OS Independent"]
    assert config.project.supported_accelerators == ["GPU :: NVIDIA CUDA"]
