"""The output folder of a batch run: atomic image writes and `manifest.jsonl`, one line per image.

Order of writes for every image: PNG to a temporary file, fsync, rename; only then its manifest line, flushed
and fsynced. A crash between the two leaves an image without a line (rendered again next run); a crash while
writing a line leaves a partial last line, which the next run cuts off. So every `done` line names a complete
file, and a rerun skips exactly what the manifest holds. Ctrl-C is held back while an image and its line are
written (`deferred_interrupt`), so an interrupted run leaves no image without its line.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import Ideogram4Error

MANIFEST_NAME = "manifest.jsonl"
_TEMP_MARK = ".tmp-"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers only ever see the old file or the complete new one."""
    temp = path.with_name(f".{path.name}{_TEMP_MARK}{os.getpid()}")
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_folder(path.parent)


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) for the `with` block and raise KeyboardInterrupt after it, if one came.

    Only the main thread can handle signals; elsewhere the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
    if received:
        raise KeyboardInterrupt


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # folders cannot be opened on some platforms (Windows)
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def prepare_output(folder: Path) -> int:
    """Create the folder, prove it is writable and remove temporary files a killed run left; returns how many."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / ".write-check", b"")
        (folder / ".write-check").unlink()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise Ideogram4Error(
            f"Cannot write to the output folder {folder}: {reason}. Pass an --output folder you can write to."
        ) from None
    stale = [p for p in folder.glob(f".*{_TEMP_MARK}*") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


class Manifest:
    """`manifest.jsonl` in an output folder: the latest row per (id, seed), appended durably."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / MANIFEST_NAME
        self.rows: dict[tuple[str, int | None], dict[str, Any]] = {}
        for row in self._read():
            self.rows[(row.get("id"), row.get("seed"))] = row
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def _read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):  # a line cut off by a crash: drop it (its image is rendered again)
            with open(self.path, "r+b") as handle:
                handle.truncate(len(complete))
        rows = []
        for number, line in enumerate(complete.decode("utf-8", errors="replace").splitlines(), start=1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise Ideogram4Error(
                    f"{self.path} line {number} is not JSON; the manifest was edited by hand. Fix or remove that line."
                ) from None
            if isinstance(row, dict):
                rows.append(row)
        return rows

    def done(self, job_id: str, seed: int, key: str) -> dict[str, Any] | None:
        """The `done` row of this image when it was rendered with the same inputs and its file is still there."""
        row = self.rows.get((job_id, seed))
        if row and row.get("status") == "done" and row.get("key") == key and (self.folder / row["file"]).is_file():
            return row
        return None

    def done_by_key(self) -> dict[str, dict[str, Any]]:
        """Rendered images by render key, for jobs identical to one already rendered."""
        return {
            row["key"]: row
            for row in self.rows.values()
            if row.get("status") == "done" and "key" in row and (self.folder / row["file"]).is_file()
        }

    def append(self, row: dict[str, Any]) -> None:
        self.rows[(row.get("id"), row.get("seed"))] = row  # first: `compact` keeps it even if the write is cut
        self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def compact(self, order: Iterable[tuple[str, int]]) -> None:
        """Rewrite atomically with one row per image, in job order (rows of jobs no longer listed go last)."""
        self._handle.close()
        position = {key: i for i, key in enumerate(order)}
        rows = sorted(self.rows.items(), key=lambda item: (position.get(item[0], len(position)), str(item[0])))
        write_atomic(self.path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for _, row in rows).encode())
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def close(self) -> None:
        self._handle.close()
