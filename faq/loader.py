"""Read FAQ files (CSV or YAML) and OPD files (TOML) into value objects, with line-exact errors.

Imports are all-or-nothing, so the loaders collect every problem they find and raise them
together; the caller shows them as ``FILE:LINE: reason`` lines to the operator.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faq.model import FaqEntry, OpdProfile

FAQ_COLUMNS = ("id", "opd", "question", "answer", "variants", "keywords")
REQUIRED_FIELDS = ("id", "opd", "question", "answer")
MAX_FIELD_CHARS = 4000
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_OPD_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]{1,31}$")


@dataclass(frozen=True)
class Problem:
    """One reason a file cannot be imported, located at a line."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


class ImportRejected(Exception):
    """Raised when a file has problems; nothing of it may be imported."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class LocatedFaq:
    """A parsed FAQ entry with where it came from (for duplicate and OPD checks)."""

    entry: FaqEntry
    path: str
    line: int


def split_list(value: str | None) -> tuple[str, ...]:
    """Split a ``|``-separated cell into trimmed, non-empty items."""
    if not value:
        return ()
    return tuple(item.strip() for item in value.split("|") if item.strip())


def _read_text(path: Path) -> str:
    """Read a UTF-8 file; report the line of the first undecodable byte."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRejected(
            [Problem(str(path), line, "file is not valid UTF-8 (bad byte at this line)")]
        ) from exc


def _entry_from_fields(
    fields: dict[str, Any], path: str, line: int, problems: list[Problem]
) -> FaqEntry | None:
    """Validate one record's fields; append problems and return None when it is bad."""
    clean: dict[str, str] = {}
    for name in FAQ_COLUMNS:
        value = fields.get(name)
        if isinstance(value, list):
            value = " | ".join(str(v) for v in value)
        clean[name] = "" if value is None else str(value).strip()
    bad = False
    for name in REQUIRED_FIELDS:
        if not clean[name]:
            problems.append(Problem(path, line, f"empty {name}"))
            bad = True
    if clean["id"] and not _ID_RE.match(clean["id"]):
        problems.append(Problem(path, line, f"invalid id {clean['id']!r}"))
        bad = True
    for name, value in clean.items():
        if len(value) > MAX_FIELD_CHARS:
            problems.append(
                Problem(path, line, f"{name} longer than {MAX_FIELD_CHARS} characters")
            )
            bad = True
    if bad:
        return None
    return FaqEntry(
        id=clean["id"],
        opd=clean["opd"].upper(),
        question=clean["question"],
        answer=clean["answer"],
        variants=split_list(clean["variants"]),
        keywords=split_list(clean["keywords"]),
    )


def _parse_csv(path: Path, text: str, problems: list[Problem]) -> list[LocatedFaq]:
    """Parse a CSV FAQ file with the contract header."""
    out: list[LocatedFaq] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        problems.append(Problem(str(path), 1, "file is empty (expected a header row)"))
        return out
    except csv.Error as exc:
        problems.append(Problem(str(path), 1, f"malformed CSV: {exc}"))
        return out
    header = [h.strip().lower() for h in header]
    missing = [c for c in FAQ_COLUMNS if c not in header]
    if missing:
        problems.append(
            Problem(
                str(path),
                1,
                f"missing column(s) {', '.join(missing)}; expected header {','.join(FAQ_COLUMNS)}",
            )
        )
        return out
    unknown = [h for h in header if h not in FAQ_COLUMNS]
    if unknown:
        problems.append(Problem(str(path), 1, f"unknown column(s) {', '.join(unknown)}"))
        return out
    while True:
        # A quoted field may span lines: report a record at the line where it starts.
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(str(path), line, f"malformed CSV: {exc}"))
            break
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(
                Problem(str(path), line, f"expected {len(header)} fields, found {len(row)}")
            )
            continue
        entry = _entry_from_fields(dict(zip(header, row, strict=True)), str(path), line, problems)
        if entry is not None:
            out.append(LocatedFaq(entry, str(path), line))
    return out


def _parse_yaml(path: Path, text: str, problems: list[Problem]) -> list[LocatedFaq]:
    """Parse a YAML FAQ file: a list of mappings, or a mapping with a ``faq`` list."""
    import yaml  # local: only YAML imports need it

    out: list[LocatedFaq] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problems.append(
            Problem(str(path), line, f"malformed YAML: {getattr(exc, 'problem', exc)}")
        )
        return out
    if root is None:
        problems.append(Problem(str(path), 1, "file is empty"))
        return out
    items_node = root
    if isinstance(root, yaml.MappingNode):
        found = [v for k, v in root.value if getattr(k, "value", None) == "faq"]
        if not found:
            problems.append(
                Problem(str(path), 1, "expected a list of FAQ entries or a 'faq:' list")
            )
            return out
        items_node = found[0]
    if not isinstance(items_node, yaml.SequenceNode):
        problems.append(Problem(str(path), items_node.start_mark.line + 1, "expected a list"))
        return out
    for node in items_node.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            problems.append(Problem(str(path), line, "each FAQ entry must be a mapping"))
            continue
        data = yaml.safe_load(yaml.serialize(node))
        unknown = [k for k in data if k not in FAQ_COLUMNS]
        if unknown:
            problems.append(
                Problem(str(path), line, f"unknown field(s) {', '.join(map(str, unknown))}")
            )
            continue
        entry = _entry_from_fields(data, str(path), line, problems)
        if entry is not None:
            out.append(LocatedFaq(entry, str(path), line))
    return out


def parse_faq_file(path: Path) -> tuple[list[LocatedFaq], list[Problem]]:
    """Parse one FAQ file (by extension: .csv, .yaml/.yml); return entries and problems."""
    problems: list[Problem] = []
    try:
        text = _read_text(path)
    except ImportRejected as exc:
        return [], exc.problems
    except OSError as exc:
        return [], [Problem(str(path), 0, f"cannot read file: {exc.strerror or exc}")]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _parse_csv(path, text, problems), problems
    if suffix in {".yaml", ".yml"}:
        return _parse_yaml(path, text, problems), problems
    return [], [Problem(str(path), 0, "unsupported file type (use .csv, .yaml, .yml or .toml)")]


def check_entries(located: Iterable[LocatedFaq], known_opds: set[str]) -> list[Problem]:
    """Cross-record checks: unknown OPDs and duplicate ids (across all files of one import)."""
    problems: list[Problem] = []
    seen: dict[str, LocatedFaq] = {}
    for item in located:
        if item.entry.opd not in known_opds:
            problems.append(Problem(item.path, item.line, f"unknown OPD {item.entry.opd!r}"))
        first = seen.get(item.entry.id)
        if first is not None:
            problems.append(
                Problem(
                    item.path,
                    item.line,
                    f"duplicate id {item.entry.id!r} (first at {first.path}:{first.line})",
                )
            )
        else:
            seen[item.entry.id] = item
    return problems


def load_faq_files(paths: Iterable[Path], known_opds: set[str]) -> list[FaqEntry]:
    """Load and validate FAQ files together; raise ImportRejected listing every problem."""
    located: list[LocatedFaq] = []
    problems: list[Problem] = []
    for path in paths:
        items, file_problems = parse_faq_file(path)
        located.extend(items)
        problems.extend(file_problems)
    problems.extend(check_entries(located, known_opds))
    if problems:
        raise ImportRejected(problems)
    return [item.entry for item in located]


def load_opd_file(path: Path) -> list[OpdProfile]:
    """Load ``[[opd]]`` tables (code, name, description, optional keywords) from TOML."""
    text = _read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else 1
        raise ImportRejected([Problem(str(path), line, f"malformed TOML: {exc}")]) from exc
    tables = data.get("opd")
    if not isinstance(tables, list) or not tables:
        raise ImportRejected([Problem(str(path), 1, "expected one or more [[opd]] tables")])
    lines = _table_lines(text, "opd")
    problems: list[Problem] = []
    out: list[OpdProfile] = []
    seen: set[str] = set()
    for index, table in enumerate(tables):
        line = lines[index] if index < len(lines) else 1
        code = str(table.get("code", "")).strip()
        name = str(table.get("name", "")).strip()
        if not _OPD_CODE_RE.match(code):
            problems.append(Problem(str(path), line, f"invalid or missing OPD code {code!r}"))
            continue
        if not name:
            problems.append(Problem(str(path), line, f"OPD {code}: empty name"))
            continue
        if code in seen:
            problems.append(Problem(str(path), line, f"duplicate OPD code {code!r}"))
            continue
        seen.add(code)
        keywords = table.get("keywords", ())
        if isinstance(keywords, str):
            keywords = split_list(keywords)
        out.append(
            OpdProfile(
                code=code,
                name=name,
                description=str(table.get("description", "")).strip(),
                keywords=tuple(str(k) for k in keywords),
            )
        )
    if problems:
        raise ImportRejected(problems)
    return out


def _table_lines(text: str, name: str) -> list[int]:
    """Line numbers of each ``[[name]]`` header, to point errors at a table."""
    pattern = re.compile(rf"^\s*\[\[\s*{re.escape(name)}\s*\]\]")
    return [i for i, line in enumerate(text.splitlines(), start=1) if pattern.match(line)]


def load_corpus(faq_path: Path, opd_path: Path) -> tuple[list[FaqEntry], list[OpdProfile]]:
    """An FAQ file and the OPD file it refers to (evaluation, benchmarks, ``--faq``)."""
    opds = load_opd_file(opd_path)
    return load_faq_files([faq_path], {o.code for o in opds}), opds
