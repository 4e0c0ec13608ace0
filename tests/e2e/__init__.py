"""End-to-end tests in a real ComfyUI (a package, so its conftest never shadows tests/web/conftest.py)."""
