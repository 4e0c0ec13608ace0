#!/usr/bin/env python3
"""The two commands of a fresh machine: render an image, or run the whole test suite.

    python3 tools/ig4.py render --output demo.png          # the demo (embedded tiny model), no weights needed
    python3 tools/ig4.py render --model DIR --caption-file poster.json --width 1024 --height 1024 --output p.png
    python3 tools/ig4.py test [PYTEST ARGS…]               # the whole suite, exactly what CI runs

The first run sets up what the command needs and records it, so later runs start at once:
- a project-local virtual environment, `.venv/` (or `$IG4_VENV`);
- PyTorch: the CPU build when no NVIDIA GPU is visible, the CUDA build (a multi-GB download, announced first)
  when one is, or exactly `$IG4_TORCH` (pip arguments, e.g. "torch==2.13.0 --index-url …") when set;
- this package (editable), with the `test` extra for `test`;
- for `test`, Debian's Chromium for the browser tests (`apt-get`, when run as root; otherwise it says how).
Standard library only: it runs before anything is installed. Any arguments after the command go to
`python -m ideogram4_core generate|demo` or to pytest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TORCH_VERSION = "2.13.0"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
MODEL_FLAGS = ("--model", "--transformer", "--unconditional-transformer", "--text-encoder", "--vae")


class SetupError(Exception):
    """A set-up step that cannot be done here; the message says what to do instead."""


def venv_dir() -> Path:
    return Path(os.environ.get("IG4_VENV", REPO / ".venv"))


def venv_python() -> Path:
    scripts = "Scripts" if os.name == "nt" else "bin"
    return venv_dir() / scripts / ("python.exe" if os.name == "nt" else "python")


def run(command: list[str | Path], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], check=False, **kwargs)


def pip(*args: str) -> bool:
    return run([venv_python(), "-m", "pip", "install", "--disable-pip-version-check", *args]).returncode == 0


def nvidia_gpu_visible() -> bool:
    smi = shutil.which("nvidia-smi")
    return smi is not None and run([smi, "-L"], capture_output=True).returncode == 0


def install_torch() -> None:
    """Install PyTorch into the venv unless it imports already; never a silent CUDA download."""
    if run([venv_python(), "-c", "import torch"], capture_output=True).returncode == 0:
        return
    chosen = os.environ.get("IG4_TORCH", "").split()
    if chosen:
        print(f"installing PyTorch as IG4_TORCH says: {' '.join(chosen)}", file=sys.stderr)
        attempts = [chosen]
    elif nvidia_gpu_visible():
        print(
            f"NVIDIA GPU found: installing the CUDA build of torch {TORCH_VERSION} (a download of several GB). "
            'Set IG4_TORCH (e.g. IG4_TORCH="torch --index-url …") to choose another build.',
            file=sys.stderr,
        )
        attempts = [[f"torch=={TORCH_VERSION}"]]
    elif sys.platform == "darwin":
        attempts = [[f"torch=={TORCH_VERSION}"]]  # macOS wheels on PyPI are CPU/MPS builds
    else:
        print(f"no NVIDIA GPU visible: installing the CPU build of torch {TORCH_VERSION}", file=sys.stderr)
        cpu = f"torch=={TORCH_VERSION}+cpu"
        attempts = [[cpu], [cpu, "--index-url", CPU_INDEX]]  # local wheels / configured index first
    if not any(pip(*attempt) for attempt in attempts):
        raise SetupError("PyTorch could not be installed. Install it into .venv yourself, or set IG4_TORCH.")


def ensure_chromium() -> None:
    """Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser)."""
    if os.environ.get("CHROMIUM_PATH") or shutil.which("chromium"):
        return
    if shutil.which("apt-get") is None or getattr(os, "geteuid", lambda: 1)() != 0:
        raise SetupError(
            "The browser tests need Chromium: run `sudo apt-get install chromium` (Debian/Ubuntu) "
            "or set CHROMIUM_PATH to a Chromium binary, then run this again."
        )
    print("installing Chromium (apt-get) for the browser tests", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet = {"env": env, "stdout": subprocess.DEVNULL}
    if (
        run(["apt-get", "update", "-qq"], **quiet).returncode
        or run(["apt-get", "install", "-y", "-qq", "chromium"], **quiet).returncode
    ):
        raise SetupError("apt-get could not install chromium; install it by hand and run this again.")


def fingerprint(extras: str) -> str:
    """What the venv was set up from: the package metadata, the extras and the torch choice."""
    digest = hashlib.sha256((REPO / "pyproject.toml").read_bytes())
    digest.update(json.dumps([extras, os.environ.get("IG4_TORCH", "")]).encode())
    return digest.hexdigest()


def ensure_environment(extras: str) -> None:
    """Create or update the venv so it holds torch and this package with `extras` ("" or "test")."""
    if sys.version_info < (3, 10):  # noqa: UP036 (this file runs on whatever python3 the user has)
        raise SetupError(f"Python 3.10 or newer is needed (this is {sys.version.split()[0]}).")
    stamp = venv_dir() / f".ig4-setup-{extras or 'base'}"
    wanted = fingerprint(extras)
    if stamp.is_file() and stamp.read_text() == wanted and venv_python().exists():
        return
    if not venv_python().exists():
        print(f"creating the virtual environment {venv_dir()}", file=sys.stderr)
        if run([sys.executable, "-m", "venv", venv_dir()]).returncode:
            raise SetupError("Could not create a virtual environment: install python3-venv and run this again.")
    install_torch()
    target = f"{REPO}[{extras}]" if extras else str(REPO)
    if not pip("-e", target):
        raise SetupError(f"pip could not install {target}; see its message above.")
    stamp.write_text(wanted)


def render(args: list[str]) -> int:
    ensure_environment("")
    command = "generate" if any(a.split("=")[0] in MODEL_FLAGS for a in args) else "demo"
    if command == "demo" and not any(a.split("=")[0] == "--output" for a in args):
        args = [*args, "--output", "demo.png"]
    return run([venv_python(), "-m", "ideogram4_core", command, *args]).returncode


def test(args: list[str]) -> int:
    ensure_environment("test")
    ensure_chromium()
    return run([venv_python(), "-m", "pytest", "-q", *args], cwd=REPO).returncode


def main(argv: list[str]) -> int:
    commands = {"render": render, "test": test}
    if not argv or argv[0] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return commands[argv[0]](argv[1:])
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
