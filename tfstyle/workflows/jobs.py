"""The jobs of a batch: read from a manifest or made as a cross product,
each with a readable id, its own folder and its own settings, and planned
against what an earlier run left in that folder.

A manifest is CSV (a header row) or JSON Lines (one object per line). Each
row has `content`, `style` (one painting, or several: a JSON list, or
comma-separated in one CSV cell), an optional `id`, and any StyleConfig
field as an override of the shared settings. Relative paths are read from
the manifest's folder: content, style and the settings that name files
(masks, style_masks, regions, region_styles' paintings, an init image, a
weights file found there). Everything here is checked before any job runs.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..config import INITS, StyleConfig, parse_field, parse_list
from ..errors import ConfigError, TfstyleError

MANIFEST_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
JOB_FILE = "job.json"  # the job's outcome, beside its run record
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
_WEIGHTS_WORDS = ("imagenet", "procedural", "random")


@dataclass(frozen=True)
class Job:
    id: str
    content: Path
    styles: tuple[Path, ...]
    overrides: dict = field(default_factory=dict)  # StyleConfig fields set by the row
    source: str = ""  # where it was defined, for messages: "jobs.csv row 3"

    def config(self, shared: StyleConfig) -> StyleConfig:
        return shared.replace(**self.overrides)

    def folder(self, outdir) -> Path:
        return Path(outdir) / self.id

    def output(self, outdir) -> Path:
        """OUTDIR/<id>/<id>.png; its record, plot and checkpoint beside it."""
        return self.folder(outdir) / f"{self.id}.png"


def read_manifest(path, shared: StyleConfig) -> list[Job]:
    """Jobs from a CSV or JSON Lines file; ConfigError naming the file and
    row for anything that would fail later."""
    path = Path(path)
    kind = MANIFEST_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ConfigError(None, f"{path}: a manifest must be CSV (.csv) or JSON Lines "
                                f"(.jsonl, .ndjson)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(None, f"{path}: no such manifest") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(None, f"{path}: cannot read the manifest ({error})") from None
    rows = _csv_rows(path, text) if kind == "csv" else _jsonl_rows(path, text)
    if not rows:
        raise ConfigError(None, f"{path}: the manifest has no jobs")
    jobs = []
    for where, row in rows:
        try:
            jobs.append(_job_from_row(row, path.parent, where, shared))
        except TfstyleError as error:
            raise ConfigError(None, f"{where}: {error}") from None
    return assign_ids(jobs)


def cross_product(contents: str, styles: str, shared: StyleConfig) -> list[Job]:
    """Every photo matched by the `contents` glob with every painting matched
    by `styles`, one painting per job."""
    photos, paintings = _glob("--contents", contents), _glob("--styles", styles)
    jobs = [Job("", photo, (painting,), {}, f"{photo.name} x {painting.name}")
            for photo in photos for painting in paintings]
    return assign_ids(jobs)


def assign_ids(jobs: list[Job]) -> list[Job]:
    """Readable ids (photo__painting[+painting]) where none was given, made
    unique by a short digest of the full paths and settings when names
    collide; explicit ids must be unique and safe as folder names."""
    explicit = [j.id for j in jobs if j.id]
    for job in jobs:
        if job.id and (_UNSAFE.search(job.id) or job.id in (".", "..")):
            raise ConfigError(None, f"{job.source}: id {job.id!r} must use only letters, digits, "
                                    "'.', '_', '+' and '-'")
        if job.id and explicit.count(job.id) > 1:
            raise ConfigError(None, f"{job.source}: duplicate id {job.id!r}")
    named = [j.id or readable_id(j) for j in jobs]
    taken = set(explicit)
    result = []
    for job, name in zip(jobs, named):
        if not job.id and (named.count(name) > 1 or name in taken):
            name = f"{name}-{_digest(job)}"
            if name in taken:  # the very same job twice
                raise ConfigError(None, f"{job.source}: the same job appears twice")
        taken.add(name)
        result.append(Job(name, job.content, job.styles, job.overrides, job.source))
    return result


def readable_id(job: Job) -> str:
    name = f"{job.content.stem}__{'+'.join(s.stem for s in job.styles)}"
    return _UNSAFE.sub("_", name).strip("._") or "job"


def _digest(job: Job) -> str:
    data = json.dumps([str(job.content.absolute()), [str(s.absolute()) for s in job.styles],
                       job.overrides], sort_keys=True, default=str)
    return hashlib.sha1(data.encode()).hexdigest()[:6]


def _glob(option: str, pattern: str) -> list[Path]:
    matches = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True)
                     if Path(p).is_file())
    if not matches:
        raise ConfigError(option.lstrip("-"), f"{pattern!r} matches no files")
    return matches


def _csv_rows(path: Path, text: str) -> list[tuple[str, dict]]:
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "content" not in reader.fieldnames:
        raise ConfigError(None, f"{path}: not a CSV manifest (the header row needs a "
                                "'content' column)")
    rows = []
    for number, row in enumerate(reader, start=2):  # row 1 is the header
        if None in row:
            raise ConfigError(None, f"{path} row {number}: more cells than header columns")
        cells = {k.strip(): v for k, v in row.items() if v is not None and v.strip() != ""}
        if cells:
            rows.append((f"{path} row {number}", cells))
    return rows


def _jsonl_rows(path: Path, text: str) -> list[tuple[str, dict]]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise ConfigError(None, f"{path} line {number}: not JSON (a JSON Lines manifest "
                                    "has one object per line)") from None
        if not isinstance(row, dict):
            raise ConfigError(None, f"{path} line {number}: expected a JSON object")
        rows.append((f"{path} line {number}", row))
    return rows


def _job_from_row(row: dict, base: Path, where: str, shared: StyleConfig) -> Job:
    row = dict(row)
    content, styles = row.pop("content", None), row.pop("style", row.pop("styles", None))
    job_id = row.pop("id", "")
    if not content or not styles:
        raise ConfigError(None, "each row needs a content and a style")
    if isinstance(styles, str):
        styles = parse_list("style", styles)
    if not isinstance(styles, (list, tuple)) or not all(isinstance(s, str) for s in styles):
        raise ConfigError("style", "expected one path or a list of paths")
    overrides = {name: parse_field(name, value) for name, value in row.items()}
    overrides = resolve_paths(overrides, base)
    job = Job(str(job_id).strip(), _resolve(base, content),
              tuple(_resolve(base, s) for s in styles), overrides, where)
    config = job.config(shared)  # a bad value fails here, before any job runs
    config.blend_weights(len(job.styles))
    return job


def _resolve(base: Path, path) -> Path:
    path = Path(str(path)).expanduser()
    return path if path.is_absolute() else base / path


def resolve_paths(overrides: dict, base: Path) -> dict:
    """A row's settings that name files, made absolute from the manifest's
    folder as its content and style are: the batch may run from anywhere,
    and the run record must name the files actually read."""
    resolved = dict(overrides)
    for name in ("masks", "style_masks", "region_styles"):
        if isinstance(overrides.get(name), (str, list, tuple)):
            resolved[name] = tuple(_resolve_item(name, item, base)
                                   for item in _items(name, overrides[name]))
    if isinstance(overrides.get("regions"), str):
        resolved["regions"] = _absolute(base, overrides["regions"])
    init = overrides.get("init")  # a file when StyleConfig would take it for one
    if isinstance(init, str) and init not in INITS and Path(init).suffix:
        resolved["init"] = _absolute(base, init)
    weights = overrides.get("weights")
    # A weights word stays a word; a path only where the manifest's folder
    # has it, so a path meant from the current folder still works.
    if isinstance(weights, str) and weights not in _WEIGHTS_WORDS \
            and Path(_absolute(base, weights)).exists():
        resolved["weights"] = _absolute(base, weights)
    return resolved


def _items(name: str, value) -> tuple:
    return parse_list(name, value) if isinstance(value, str) else tuple(value)


def _resolve_item(name: str, item, base: Path):
    """One item of a path list; '-' (no style mask) and non-text (refused
    later by StyleConfig, with its own message) stay as they are."""
    if not isinstance(item, str) or (name == "style_masks" and item.strip() == "-"):
        return item
    if name == "region_styles":  # #RRGGBB=PAINTING: only the painting is a path
        colour, sep, painting = item.partition("=")
        return f"{colour}={_absolute(base, painting.strip())}" if sep and painting.strip() \
            else item
    return _absolute(base, item.strip())


def _absolute(base: Path, path: str) -> str:
    return str(_resolve(base, path).absolute())
