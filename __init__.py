"""ComfyUI entry point: registers the Ideogram 4 nodes and the web extension."""

from .nodes import comfy_entrypoint

WEB_DIRECTORY = "./web"

__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
