"""Server routes: ``POST /ideogram4/caption/check``, a thin aiohttp wrapper around the engine's ``check_request``,
and ``POST /ideogram4/magic_prompt`` (its logic: ``nodes/magic_prompt.magic_request``).

Request: ``{"caption": <caption text or object>, "width"?: int, "height"?: int}``.
Response 200: ``{"valid", "problems": [{path, message, fix, severity}], "repairs": [{path, message}],
"canonical": str, "canonical_valid", "canonical_problems", "tokens": {count, exact, label, limit, note}}``;
400: ``{"error": str}``. Full contract: ``ideogram4_core/caption/check.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..ideogram4_core.caption import check_request
from ..ideogram4_core.caption.json_text import decode

CHECK_ROUTE = "/ideogram4/caption/check"
MAGIC_ROUTE = "/ideogram4/magic_prompt"
_registered = False
_magic_registered = False


def register_routes(tokenizer_dir: Callable[[], Path]) -> bool:
    """Add the route to ComfyUI's server when one is running; True if it is (now) registered."""
    global _registered
    if _registered:
        return True
    try:
        from aiohttp import web
        from server import PromptServer
    except ImportError:
        return False
    if getattr(PromptServer, "instance", None) is None:
        return False

    async def check(request: web.Request) -> web.Response:
        try:
            decoded = decode(await request.text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"error": "the request body is not JSON"}, status=400)
        if decoded.value is None:
            return web.json_response({"error": f"the request body: {decoded.problems[0].message}"}, status=400)
        body = decoded.value
        status, payload = await asyncio.to_thread(check_request, body, tokenizer_dir=tokenizer_dir())
        return web.json_response(payload, status=status, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))

    PromptServer.instance.routes.post(CHECK_ROUTE)(check)
    _registered = True
    return True


def register_magic_route(handle: Callable[[Any], tuple[int, dict[str, Any]]]) -> bool:
    """Add ``POST MAGIC_ROUTE`` (body → `handle` in a worker thread → JSON reply); True if it is registered."""
    global _magic_registered
    if _magic_registered:
        return True
    try:
        from aiohttp import web
        from server import PromptServer
    except ImportError:
        return False
    if getattr(PromptServer, "instance", None) is None or not hasattr(PromptServer.instance, "routes"):
        return False

    async def magic(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"error": "the request body is not JSON"}, status=400)
        status, payload = await asyncio.to_thread(handle, body)
        return web.json_response(payload, status=status, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))

    PromptServer.instance.routes.post(MAGIC_ROUTE)(magic)
    _magic_registered = True
    return True
