"""End-to-end harness: this pack inside a real ComfyUI server (and its real frontend, via Playwright).

Everything here skips, with the reason, unless ``COMFYUI_PATH`` points at a ComfyUI checkout (a folder with
``main.py``, ``nodes.py``, ``folder_paths.py`` and ``comfy/``). See ``tests/e2e/README.md`` for the setup.

The server runs from a throw-away base directory (``--base-directory``): its ``custom_nodes`` holds only a link
to this repository, and models, user settings, input/output and the database all live there too, so the
ComfyUI tree is never written to (``PYTHONDONTWRITEBYTECODE`` is set as well). It listens on a free loopback
port and is stopped at the end of the session.

Environment:
    COMFYUI_PATH                    ComfyUI checkout to run (required; unset = every e2e test skips)
    COMFYUI_PYTHON                  interpreter for the server (default: the one running pytest)
    COMFYUI_E2E_PYTHONPATH          extra import path(s) for the server only (e.g. stand-in modules)
    COMFYUI_E2E_EXTRA_MODEL_PATHS   extra_model_paths.yaml file(s), os.pathsep-separated (real model folders)
    COMFYUI_E2E_ARGS                extra server arguments (shell-split), e.g. "--preview-method auto"
    COMFYUI_E2E_CPU                 "0" = let ComfyUI use the GPU (default: --cpu)
    COMFYUI_E2E_START_TIMEOUT       seconds to wait for the server (default 180)
    CHROMIUM_PATH                   browser for the frontend tests (default: chromium on PATH)

Reuse for later nodes: ask for the ``comfyui`` fixture (a :class:`ComfyUI` client: ``get``/``post``,
``run_prompt``, ``models_dir``, ``log_text``) and ``comfy_page`` (a :class:`ComfyPage` on the real frontend).
Model fixtures: put (or link) files under ``comfyui.models_dir / <folder>`` at any time (ComfyUI rescans
folders whose mtime changed), or override the ``comfyui_extra_model_paths`` fixture in this file, which
becomes a generated ``--extra-model-paths-config`` file (``{folder_name: [paths]}``).
"""

from __future__ import annotations

import pytest
from chromium import launch_chromium

from .comfyui_harness import ComfyPage, ComfyUI, comfyui_path, running_comfyui, server_on_cpu


@pytest.fixture(scope="session")
def comfyui_extra_model_paths() -> dict[str, list[str]]:
    """Extra model folders for the server, ``{folder_name: [paths]}`` (override here for model fixtures)."""
    return {}


@pytest.fixture(scope="session")
def comfyui(tmp_path_factory, comfyui_extra_model_paths) -> ComfyUI:
    """A real ComfyUI (COMFYUI_PATH) with this pack, on a free loopback port; stopped after the session."""
    root = comfyui_path()
    with running_comfyui(root, tmp_path_factory.mktemp("comfyui_base"), comfyui_extra_model_paths) as server:
        yield server


@pytest.fixture(scope="session")
def comfyui_lowvram(tmp_path_factory) -> ComfyUI:
    """A second server like `comfyui`, started with --lowvram (only the tests that ask for it start it)."""
    root = comfyui_path()
    if server_on_cpu():
        pytest.skip("--lowvram is a CUDA GPU mode (ComfyUI refuses it with --cpu): set COMFYUI_E2E_CPU=0 with CUDA")
    with running_comfyui(root, tmp_path_factory.mktemp("comfyui_lowvram_base"), {}, ["--lowvram"]) as server:
        yield server


@pytest.fixture(scope="module")
def browser(comfyui):
    """Chromium for one test module. Module scope: a live sync Playwright owns this thread's event loop, which
    would break later asyncio-based tests and another suite's Playwright in the same pytest session."""
    yield from launch_chromium()


@pytest.fixture
def comfy_page(comfyui, browser):
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    comfy = ComfyPage(page, comfyui)
    yield comfy
    page.close()
    assert not comfy.page_errors, f"uncaught page errors: {comfy.page_errors}"
    assert not comfy.pack_console_errors, f"console errors from the pack: {comfy.pack_console_errors}"
    assert not comfy.external_requests, f"non-loopback requests: {comfy.external_requests}"
