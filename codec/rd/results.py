"""RD results on disk: one CSV layout for points (a row per point, a column per metric id) and
CompressAI's JSON shape for curves, written and read here for `lstm-codec eval`, the app's
exports and the data set window alike.
"""
from __future__ import annotations

import csv
import io
import math
from typing import Iterable

from codec.quality import registry
from codec.rd.points import RDPoint

FIELDS = ["image", "codec", "setting", "bytes", "bpp", "encode_s", "decode_s"]


def csv_header(metric_ids: Iterable[str]) -> list[str]:
    """The columns: the point's identity and size, its times, then one per metric id."""
    return FIELDS + list(metric_ids)


def csv_row(p: RDPoint, metric_ids: Iterable[str], exact: bool = False) -> list:
    """exact: every digit (a file that is read back, so a resumed run averages the same numbers);
    otherwise each metric at its declared precision (MS-SSIM keeps twelve decimals even so: the
    top iterations of a refined stream can gain as little as 1e-8, and the progressive check
    must be repeatable from the file). A metric the point lacks is an empty cell."""
    def number(value, digits):
        return repr(value) if exact else f"{value:.{digits}f}"
    row = [p.image, p.codec, p.setting, p.num_bytes, number(p.bpp, 5), number(p.encode_seconds, 4),
           number(p.decode_seconds, 4)]
    for k in metric_ids:
        v = p.quality.get(k)
        row.append("" if v is None else number(v, registry.get(k).digits))
    return row


def point_of(row: dict) -> RDPoint:
    """A point from a CSV row (csv.DictReader); metric columns that are empty or not registered
    are left out."""
    setting = float(row["setting"])
    known = set(registry.ids())
    quality = {k: float(v) for k, v in row.items() if k in known and v not in ("", None)}
    return RDPoint(row["codec"], int(setting) if setting.is_integer() else setting, int(row["bytes"]),
                   float(row["bpp"]), quality, image=row["image"], encode_seconds=float(row["encode_s"]),
                   decode_seconds=float(row["decode_s"]) if row.get("decode_s") else math.nan)


def csv_text(points: list[RDPoint], metric_ids: Iterable[str] | None = None, exact: bool = False) -> str:
    """Points as a CSV file's text; the columns of every metric some point has by default."""
    ids = list(metric_ids) if metric_ids is not None else [k for k in registry.ids()
                                                           if any(k in p.quality for p in points)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(csv_header(ids))
    w.writerows(csv_row(p, ids, exact) for p in points)
    return buf.getvalue()


def compressai_json(name: str, description: str, curve: dict) -> dict:
    """CompressAI's results shape: the curve's keys are the metric ids."""
    return {"name": name, "description": description, "results": curve}

