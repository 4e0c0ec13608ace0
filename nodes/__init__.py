"""ComfyUI nodes (V3 schema). Thin adapters: all numerics live in `ideogram4_core`.

`comfy_api` is imported only when ComfyUI asks for the extension, so the pack stays importable
without ComfyUI (tests and tooling import the pack root).
"""


async def comfy_entrypoint():
    from .extension import Ideogram4Extension

    return Ideogram4Extension()
