"""Headless client for a running ComfyUI: queue an API-format Ideogram 4 workflow, follow it, save its images.

Needs only the standard library and aiohttp (which ComfyUI itself requires), so it runs with ComfyUI's Python or
any Python that has aiohttp. Export API workflows from ComfyUI (Workflow → Export (API)) or use
`example_workflows/api/*.json` from this pack. Run with --help for the options.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import struct
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PureWindowsPath
from typing import Any

import aiohttp

Prompt = dict[str, dict[str, Any]]
TEXT_EVENT = 3  # ComfyUI's binary websocket event carrying a node's status text
CAPTION_NODES = {"IG4_TextEncode": "caption", "IG4_CaptionOverlay": "caption", "IG4_CaptionBuilder": "document"}
STRING_SOURCES = {"PrimitiveString": "value", "PrimitiveStringMultiline": "value"}
SAMPLER = "IG4_Sampler"
CUSTOM = "Custom"
# The Custom preset's fields: the sampler input each sets (API prompts: "preset.<field>") and its type.
CUSTOM_FIELDS: dict[str, type] = {
    "steps": int,
    "guidance": float,
    "polish_steps": int,
    "polish_guidance": float,
    "mu": float,
    "std": float,
}
EPILOG = """examples:
  %(prog)s example_workflows/api/ideogram4_single_files.json --caption-file poster.json --seed 7
  %(prog)s workflow_api.json --server http://192.168.1.20:8188 --width 1344 --height 768 \\
      --preset "Quality (48 steps)" --output renders/
  %(prog)s workflow_api.json --steps 30 --guidance 5 --polish-steps 3 --polish-guidance 2.5
      (Custom preset; fields not given keep the workflow's Custom values, else the server's defaults)

exit status: 0 images saved; 1 the run failed (execution error, interrupted, no images);
             2 bad arguments or the server refused the workflow (validation errors listed one per line)."""


class ClientError(Exception):
    """A problem to report on one line (exit status 2)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ideogram4_client.py",
        description="Queue an API-format ComfyUI workflow (e.g. example_workflows/api/*.json), print the sampling "
        "progress and status texts, and download the images it saves.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("workflow", type=Path, help="API-format workflow JSON (node id → class_type + inputs)")
    parser.add_argument("--server", default="http://127.0.0.1:8188", help="ComfyUI address (default: %(default)s)")
    parser.add_argument(
        "--caption-file",
        type=Path,
        help="replace the caption: the caption text of IG4_TextEncode / IG4_CaptionOverlay, the document of "
        "IG4_CaptionBuilder, or the primitive string node that feeds them",
    )
    parser.add_argument("--seed", type=int, help="seed of every IG4_Sampler")
    parser.add_argument("--width", type=int, help="image width (IG4_Sampler, or the Caption Builder feeding it)")
    parser.add_argument("--height", type=int, help="image height (IG4_Sampler, or the Caption Builder feeding it)")
    parser.add_argument("--preset", help='sampler preset label, e.g. "Turbo (12 steps)" (checked with the server)')
    custom = parser.add_argument_group("Custom preset (any of these selects it)")
    for field, kind in CUSTOM_FIELDS.items():
        custom.add_argument(f"--{field.replace('_', '-')}", dest=field, type=kind, metavar=kind.__name__.upper())
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("output"),
        help="folder for the images, which keep the server's subfolders (default: output)",
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the run (default: 3600)")
    args = parser.parse_args(argv)
    args.custom = {field: getattr(args, field) for field in CUSTOM_FIELDS if getattr(args, field) is not None}
    if args.custom and args.preset not in (None, CUSTOM):
        parser.error(f"--{next(iter(args.custom)).replace('_', '-')} sets a Custom preset field; drop --preset "
                     f"{args.preset!r} or use --preset {CUSTOM}")  # fmt: skip
    return args


def _targets(prompt: Prompt, classes: dict[str, str]) -> Iterator[tuple[dict[str, Any], str]]:
    for node in prompt.values():
        if node.get("class_type") in classes:
            yield node["inputs"], classes[node["class_type"]]


def _set_literal(prompt: Prompt, inputs: dict[str, Any], name: str, value: Any, sources: dict[str, str]) -> bool:
    """Set `name` on `inputs`, or on the node its link comes from when that node is one of `sources`."""
    current = inputs.get(name)
    if isinstance(current, list):  # a link: [node id, output index]
        source = prompt.get(str(current[0]), {})
        if source.get("class_type") not in sources:
            return False
        source["inputs"][sources[source["class_type"]]] = value
        return True
    inputs[name] = value
    return True


def _override(prompt: Prompt, classes: dict[str, str], value: Any, sources: dict[str, str], what: str) -> None:
    done = [_set_literal(prompt, inputs, name, value, sources) for inputs, name in _targets(prompt, classes)]
    if not any(done):
        raise ClientError(f"{what}: the workflow has no {' / '.join(sorted(classes))} input to override")


def _set_preset(inputs: dict[str, Any], label: str, custom: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
    """Select `label` on one sampler. Custom keeps the fields the workflow had for it, filling the others from
    `defaults`, then takes `custom`; any other label drops them."""
    kept = {key: value for key, value in inputs.items() if key.startswith("preset.")}
    for key in kept:
        del inputs[key]
    inputs["preset"], was = label, inputs.get("preset")
    if label == CUSTOM:
        inputs.update({f"preset.{k}": v for k, v in defaults.items()} | (kept if was == CUSTOM else {}))
        inputs.update({f"preset.{k}": v for k, v in custom.items()})


def apply_overrides(
    prompt: Prompt,
    *,
    caption: str | None = None,
    seed: int | None = None,
    width: int | None = None,
    height: int | None = None,
    preset: str | None = None,
    custom: Mapping[str, Any] | None = None,
    custom_defaults: Mapping[str, Any] | None = None,
) -> Prompt:
    """A copy of the API prompt with the given values set; ClientError when nothing takes one of them.
    `custom` sets Custom preset fields (selecting Custom); `custom_defaults` fill the fields nobody gave."""
    prompt = copy.deepcopy(prompt)
    if caption is not None:
        _override(prompt, CAPTION_NODES, caption, STRING_SOURCES, "--caption-file")
    if seed is not None:
        _override(prompt, {SAMPLER: "seed"}, seed, {}, "--seed")
    for name, value in (("width", width), ("height", height)):
        if value is not None:
            _override(prompt, {SAMPLER: name}, value, {"IG4_CaptionBuilder": name}, f"--{name}")
    if preset is not None or custom:
        samplers = [inputs for inputs, _ in _targets(prompt, {SAMPLER: "preset"})]
        if not samplers:
            raise ClientError(f"--preset: the workflow has no {SAMPLER} input to override")
        for inputs in samplers:
            _set_preset(inputs, preset or CUSTOM, custom or {}, custom_defaults or {})
    return prompt


def _line(where: str, message: str, details: str | None) -> str:
    return f"{where}: {message}" + (f": {details}" if details else "")


def format_node_errors(body: dict[str, Any]) -> list[str]:
    """ComfyUI's validation failure (HTTP 400 of POST /prompt), one line per error."""
    lines = []
    for node_id, node in (body.get("node_errors") or {}).items():
        for error in node.get("errors", []):
            name = (error.get("extra_info") or {}).get("input_name")
            where = f"node {node_id} ({node.get('class_type', '?')})" + (f" input {name}" if name else "")
            lines.append(_line(where, error.get("message", error.get("type", "error")), error.get("details")))
    if not lines:
        error = body.get("error") or {}
        lines.append(_line("workflow", error.get("message", "refused"), error.get("details")))
    return lines


def status_text(data: bytes) -> tuple[str, str] | None:
    """(node id, text) from a binary websocket message that carries a node's status text, else None."""
    if len(data) < 8 or struct.unpack(">I", data[:4])[0] != TEXT_EVENT:
        return None
    size = struct.unpack(">I", data[4:8])[0]
    return data[8 : 8 + size].decode("utf-8", "replace"), data[8 + size :].decode("utf-8", "replace")


class Run:
    """One queued prompt: follows its websocket messages and prints what happens."""

    def __init__(self, prompt: Prompt, echo: Callable[[str], None]) -> None:
        self.prompt = prompt
        self.echo = echo
        self.prompt_id: str | None = None
        self.error: str | None = None

    def name(self, node_id: Any) -> str:
        return f"node {node_id} ({self.prompt.get(str(node_id), {}).get('class_type', '?')})"

    def handle(self, kind: str, data: dict[str, Any]) -> bool:
        """Print one message; True when the prompt has finished (successfully or not)."""
        if data.get("prompt_id", self.prompt_id) != self.prompt_id:
            return False
        if kind == "executing" and data.get("node") is not None:
            self.echo(f"{self.name(data['node'])} running")
        elif kind == "progress":
            self.echo(f"{self.name(data['node'])} step {data['value']}/{data['max']}")
        elif kind == "execution_cached" and data.get("nodes"):
            self.echo(f"cached: {', '.join(map(str, data['nodes']))}")
        elif kind == "execution_error":
            self.error = f"{self.name(data.get('node_id'))}: {data.get('exception_message', '').strip()}"
            return True
        elif kind == "execution_interrupted":
            self.error = f"interrupted at {self.name(data.get('node_id'))}"
            return True
        # Not `execution_success`: ComfyUI sends it before it stores the run in /history, where the images are
        # read from; `executing` with no node comes after.
        return kind == "executing" and data.get("node") is None


async def _json(response: aiohttp.ClientResponse) -> Any:
    return await response.json(content_type=None)


async def sampler_presets(session: aiohttp.ClientSession, server: str) -> dict[str, dict[str, Any]]:
    """The sampler's preset labels, each with its own fields' defaults (only Custom has fields)."""
    async with session.get(f"{server}/object_info/{SAMPLER}") as response:
        info = await _json(response)
    spec = info[SAMPLER]["input"]["required"]["preset"]
    return {
        option["key"]: {name: value[1].get("default") for name, value in option["inputs"].get("required", {}).items()}
        for option in spec[1]["options"]
    }


async def follow(ws: aiohttp.ClientWebSocketResponse, run: Run) -> None:
    """Print the run's messages until it finishes."""
    async for message in ws:
        if message.type == aiohttp.WSMsgType.BINARY:
            text = status_text(message.data)
            if text is not None and text[0] in run.prompt:
                run.echo(f"{run.name(text[0])}: {text[1]}")
        elif message.type == aiohttp.WSMsgType.TEXT:
            event = json.loads(message.data)
            if run.handle(event.get("type", ""), event.get("data") or {}):
                return
    raise ClientError("the server closed the websocket before the run finished")


def output_path(folder: Path, image: Mapping[str, Any]) -> Path:
    """Where a server-saved image goes: its subfolder and name under `folder` (equal names in different subfolders
    stay apart). A name that would leave `folder` (absolute, a drive, `..`) is refused."""
    subfolder, filename = str(image.get("subfolder") or ""), str(image.get("filename") or "")
    parts = [PureWindowsPath(p) for p in (subfolder, filename)]  # splits on / and backslash; sees roots, drives
    if not filename or any(part.anchor or ".." in part.parts for part in parts):
        shown = f"{subfolder}/{filename}" if subfolder else filename
        raise ClientError(
            f"the server named an output {shown!r}, which is not a file inside the output folder {str(folder)!r}; "
            "refusing to write it (is this a ComfyUI server you trust?)"
        )
    return folder.joinpath(*parts[0].parts, *parts[1].parts)


async def download(session: aiohttp.ClientSession, server: str, prompt_id: str, folder: Path) -> list[Path]:
    """Save the images the prompt's output nodes saved (type "output") under `folder`, keeping their subfolders."""
    async with session.get(f"{server}/history/{prompt_id}") as response:
        entry = (await _json(response)).get(prompt_id, {})
    outputs = entry.get("outputs", {}).values()
    images = [image for output in outputs for image in output.get("images", []) if image.get("type") == "output"]
    paths = [output_path(folder, image) for image in images]  # every name is checked before anything is written
    for image, path in zip(images, paths, strict=True):
        query = {key: image.get(key, "") for key in ("filename", "subfolder", "type")}
        async with session.get(f"{server}/view", params=query) as response:
            response.raise_for_status()
            data = await response.read()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return paths


async def run_workflow(args: argparse.Namespace, echo: Callable[[str], None] = print) -> int:
    server = args.server.rstrip("/")
    client_id = uuid.uuid4().hex
    async with aiohttp.ClientSession() as session:
        presets = await sampler_presets(session, server) if args.preset is not None or args.custom else {}
        if args.preset is not None and args.preset not in presets:
            raise ClientError(f"--preset {args.preset!r} is not one of: {', '.join(presets)}")
        prompt = apply_overrides(
            json.loads(args.workflow.read_text(encoding="utf-8")),
            caption=args.caption_file.read_text(encoding="utf-8") if args.caption_file else None,
            seed=args.seed,
            width=args.width,
            height=args.height,
            preset=args.preset,
            custom=args.custom,
            custom_defaults=presets.get(CUSTOM),
        )
        run = Run(prompt, echo)
        async with session.ws_connect(f"{server}/ws", params={"clientId": client_id}) as ws:
            async with session.post(f"{server}/prompt", json={"prompt": prompt, "client_id": client_id}) as response:
                body = await _json(response)
            if response.status != 200:
                raise ClientError("\n".join(["the server refused the workflow:", *format_node_errors(body)]))
            run.prompt_id = body["prompt_id"]
            echo(f"queued {run.prompt_id}")
            try:
                await asyncio.wait_for(follow(ws, run), args.timeout)
            except asyncio.TimeoutError:
                run.error = f"no result within {args.timeout:g} s (the prompt stays queued on the server)"
        if run.error is not None:
            echo(f"error: {run.error}")
            return 1
        saved = await download(session, server, run.prompt_id, args.output)
    for path in saved:
        echo(f"saved {path}")
    if not saved:
        echo("error: the workflow saved no images (does it have a Save Image node?)")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(run_workflow(args))
    except (ClientError, OSError, json.JSONDecodeError, aiohttp.ClientError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
