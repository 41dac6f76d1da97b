"""Published RD curves as anchors: the Kodak curves CompressAI reports for its pretrained
models and for VTM, HM, BPG and AV1 (shipped in resources/anchors/, with their source and
how each was measured), or a curve of your own in CompressAI's JSON shape or as CSV.

A published curve is a data set's mean curve, so it is compared only with an evaluation of
the same images: BD-rates across data sets that differ are refused in a sentence.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from codec.base.errors import CodecError
from codec.base.paths import ANCHORS_DIR
from codec.quality.metrics import msssim_db

PREFIX = "published:"  # curve keys: published:vtm, published:my-codec
_ALIASES = {"psnr": "psnr-rgb", "ms-ssim": "ms-ssim-rgb", "ms_ssim": "ms-ssim-rgb", "ms_ssim_rgb": "ms-ssim-rgb",
            "psnr_rgb": "psnr-rgb"}


@dataclass(frozen=True)
class PublishedCurve:
    key: str                  # "published:vtm"
    label: str                # "VTM (VVC intra)"
    dataset: str              # "kodak", or "" when the file names its images only
    curve: dict               # bpp, psnr-rgb, ms-ssim-rgb (CompressAI's keys, RGB)
    images: dict = field(default_factory=dict, compare=False)  # image name -> content key ("" unknown)
    conventions: str = ""     # how bpp and the metrics were measured
    source: str = ""

    def mismatch(self, evaluated: dict[str, str]) -> str | None:
        """Why this curve cannot be compared with an evaluation of `evaluated` (image name ->
        content key), or None when it was measured on the same images."""
        known = {k for k in self.images.values() if k}
        same = (set(evaluated.values()) == known) if known else (set(evaluated) == set(self.images))
        if same and self.images:
            return None
        what = f"the {self.dataset} data set ({len(self.images)} images)" if self.dataset else \
            f"{len(self.images)} images of its own"
        return (f"{self.label} was measured on {what}, not on these {len(evaluated)} images: a BD-rate "
                "across different data sets compares the images, not the codecs, so it is left out.")


def _normalised(results: dict, where: str) -> dict:
    curve = {_ALIASES.get(k, k): list(map(float, v)) for k, v in results.items() if isinstance(v, list)}
    if "bpp" not in curve or not ({"psnr-rgb", "ms-ssim-rgb"} & set(curve)):
        raise CodecError(f"{where} has no bpp with PSNR or MS-SSIM values; give CompressAI's JSON shape "
                         "(results: bpp, psnr-rgb, ms-ssim-rgb) or a CSV with those columns.")
    if len({len(v) for v in curve.values()}) != 1:
        raise CodecError(f"{where}'s columns have different lengths; every point needs each value.")
    if "ms-ssim-rgb" in curve:
        curve["ms-ssim-rgb-db"] = [msssim_db(v) for v in curve["ms-ssim-rgb"]]
    return curve


def shipped() -> list[PublishedCurve]:
    """The curves shipped with lstm-compare, every data set's."""
    out = []
    for index in sorted(ANCHORS_DIR.glob("*/sources.json")):
        meta = json.loads(index.read_text())
        src = meta["source"]
        source = f"{src['repository']}/tree/{src['commit']}/{src['path']} ({src['licence']})"
        for stem, about in meta["curves"].items():
            doc = json.loads((index.parent / f"{stem}.json").read_text())
            out.append(PublishedCurve(PREFIX + stem, about["label"], meta["dataset"],
                                      _normalised(doc["results"], f"{index.parent.name}/{stem}.json"),
                                      meta["images"], about["conventions"], source))
    return out


def load(path) -> PublishedCurve:
    """A curve of your own: CompressAI's JSON shape (name, description, results) with the
    images it was measured on ("images": a list of file names, or "dataset": "kodak"), or a
    CSV with bpp, psnr-rgb and ms-ssim-rgb columns beside a JSON of the same name without
    results."""
    path = Path(path)
    if not path.is_file():
        raise CodecError(f"{path} does not exist; pass a JSON (CompressAI's shape) or CSV file of RD points.")
    try:
        if path.suffix.lower() == ".csv":
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
            results = {k: [r[k] for r in rows] for k in (rows[0] if rows else {})}
            side = path.with_suffix(".json")
            doc = json.loads(side.read_text()) if side.is_file() else {}
        else:
            doc = json.loads(path.read_text())
            results = doc.get("results", {})
    except (OSError, ValueError, KeyError) as e:
        raise CodecError(f"{path} is not a readable RD file ({type(e).__name__}); give CompressAI's JSON "
                         "shape or a CSV with bpp, psnr-rgb and ms-ssim-rgb columns.") from None
    curve = _normalised(results, path.name)
    dataset = str(doc.get("dataset", ""))
    images = {name: "" for name in doc.get("images", [])}
    if not images and dataset:
        ship = next((c for c in shipped() if c.dataset == dataset), None)
        if ship is None:
            raise CodecError(f"{path.name} names the data set {dataset!r}, which lstm-compare does not know; "
                             "list its images instead (\"images\": [\"a.png\", ...]).")
        images = dict(ship.images)
    if not images:
        raise CodecError(f"{path.name} does not say which images it was measured on; add \"images\": "
                         "[file names] or \"dataset\": \"kodak\" to it, so it is compared with the same images only.")
    name = str(doc.get("name") or path.stem)
    return PublishedCurve(PREFIX + path.stem, name, dataset, curve, images,
                          str(doc.get("conventions", doc.get("description", ""))), str(path))


def matching(curves: list[PublishedCurve], evaluated: dict[str, str]) -> tuple[list[PublishedCurve], list[str]]:
    """The curves measured on `evaluated`'s images, and a sentence for each user curve that was
    not (shipped curves of other data sets are left out silently: they were not asked for)."""
    keep, notes = [], []
    for c in curves:
        why = c.mismatch(evaluated)
        if why is None:
            keep.append(c)
        elif not c.source.startswith("https://"):
            notes.append(why)
    return keep, notes
