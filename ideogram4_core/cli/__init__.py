"""Command line, one module per sub-command; `main` is the entry point."""

from .main import main

__all__ = ["main"]
