"""Reading the answers of a pairwise-comparison study (JPEG AIC-3 / pwcmp style).

The responses file
------------------
A UTF-8 CSV file (a byte-order mark, as spreadsheet programs write, is allowed). Its first line
that is not a comment is a header naming at least the columns

    observer,image,a,b,chosen

in any order; other columns (trial, kind, seconds, ...) are allowed and ignored. Each further
line is one answer: `observer` (who answered) and `image` (the source image) are non-empty
names; `a` and `b` are the two candidates shown, each a condition `CODEC@BPP` (`lstm@0.175`,
`jpeg@0.180`: CODEC of the characters `A-Za-z0-9_.:+-`, BPP a non-negative decimal number) or the
literal `original`; `chosen` is `a` or `b`, the side the observer preferred (forced choice: there
are no ties). Blank lines are skipped. Lines starting with `#` are comments, except that a first
line `# lstm-compare study <ID>` names the study the file belongs to, so that the answers of two
different studies are never pooled by mistake.

Two spellings of one condition (`jpeg@0.18`, `jpeg@0.180`) are one condition, named as first
written.

Check trials
------------
Two kinds of rows are checks on the observer and never enter the scale:

- *same* trials, `a == b`: two identical candidates, so an answer is a coin flip; an observer's
  share of `a` answers there shows a side bias (about 0.5 is unbiased);
- *trap* trials, one side `original` and the other a strongly degraded candidate: the right
  answer is the side that is `original`; an observer's share of wrong answers shows inattention.

Every other row is a *pair* row, comparing two conditions of one image.

Reading changes nothing on disk; a damaged or wrongly edited file is refused with one sentence
naming the file and line, what is wrong there and what to do (`StudyError`).
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from codec.base.errors import CodecError

REQUIRED_COLUMNS = ("observer", "image", "a", "b", "chosen")
ORIGINAL = "original"  # the literal condition of a trap trial's correct side
STUDY_LINE = re.compile(r"#\s*lstm-compare\s+study\s+(\S.*?)\s*$")
_CODEC = re.compile(r"[A-Za-z0-9_.:+-]+")
_BPP = re.compile(r"(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_BOM = b"\xef\xbb\xbf"


class StudyError(CodecError):
    """A responses file that cannot be read, or a study that cannot be analysed as asked."""


def parse_condition(text: str) -> tuple[str, float]:
    """`"lstm@0.175"` -> `("lstm", 0.175)`; ValueError for anything that is not `CODEC@BPP`."""
    codec, at, bpp = text.strip().rpartition("@")
    if not at or not _CODEC.fullmatch(codec) or not _BPP.fullmatch(bpp) or not math.isfinite(float(bpp)):
        raise ValueError(f"{text!r} is not a condition CODEC@BPP (such as jpeg@0.180)")
    return codec, float(bpp)


@dataclass(frozen=True)
class Response:
    """One answer: `chosen` is "a" or "b"; `source` and `line` say where it was read."""
    observer: str
    image: str
    a: str
    b: str
    chosen: str
    source: str
    line: int

    @property
    def kind(self) -> str:
        """"same" (identical candidates), "trap" (one side is the original) or "pair"."""
        if self.a == self.b:
            return "same"
        return "trap" if ORIGINAL in (self.a, self.b) else "pair"

    @property
    def winner(self) -> str:
        return self.a if self.chosen == "a" else self.b

    @property
    def loser(self) -> str:
        return self.b if self.chosen == "a" else self.a

    @property
    def wrong(self) -> bool:
        """A trap trial answered against the original (False for other kinds)."""
        return self.kind == "trap" and self.winner != ORIGINAL


@dataclass
class Responses:
    """The answers of one study: the pair rows (the scale's data) and the check rows."""
    pairs: list[Response] = field(default_factory=list)
    checks: list[Response] = field(default_factory=list)
    study: str | None = None  # the ID of `# lstm-compare study <ID>`, when a file names one
    files: list[str] = field(default_factory=list)

    def observers(self) -> list[str]:
        return sorted({r.observer for r in self.pairs + self.checks})

    def images(self) -> list[str]:
        return sorted({r.image for r in self.pairs})


def read_responses(paths: Iterable) -> Responses:
    """The answers in one or more responses files (format: this module's docstring), pooled;
    StudyError for a file that is damaged, edited wrongly, or from another study."""
    out = Responses()
    names: dict[tuple[str, float], str] = {}  # a condition's first spelling
    first_study: tuple[str, str] | None = None  # (study ID, file naming it)
    seen: set[Path] = set()
    for path in map(Path, paths):
        if path.resolve() in seen:
            raise StudyError(f"The responses file {path} is given twice; give each file once.")
        seen.add(path.resolve())
        study, rows = _read_file(path, names)
        if study is not None:
            if first_study is None:
                first_study = (study, str(path))
            elif study != first_study[0]:
                raise StudyError(f"Line 1 of {path} names the study {study!r}, but {first_study[1]} is from the "
                                 f"study {first_study[0]!r}; analyse each study's files on their own.")
        out.files.append(str(path))
        for r in rows:
            (out.pairs if r.kind == "pair" else out.checks).append(r)
    if not out.files:
        raise StudyError("No responses file was given; name one or more CSV files of answers.")
    out.study = first_study[0] if first_study else None
    return out


def _read_file(path: Path, names: dict) -> tuple[str | None, list[Response]]:
    """The study ID a file names (or None) and its answers."""
    lines = _text_lines(path)
    study = None
    if lines and (m := STUDY_LINE.match(lines[0].strip())):
        study = m.group(1)
    header, columns, rows = None, {}, []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in next(csv.reader([line]))]
        if header is None:
            header, columns = fields, _columns(path, number, fields)
            continue
        if len(fields) != len(header):
            raise StudyError(f"Line {number} of {path} has {len(fields)} fields where the header names "
                             f"{len(header)}; check it for a missing or extra comma, or remove the line.")
        rows.append(_response(path, number, {k: fields[i] for k, i in columns.items()}, names))
    if header is None:
        raise StudyError(f"Line 1 of {path}: the file is empty, with no header line; give a responses file whose "
                         f"first line that is not a comment names the columns {','.join(REQUIRED_COLUMNS)}.")
    return study, rows


def _text_lines(path: Path) -> list[str]:
    """The file's lines as text, or a sentence saying why it cannot be read."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise StudyError(f"The responses file {path} is a folder; name the CSV files inside it.") from None
    except FileNotFoundError:
        raise StudyError(f"The responses file {path} does not exist; check its name.") from None
    except OSError as e:
        raise StudyError(f"The responses file {path} could not be read ({e.strerror or e}); "
                         "check its permissions.") from None
    data = data[len(_BOM):] if data.startswith(_BOM) else data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise StudyError(f"Line {line} of {path} has bytes that are not UTF-8 text; save the file as UTF-8 "
                         "(in a spreadsheet: CSV UTF-8) and try again.") from None
    return [line.rstrip("\r") for line in text.split("\n")]


def _columns(path: Path, number: int, header: list[str]) -> dict[str, int]:
    """Where each required column is in the header."""
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise StudyError(f"Line {number} of {path} is the header but lacks the column{'s' if len(missing) > 1 else ''} "
                         f"{','.join(missing)}; the header must name the columns {','.join(REQUIRED_COLUMNS)}.")
    return {c: header.index(c) for c in REQUIRED_COLUMNS}


def _response(path: Path, number: int, row: dict[str, str], names: dict) -> Response:
    where = f"Line {number} of {path}"
    for column in ("observer", "image"):
        if not row[column]:
            raise StudyError(f"{where} has an empty {column}; fill it in or remove the line.")
    chosen = row["chosen"].lower()
    if chosen not in ("a", "b"):
        raise StudyError(f"{where} has chosen {row['chosen']!r} where it must be a or b (the side preferred); "
                         "correct it or remove the line.")
    a, b = (_condition(where, column, row[column], names) for column in ("a", "b"))
    return Response(row["observer"], row["image"], a, b, chosen, str(path), number)


def _condition(where: str, column: str, text: str, names: dict) -> str:
    """A condition as first spelled, or `original`."""
    if text == ORIGINAL:
        return text
    try:
        key = parse_condition(text)
    except ValueError:
        raise StudyError(f"{where} has {column} {text!r} where it must be a condition CODEC@BPP (such as "
                         f"jpeg@0.180) or {ORIGINAL}; correct it or remove the line.") from None
    return names.setdefault(key, text)
