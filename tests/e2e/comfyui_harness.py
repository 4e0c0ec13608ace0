"""Helpers of the end-to-end harness (fixtures in conftest.py): a real ComfyUI server started from
COMFYUI_PATH in a throw-away base directory, a JSON client for its HTTP API, and a Playwright page on its
real frontend. Setup and environment variables: tests/e2e/README.md and conftest.py."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
PACK_DIR_NAME = "ComfyUI-Ideogram4"
HOST = "127.0.0.1"
# First-run settings for the frontend: no template browser / tutorial over the canvas.
FRONTEND_SETTINGS = {"Comfy.TutorialCompleted": True}


def comfyui_path() -> Path:
    """The ComfyUI checkout from COMFYUI_PATH; skips the calling test when it is unusable."""
    configured = os.environ.get("COMFYUI_PATH", "").strip()
    if not configured:
        pytest.skip("COMFYUI_PATH is not set (needs a ComfyUI checkout; see tests/e2e/README.md)")
    root = Path(configured).expanduser().resolve()
    missing = [name for name in ("main.py", "nodes.py", "folder_paths.py", "comfy") if not (root / name).exists()]
    if missing:
        pytest.skip(f"COMFYUI_PATH={configured} is not a ComfyUI tree (missing {', '.join(missing)})")
    return root


def server_on_cpu() -> bool:
    """Whether the harness starts ComfyUI with --cpu (the default; COMFYUI_E2E_CPU=0 lets it use the GPU)."""
    return os.environ.get("COMFYUI_E2E_CPU", "1") != "0"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class ComfyUI:
    """A running ComfyUI server: JSON helpers over its HTTP API (loopback only)."""

    def __init__(self, url: str, base_dir: Path, log_path: Path, process: subprocess.Popen):
        self.url = url
        self.base_dir = base_dir
        self.models_dir = base_dir / "models"
        self.log_path = log_path
        self.process = process

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def raw_request(self, method: str, path: str, body: Any = None, *, timeout: float = 30) -> tuple[int, bytes]:
        """(HTTP status, body bytes); HTTP errors are returned, not raised."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as res:
                return res.status, res.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def request(self, method: str, path: str, body: Any = None, *, timeout: float = 30) -> tuple[int, Any]:
        """(HTTP status, decoded JSON body or text); HTTP errors are returned, not raised."""
        status, raw = self.raw_request(method, path, body, timeout=timeout)
        text = raw.decode("utf-8", errors="replace")
        try:
            return status, json.loads(text)
        except json.JSONDecodeError:
            return status, text

    def get(self, path: str, **kw) -> tuple[int, Any]:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any, **kw) -> tuple[int, Any]:
        return self.request("POST", path, body, **kw)

    def queue(self, prompt: dict) -> str:
        """POST /prompt; returns the prompt id (fails the test on a validation error)."""
        status, res = self.post("/prompt", {"prompt": prompt, "client_id": uuid.uuid4().hex})
        assert status == 200, f"/prompt rejected the graph: HTTP {status}: {res}"
        return res["prompt_id"]

    def wait_history(self, prompt_id: str, *, timeout: float = 120) -> dict:
        """The /history entry of a finished prompt (success or error); fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, history = self.get(f"/history/{urllib.parse.quote(prompt_id)}")
            entry = history.get(prompt_id) if status == 200 and isinstance(history, dict) else None
            if entry and entry.get("status", {}).get("status_str") in ("success", "error"):
                return entry
            self.check_alive()
            time.sleep(0.2)
        pytest.fail(f"prompt {prompt_id} did not finish within {timeout} s")

    def run_prompt(self, prompt: dict, *, timeout: float = 120) -> dict:
        return self.wait_history(self.queue(prompt), timeout=timeout)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"ComfyUI exited (code {self.process.returncode}); log tail:\n{self.log_text()[-4000:]}")


def saved_image(server: ComfyUI, entry: dict, node: str) -> np.ndarray:
    """The one image a Save Image node wrote in this /history entry, as an int16 (H, W, 3) array."""
    (image,) = entry["outputs"][node]["images"]
    with Image.open(server.base_dir / "output" / image["subfolder"] / image["filename"]) as png:
        return np.asarray(png.convert("RGB"), dtype=np.int16)


def history_messages(entry: dict, kind: str) -> list[dict]:
    """The status messages of one kind (e.g. "execution_error") from a /history entry."""
    return [data for name, data in entry.get("status", {}).get("messages", []) if name == kind]


@contextlib.contextmanager
def running_comfyui(
    root: Path, base: Path, extra_model_paths: dict[str, list[str]], extra_args: Sequence[str] = ()
) -> Iterator[ComfyUI]:
    """Start ComfyUI from `root` with `base` as its (empty) base directory, plus `extra_args` (e.g. --lowvram);
    stop it on exit."""
    custom_nodes = base / "custom_nodes"
    custom_nodes.mkdir()
    try:
        (custom_nodes / PACK_DIR_NAME).symlink_to(REPO, target_is_directory=True)
    except OSError:  # no symlinks (e.g. Windows without developer mode): a copy of the pack
        shutil.copytree(REPO, custom_nodes / PACK_DIR_NAME, ignore=shutil.ignore_patterns(".git", "test-artifacts"))
    for name in ("models", "input", "output", "temp", "user/default"):
        (base / name).mkdir(parents=True, exist_ok=True)
    (base / "user" / "default" / "comfy.settings.json").write_text(json.dumps(FRONTEND_SETTINGS))

    port = free_port()
    args = [
        os.environ.get("COMFYUI_PYTHON") or sys.executable,
        "main.py",
        *(["--cpu"] if server_on_cpu() else []),
        "--listen",
        HOST,
        "--port",
        str(port),
        "--disable-auto-launch",
        "--disable-api-nodes",  # no cloud nodes; the frontend's CSP then blocks non-local requests too
        "--base-directory",
        str(base),
        "--database-url",
        f"sqlite:///{(base / 'comfyui.db').as_posix()}",
    ]
    extra_configs = [p for p in os.environ.get("COMFYUI_E2E_EXTRA_MODEL_PATHS", "").split(os.pathsep) if p]
    if extra_model_paths:
        generated = base / "extra_model_paths.yaml"
        # JSON is valid YAML; ComfyUI splits each value on newlines.
        config = {"e2e": {key: "\n".join(map(str, paths)) for key, paths in extra_model_paths.items()}}
        generated.write_text(json.dumps(config, indent=1))
        extra_configs.append(str(generated))
    if extra_configs:
        args += ["--extra-model-paths-config", *extra_configs]
    args += [*shlex.split(os.environ.get("COMFYUI_E2E_ARGS", "")), *extra_args]

    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    extra_path = os.environ.get("COMFYUI_E2E_PYTHONPATH", "")
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, env.get("PYTHONPATH", "")) if p)

    log_path = base / "comfyui.log"
    log = log_path.open("w", encoding="utf-8")
    process = subprocess.Popen(
        args, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    server = ComfyUI(f"http://{HOST}:{port}", base, log_path, process)
    try:
        deadline = time.monotonic() + float(os.environ.get("COMFYUI_E2E_START_TIMEOUT", "180"))
        while True:
            server.check_alive()
            try:
                status, _ = server.get("/system_stats", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"ComfyUI did not answer /system_stats in time; log tail:\n{server.log_text()[-4000:]}")
            time.sleep(0.5)
        yield server
    finally:
        _stop(process)
        log.close()
        ARTIFACTS.mkdir(exist_ok=True)
        suffix = "".join(f"_{arg.lstrip('-')}" for arg in extra_args if arg.startswith("--"))
        shutil.copyfile(log_path, ARTIFACTS / f"comfyui_server{suffix}.log")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's own process group, SIGKILL after 20 s."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except (ProcessLookupError, AttributeError):  # AttributeError: no process groups on Windows
        process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, AttributeError):
            process.kill()
        process.wait(timeout=10)


# --- frontend ----------------------------------------------------------------------------------------------


def _is_external(url: str) -> bool:
    parsed = urllib.parse.urlsplit(url)
    return parsed.scheme in ("http", "https") and parsed.hostname not in (HOST, "localhost")


class ComfyPage:
    """The real ComfyUI frontend in a Playwright page, with helpers for litegraph / Nodes 2.0."""

    EXTENSION = "ideogram4.CaptionBuilder"

    def __init__(self, page, server: ComfyUI):
        self.page = page
        self.server = server
        self.page_errors: list[str] = []
        self.pack_console_errors: list[str] = []
        self.external_requests: list[str] = []
        page.set_default_timeout(30_000)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("console", self._on_console)
        # Loopback only: any other host is refused (and recorded).
        page.route(_is_external, self._refuse)

    def _refuse(self, route):
        self.external_requests.append(route.request.url)
        route.abort()

    def _on_console(self, message):
        where = (message.location or {}).get("url", "")
        if message.type == "error" and PACK_DIR_NAME in where + message.text:
            self.pack_console_errors.append(f"{message.text} ({where})")

    def open(self) -> ComfyPage:
        """Load the app and wait until the graph exists and our extension is registered."""
        self.page.goto(self.server.url + "/", wait_until="domcontentloaded", timeout=60_000)
        self.page.wait_for_function(
            "name => window.app?.graph && window.LiteGraph && app.extensions?.some(e => e.name === name)",
            arg=self.EXTENSION,
            timeout=60_000,
        )
        self.page.wait_for_timeout(500)  # let the default workflow finish loading before we replace it
        return self

    def set_setting(self, key: str, value: Any) -> None:
        self.page.evaluate("([k, v]) => app.extensionManager.setting.set(k, v)", [key, value])

    def get_setting(self, key: str) -> Any:
        return self.page.evaluate("k => app.extensionManager.setting.get(k)", key)

    def clear(self) -> None:
        """Empty graph, view at the origin, toasts closed."""
        self.page.evaluate(
            """() => {
              app.graph.clear();
              app.canvas.ds.offset = [0, 0];
              app.canvas.ds.scale = 1;
              app.canvas.setDirty(true, true);
              try { app.extensionManager.toast.removeAll?.(); } catch (e) {}
            }"""
        )

    def add_node(self, node_type: str, pos=(80, 120)) -> str:
        return self.page.evaluate(
            """([type, pos]) => {
              const node = LiteGraph.createNode(type);
              node.pos = pos;
              app.graph.add(node);
              app.canvas.setDirty(true, true);
              return String(node.id);
            }""",
            [node_type, list(pos)],
        )

    def node_eval(self, node_id: str, body: str, arg: Any = None) -> Any:
        """Evaluate `body` (a function of (node, arg)) for the node with this id."""
        return self.page.evaluate(
            f"([id, arg]) => {{ const node = app.graph.getNodeById(id); return ({body})(node, arg); }}",
            [node_id, arg],
        )

    def widget_value(self, node_id: str, name: str) -> Any:
        return self.node_eval(node_id, "(node, name) => node.widgets.find(w => w.name === name)?.value", name)

    def serialize(self) -> dict:
        return self.page.evaluate("() => app.graph.serialize()")

    def load(self, graph: dict) -> None:
        self.page.evaluate("g => app.loadGraphData(g)", graph)
        self.page.wait_for_timeout(300)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"comfyui_{name}.png"
        self.page.screenshot(path=str(path))
        return path
