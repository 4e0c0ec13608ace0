"""Batch jobs: read a JSONL file, a CSV file or a folder of caption files into `Job`s and input problems.

A job's fields are `generate`'s flags with dashes as underscores (see DESIGN.md, batch contract):
`id`, `caption` (an object, serialised canonically, or text used verbatim) or `caption_file` (relative to the
jobs file), `width`, `height`, `seed` / `seeds` / `variations` (seeds seed … seed+N−1), `preset` and the
explicit settings, LoRAs (`loras`, `unconditional_loras`, `unconditional_from_conditional`) and editing
(`init_image`, `denoise`, `mask`, `edit_elements`, `edit_margin`). File paths are relative to the jobs file.

Structural problems (not JSON, unknown fields, wrong types, a missing or duplicate id) are input problems,
reported by line and skipped. Problems with a valid job's content (an unreadable caption file, an unknown
preset, impossible settings) stay on the job as `error`, so it is recorded as failed in the manifest.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..caption import dumps_canonical
from ..edit_request import EDIT_MARGIN, EditRequest
from ..errors import Ideogram4Error
from ..sampling.schedule import OVERRIDABLE, SamplingSettings, settings_from
from ..weights.lora import LoraChoice, parse_lora_argument

MAX_SEED = 2**64 - 1
_ID = re.compile(r"[^/\\\x00-\x1f]{1,200}")


@dataclass(frozen=True)
class Job:
    """One caption at one size and settings, rendered once per seed."""

    id: str
    caption: str
    width: int
    height: int
    seeds: tuple[int, ...]
    preset: str
    settings: SamplingSettings | None
    where: str  # "jobs.jsonl line 3": for messages
    loras: tuple[str, ...] = ()
    unconditional_loras: tuple[str, ...] = ()
    unconditional_from_conditional: bool = False
    init_image: str | None = None
    denoise: float | None = None
    mask: str | None = None
    edit_elements: tuple[int, ...] = ()
    edit_margin: int | None = None
    error: str | None = None

    @property
    def caption_sha256(self) -> str:
        return hashlib.sha256(self.caption.encode("utf-8")).hexdigest()

    def extras(self) -> dict[str, Any]:
        """The LoRA and editing fields, where set (part of what makes two jobs identical)."""
        names = (*_LIST_FIELDS, "unconditional_from_conditional", "init_image", "denoise", "mask", "edit_margin")
        return {name: getattr(self, name) for name in names if getattr(self, name) not in (None, (), False)}

    def render_key(self, seed: int) -> str:
        """Identical for two images that must come out the same (caption, size, settings, seed, extras)."""
        settings = asdict(self.settings) if self.settings else None
        facts = [self.caption_sha256, self.width, self.height, settings, seed, self.extras()]
        return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()

    def lora_choice(self) -> LoraChoice:
        """The LoRAs per branch, as `generate --lora/--unconditional-lora/--unconditional-from-conditional`."""
        return LoraChoice(
            tuple(parse_lora_argument(text) for text in self.loras),
            tuple(parse_lora_argument(text) for text in self.unconditional_loras),
            self.unconditional_from_conditional,
        )

    def edit_request(self) -> EditRequest | None:
        """The picture to edit, as `generate --init-image/--mask/--denoise/--edit-elements/--edit-margin`."""
        if self.init_image is None:
            return None
        margin = EDIT_MARGIN if self.edit_margin is None else self.edit_margin
        mask = None if self.mask is None else Path(self.mask)
        return EditRequest(Path(self.init_image), mask, self.edit_elements, margin, denoise=self.denoise)


@dataclass(frozen=True)
class InputProblem:
    where: str
    message: str

    def line(self) -> str:
        return f"{self.where}: {self.message}; skipped"


@dataclass
class JobSet:
    jobs: list[Job] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)


class _FieldError(ValueError):
    """A structural problem with one field: the line is skipped."""


def _int(name: str, value: Any, low: int = 0, high: int = MAX_SEED) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _FieldError(f'"{name}" must be a whole number (got {json.dumps(value)})')
    if not low <= value <= high:
        raise _FieldError(f'"{name}" must be between {low} and {high} (got {value})')
    return value


def _float(name: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _FieldError(f'"{name}" must be a number (got {json.dumps(value)})')
    return float(value)


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    if not isinstance(value, bool):
        raise _FieldError(f'"{name}" must be true or false (got {json.dumps(value)})')
    return value


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _FieldError(f'"{name}" must be a non-empty string (got {json.dumps(value)})')
    return value


def _list(name: str, value: Any) -> list[Any]:
    """A JSON list, or (from CSV) a JSON list or comma-separated items."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = json.loads(text) if text.startswith("[") else [v.strip() for v in text.split(",") if v.strip()]
        except json.JSONDecodeError as exc:
            raise _FieldError(f'"{name}" is not a valid JSON list ({exc.msg})') from None
    if not isinstance(value, list):
        raise _FieldError(f'"{name}" must be a list (got {json.dumps(value)})')
    return value


def _lora(name: str, value: Any) -> str:
    """`FILE[:S]` as generate's --lora takes it, or {"file": …, "strength": S}."""
    if isinstance(value, Mapping) and set(value) <= {"file", "strength"} and "file" in value:
        file = _text(f"{name}.file", value["file"])
        text = f"{file}:{_float(f'{name}.strength', value['strength']):g}" if "strength" in value else file
    else:
        text = _text(name, value)
    try:
        parse_lora_argument(text)
    except Ideogram4Error as exc:
        raise _FieldError(f'"{name}": {exc}') from None
    return text


def _relative_to(base: Path, lora: str) -> str:
    """A LoRA's `FILE[:S]` with FILE relative to the jobs file's folder."""
    request = parse_lora_argument(lora)
    path = str(base / request.path)
    return path if request.strength == 1.0 and request.path == Path(lora) else f"{path}:{request.strength:g}"


_LIST_FIELDS: dict[str, Callable[[str, Any], Any]] = {
    "loras": _lora,
    "unconditional_loras": _lora,
    "edit_elements": lambda name, v: _int(name, v, low=1, high=10_000),
}
_SCALARS: dict[str, Callable[[str, Any], Any]] = {
    "width": lambda n, v: _int(n, v, low=1, high=1 << 16),
    "height": lambda n, v: _int(n, v, low=1, high=1 << 16),
    "seed": _int,
    "variations": lambda n, v: _int(n, v, low=1, high=100_000),
    "preset": _text,
    "steps": lambda n, v: _int(n, v, low=0, high=10_000),
    "polish_steps": lambda n, v: _int(n, v, low=0, high=10_000),
    "guidance": _float,
    "polish_guidance": _float,
    "mu": _float,
    "std": _float,
    "unconditional_from_conditional": _bool,
    "init_image": _text,
    "denoise": _float,
    "mask": _text,
    "edit_margin": lambda n, v: _int(n, v, low=0, high=1 << 16),
}
_PATH_FIELDS = ("init_image", "mask")
_EDIT_FIELDS = ("denoise", "mask", "edit_elements", "edit_margin")
FIELDS = ("id", "caption", "caption_file", "seeds", *_SCALARS, *_LIST_FIELDS)


@dataclass(frozen=True)
class JobDefaults:
    """Values for fields a job leaves out (the batch command's --width, --seed, --preset, …)."""

    width: int | None = None
    height: int | None = None
    seed: int = 0
    variations: int = 1
    preset: str | None = None
    overrides: Mapping[str, float] = field(default_factory=dict)


def read_jobs(source: Path, defaults: JobDefaults = JobDefaults()) -> JobSet:
    """Jobs from a .jsonl/.csv file or a folder of caption .json files; duplicate ids are input problems."""
    if source.is_dir():
        records = _folder_records(source)
    elif not source.is_file():
        raise Ideogram4Error(
            f"Jobs not found: {source}. Give a .jsonl or .csv file, or a folder of caption .json files."
        )
    elif source.suffix.lower() == ".csv":
        records = _csv_records(source)
    elif source.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        records = _jsonl_records(source)
    else:
        raise Ideogram4Error(f"{source} is not a .jsonl or .csv file; batch jobs come as JSONL, CSV or a folder.")
    out, first_seen = JobSet(), {}
    base = source if source.is_dir() else source.parent
    for where, record in records:
        if isinstance(record, InputProblem):
            out.problems.append(record)
            continue
        try:
            job = _job(where, record, base, defaults)
        except _FieldError as exc:
            out.problems.append(InputProblem(where, str(exc)))
            continue
        if job.id in first_seen:
            out.problems.append(InputProblem(where, f"duplicate job id {job.id!r} (first at {first_seen[job.id]})"))
            continue
        first_seen[job.id] = where
        out.jobs.append(job)
    if not out.jobs and not out.problems:
        raise Ideogram4Error(f"No jobs in {source}. Add one JSON object per line (or one row per job in a CSV).")
    return out


def _jsonl_records(path: Path) -> Iterator[tuple[str, dict[str, Any] | InputProblem]]:
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        where = f"{path.name} line {number}"
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield where, InputProblem(where, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(record, dict):
            yield where, InputProblem(where, f"a job must be a JSON object, not {type(record).__name__}")
            continue
        yield where, record


def _csv_records(path: Path) -> Iterator[tuple[str, dict[str, Any] | InputProblem]]:
    reader = csv.DictReader(_read_text(path).splitlines(keepends=True))
    for row in reader:
        where = f"{path.name} line {reader.line_num}"
        if None in row:
            yield (
                where,
                InputProblem(where, f"{len(row[None]) + len(reader.fieldnames or [])} cells, more than the header"),
            )
            continue
        yield where, {key: value for key, value in row.items() if key and value not in (None, "")}


def _folder_records(folder: Path) -> Iterator[tuple[str, dict[str, Any] | InputProblem]]:
    files = sorted(folder.glob("*.json"))
    if not files:
        raise Ideogram4Error(f"No caption .json files in {folder}. Put one caption per .json file there.")
    for path in files:
        yield path.name, {"id": path.stem, "caption_file": path.name}


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise Ideogram4Error(f"Cannot read the jobs file {path}: {exc}.") from None


def _job(where: str, record: dict[str, Any], base: Path, defaults: JobDefaults) -> Job:
    unknown = sorted(set(record) - set(FIELDS))
    if unknown:
        raise _FieldError(f"unknown field {', '.join(map(repr, unknown))} (known: {', '.join(FIELDS)})")
    if "id" not in record:
        raise _FieldError('no "id"; every job needs a unique id (it names the image files)')
    job_id = record["id"] if isinstance(record["id"], str) else json.dumps(record["id"])
    if not _ID.fullmatch(job_id) or job_id.strip() != job_id or job_id.startswith("."):
        raise _FieldError(f"job id {job_id!r} cannot name a file; use letters, digits, '-', '_' or '.'")
    values = {name: parse(name, record[name]) for name, parse in _SCALARS.items() if name in record}
    lists = {name: tuple(parse(f"{name}[{i}]", v) for i, v in enumerate(_list(name, record[name])))
             for name, parse in _LIST_FIELDS.items() if name in record}  # fmt: skip
    seeds = _seeds(record, values, defaults)
    width, height = values.pop("width", defaults.width), values.pop("height", defaults.height)
    for name, value in (("width", width), ("height", height)):
        if value is None:
            raise _FieldError(f'no "{name}"; give it in the job or as --{name} for every job')
    for name in _PATH_FIELDS:
        if name in values:
            values[name] = str(base / values[name])
    for name in ("loras", "unconditional_loras"):
        lists[name] = tuple(_relative_to(base, lora) for lora in lists.get(name, ()))
    orphans = [name for name in _EDIT_FIELDS if name in record] if "init_image" not in record else []
    if orphans:
        raise _FieldError(f'{", ".join(map(repr, orphans))} need "init_image": the picture to edit')
    error, caption = None, ""
    try:
        caption = _caption(record, base)
    except Ideogram4Error as exc:
        error = str(exc)
    preset = str(values.pop("preset", defaults.preset) or "V4_DEFAULT_20").upper()
    overrides = {**defaults.overrides, **{n: values.pop(n) for n in OVERRIDABLE if n in values}}
    settings = None
    try:
        settings = settings_from(preset, overrides)
    except Ideogram4Error as exc:
        error = error or str(exc)
    values.pop("seed", None)
    values.pop("variations", None)
    job = Job(job_id, caption, width, height, seeds, preset, settings, where, error=error)
    return replace(job, **values, **lists)


def _seeds(record: dict[str, Any], values: dict[str, Any], defaults: JobDefaults) -> tuple[int, ...]:
    if "seeds" in record:
        if "seed" in record or "variations" in record:
            raise _FieldError('give "seeds" or "seed"/"variations", not both')
        seeds = tuple(_int(f"seeds[{i}]", s) for i, s in enumerate(_list("seeds", record["seeds"])))
        if not seeds or len(set(seeds)) != len(seeds):
            raise _FieldError('"seeds" must list at least one seed, each once')
        return seeds
    first = values.get("seed", defaults.seed)
    count = values.get("variations", defaults.variations)
    if first + count - 1 > MAX_SEED:
        raise _FieldError(f"seeds {first} … {first + count - 1} go past {MAX_SEED}")
    return tuple(range(first, first + count))


def _caption(record: dict[str, Any], base: Path) -> str:
    if ("caption" in record) == ("caption_file" in record):
        raise _FieldError('give exactly one of "caption" and "caption_file"')
    if "caption_file" in record:
        path = base / _text("caption_file", record["caption_file"])
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise Ideogram4Error(f"Cannot read the caption file {path}: {exc}.") from None
    caption = record["caption"]
    if isinstance(caption, dict):
        return dumps_canonical(caption)
    if not isinstance(caption, str):
        raise _FieldError(f'"caption" must be a JSON object or a string (got {type(caption).__name__})')
    return caption
