"""A study is a folder that can be copied to another machine and merged back:

    DIR/manifest.json           the study: its id, images, conditions, pairs, check rate, flicker
    DIR/stimuli/IMAGE/*.png     the original crop and every condition, lossless
    DIR/responses/OBSERVER.csv  one file per observer, one line per answer, appended as given

A responses file starts with `# lstm-compare study ID` and the header
`observer,image,a,b,chosen,trial,kind,flicker,seconds` (codec/study/responses.py reads the first
five, the format data from elsewhere may use too). Each answer is one line written with a single
append and flushed to disk before the next trial appears, so a killed session loses nothing
answered, and reopening continues at the first trial not on disk.
"""
from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from codec.base import atomic
from codec.base.errors import CodecError

MANIFEST = "manifest.json"
HEADER = "observer,image,a,b,chosen,trial,kind,flicker,seconds"
_OBSERVER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class StudyFolderError(CodecError):
    pass


@dataclass(frozen=True)
class Condition:
    """One stimulus: a codec at a rate on one image. `name` is `CODEC@BPP` (bpp of the real file
    bytes on the study's crop, three decimals), as the responses and the analysis name it."""
    image: str
    codec: str
    bpp: float
    setting: float
    file: str          # relative to the study folder

    @property
    def name(self) -> str:
        return f"{self.codec}@{self.bpp:.3f}"


@dataclass
class Study:
    """The manifest. `pairs`: (image, condition name, condition name) compared by every observer;
    `check_every`: a check trial after every so many trials, alternating two identical candidates
    and the original against the trap (a strongly degraded copy); `flicker_hz` and `flicker_zoom`:
    the optional flicker mode (AIC-3's boosted comparison: 10 Hz, 100 ms a phase, zoom x2)."""
    id: str
    images: dict[str, dict]                   # image -> {"source", "crop": [y, x, h, w], "original", "trap"}
    conditions: list[Condition]
    pairs: list[tuple[str, str, str]]
    check_every: int = 10
    flicker_hz: float = 10.0
    flicker_zoom: int = 2
    question: str = "Which is closer to the original?"
    notes: list[str] = field(default_factory=list)
    folder: Path | None = None

    def condition(self, image: str, name: str) -> Condition:
        for c in self.conditions:
            if c.image == image and c.name == name:
                return c
        raise KeyError(f"{image}: {name}")

    def path(self, relative: str) -> Path:
        return self.folder / relative

    # -- on disk ---------------------------------------------------------------------
    def save(self) -> None:
        doc = {"study": self.id, "format": 1, "question": self.question, "images": self.images,
               "conditions": [asdict(c) for c in self.conditions], "pairs": [list(p) for p in self.pairs],
               "check_every": self.check_every, "flicker_hz": self.flicker_hz, "flicker_zoom": self.flicker_zoom,
               "notes": self.notes}
        atomic.write_text(self.folder / MANIFEST, json.dumps(doc, indent=1))

    @classmethod
    def open(cls, folder) -> "Study":
        folder = Path(folder)
        path = folder / MANIFEST
        if not path.is_file():
            raise StudyFolderError(f"{folder} is not a study folder (it has no {MANIFEST}); create a study "
                                   "with Study > New study… first.")
        try:
            doc = json.loads(path.read_text())
            study = cls(doc["study"], doc["images"], [Condition(**c) for c in doc["conditions"]],
                        [tuple(p) for p in doc["pairs"]], doc.get("check_every", 10), doc.get("flicker_hz", 10.0),
                        doc.get("flicker_zoom", 2), doc.get("question", cls.question), doc.get("notes", []), folder)
        except (ValueError, KeyError, TypeError) as e:
            raise StudyFolderError(f"{path} is damaged ({type(e).__name__}: {e}); copy the study folder again "
                                   "from where it was made.") from None
        missing = [c.file for c in study.conditions if not (folder / c.file).is_file()]
        if missing:
            raise StudyFolderError(f"{folder} lacks {len(missing)} of its stimuli (first: {missing[0]}); copy the "
                                   "whole study folder again.")
        return study

    # -- observers -------------------------------------------------------------------
    def responses_path(self, observer: str) -> Path:
        return self.folder / "responses" / f"{observer}.csv"

    def observers(self) -> list[str]:
        return sorted(p.stem for p in (self.folder / "responses").glob("*.csv"))


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def check_observer(name: str) -> str:
    """An observer's name as a file name: letters, digits, '.', '_', '-'."""
    if not _OBSERVER.match(name or ""):
        raise StudyFolderError(f"{name!r} cannot name an observer; use letters, digits, '.', '_' or '-' "
                               "(up to 64), e.g. 'anna' or 'obs-07'.")
    return name


def answered(study: Study, observer: str) -> int:
    """How many trials `observer` has answered (lines on disk after the header)."""
    path = study.responses_path(observer)
    if not path.exists():
        return 0
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    return max(0, len(lines) - 1)


def append_answer(study: Study, observer: str, row: list) -> None:
    """Append one answer line (the header first, in a new file) with one write and flush it to
    disk: the answer is on disk before the next trial appears."""
    path = study.responses_path(observer)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = ""
    if not path.exists() or path.stat().st_size == 0:
        text = f"# lstm-compare study {study.id}\n{HEADER}\n"
    text += ",".join(str(v) for v in row) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
