"""Rate-distortion evaluation of the LSTM codec and the classical codecs over a folder.

Writes CompressAI-shaped JSON per codec, a per-image CSV, BD-rates of the LSTM against
each classical codec (bjontegaard package: pchip or Akima, with intervals across the images) and
an RD plot.

Long evaluations (a refined encoder takes hours on Kodak) keep each finished image's rows
in <out>/per_image.partial.csv as they go; `resume=True` (`--resume`) carries on from
there after an interruption, if the codec and settings are the same.
"""
from __future__ import annotations

import csv
import math
import json
from dataclasses import dataclass, field
from pathlib import Path

from codec.base import atomic
from codec.classical import CODECS, get_codec
from codec.lstm.coder import LSTMCodec
from codec.base.errors import CodecError
from codec.imaging.imageio import content_key, find_images, load_rgb
from codec.quality import registry
from codec.rd.bd import DEFAULT_SCALE, bd_rate_interval, bd_rates, overlap
from codec.rd.dataset import image_points
from codec.rd.fingerprint import classical_spec, fingerprint, lstm_spec
from codec.rd.published import matching, shipped
from codec.rd.points import RDPoint, mean_curve
from codec.rd.results import compressai_json, csv_header, csv_row, csv_text, point_of
from codec.rd.verdict import disagreement, sentence, verdicts


@dataclass
class EvalResult:
    points: list[RDPoint] = field(default_factory=list)
    curves: dict = field(default_factory=dict)       # codec key -> mean curve
    bd: dict = field(default_factory=dict)           # codec key -> {BD scale id: %}
    files: list[str] = field(default_factory=list)
    bd_method: str = "pchip"
    intervals: dict = field(default_factory=dict)    # codec key -> MS-SSIM dB BD-rate's 95% interval across images
    published: dict = field(default_factory=dict)    # published curve key -> {"label", "bd", "conventions", "source"}
    notes: list = field(default_factory=list)        # sentences: published curves left out, and why
    overlaps: dict = field(default_factory=dict)     # codec key -> the MS-SSIM dB range both curves span


# the classical codecs of our RD figures and evaluations: every one but JPEG's 4:4:4 variant
FIGURE_CODECS = tuple(k for k in CODECS if k != "jpeg444")


PARTIAL = "per_image.partial.csv"
_DONE = "# done "


def _journal_key(codec: LSTMCodec, classical, iterations, metric_ids) -> str:
    """What a partial evaluation's rows depend on (codec/rd/fingerprint.py): resuming with
    anything else would mix runs."""
    return fingerprint({"lstm": lstm_spec(codec, iterations), "classical": {k: classical_spec(k) for k in classical}},
                       metric_ids)


def _resume_points(path: Path, fingerprint: str, resume: bool) -> list[RDPoint]:
    """Rows of the images an interrupted evaluation finished (none when starting afresh)."""
    if not path.exists():
        return []
    if not resume:
        raise CodecError(f"{path.parent} holds an unfinished evaluation ({path.name}); pass --resume to "
                         f"carry on from it, or delete {path.name} to start over.")
    with open(path, newline="") as f:
        head = f.readline().rstrip("\n")
        if head != "# " + fingerprint:
            raise CodecError(f"the unfinished evaluation in {path.parent} used another model or other "
                             f"settings ({head[2:]}); rerun with those, or delete {path.name} to start over.")
        lines = f.read().splitlines()
    # an image counts once its "# done" line is there: a run killed while appending an
    # image's rows leaves them incomplete, and that image is evaluated again
    done = {line[len(_DONE):] for line in lines if line.startswith(_DONE)}
    rows = csv.DictReader(line for line in lines if not line.startswith("#"))
    return [point_of(row) for row in rows if row.get("image") in done]


def evaluate(image_dir, out_dir, codec: LSTMCodec, classical=FIGURE_CODECS,
             iterations: int | None = None, limit: int | None = None, progress: bool = True,
             plot: bool = True, reuse=None, resume: bool = False, asked: tuple[str, ...] = (),
             client=None, bd_method: str = "pchip", published=()) -> EvalResult:
    """`reuse`: a folder of an earlier evaluation of the same images; the classical curves
    not computed now are taken from its <codec>.json (the classical codecs are
    deterministic), so an LSTM-only re-evaluation still reports every BD-rate and plot.
    `resume`: carry on from the images an interrupted evaluation into `out_dir` finished.
    `asked`: the on-request metrics to measure too (registry ids; SSIMULACRA2 about 0.3 s per
    point at Kodak's size); every fast metric is always measured.
    `client`: a Dask client (codec/rd/cluster.py) that computes every (image, curve) as a task;
    the results are the same, and a curve that fails there is reported while the rest goes on.
    `bd_method`: the BD-rates' interpolation, pchip (JVET's) or akima. `published`: curves of
    your own (codec/rd/published.py) to report BD-rates against, besides the shipped ones of
    the same images (CompressAI's, for Kodak)."""
    paths = find_images(image_dir)[:limit]
    if not paths:
        raise CodecError(f"no images found in {image_dir}; pass a folder of PNG/JPEG files.")
    classical = [b for b in classical if get_codec(b).available()]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    res = EvalResult()
    asked = tuple(k for k in asked if k not in registry.fast())
    metric_ids = [k for k in registry.ids() if k in registry.fast() or k in asked]
    partial = out / PARTIAL
    journal_key = _journal_key(codec, classical, iterations, metric_ids)
    res.points = _resume_points(partial, journal_key, resume)
    done = {q.image for q in res.points}
    todo = [p for p in paths if p.name not in done]
    # (re)start the journal with the finished images only: a cut-off row must not run into
    # the next one appended
    with atomic.atomic_path(partial) as tmp, open(tmp, "w", newline="") as f:
        f.write("# " + journal_key + "\n" + ",".join(csv_header(metric_ids)) + "\n")
        for image in dict.fromkeys(q.image for q in res.points):
            csv.writer(f).writerows(csv_row(q, metric_ids, exact=True) for q in res.points if q.image == image)
            f.write(_DONE + image + "\n")
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(paths), initial=len(paths) - len(todo), unit="image", dynamic_ncols=True)

    def finished(name: str, points: list[RDPoint]) -> None:
        with open(partial, "a", newline="") as f:  # one image's rows at a time, then its done mark
            csv.writer(f).writerows(csv_row(q, metric_ids, exact=True) for q in points)
            f.write(_DONE + name + "\n")
        res.points.extend(points)
        if bar is not None:
            bar.set_postfix_str(name)
            bar.update(1)

    if client is None:
        for p in todo:
            finished(p.name, image_points(load_rgb(p).pixels, p.name, codec, classical, iterations, asked))
    else:
        from codec.rd import cluster
        failures = []
        cluster.run(client, cluster.image_keys(todo), list(classical), codec, iterations, asked,
                    finished, lambda name, key, why: failures.append(f"{name}: {why}"))
        if failures:
            if bar is not None:
                bar.close()
            raise CodecError(f"{len(failures)} of the curves failed ({'; '.join(failures[:3])}"
                             f"{'; ...' if len(failures) > 3 else ''}); every other image's results are kept: "
                             "mend the cause and rerun with --resume to compute only what is missing.")
    if bar is not None:
        bar.close()
    order = {p.name: i for i, p in enumerate(paths)}
    res.points = sorted((q for q in res.points if q.image in order), key=lambda q: order[q.image])

    keys = ["lstm"] + list(classical)
    for k in keys:
        res.curves[k] = mean_curve([q for q in res.points if q.codec == k])
    reused = []
    for k in FIGURE_CODECS:
        path = Path(reuse) / f"{k}.json" if reuse else None
        if k not in res.curves and path is not None and path.exists():
            res.curves[k] = json.loads(path.read_text())["results"]
            reused.append(k)
    model = codec.model
    lstm = [q for q in res.points if q.codec == "lstm"]
    for k in list(classical) + reused:
        res.bd[k] = bd_rates(res.curves[k], res.curves["lstm"], bd_method)
        res.overlaps[k] = overlap(res.curves[k], res.curves["lstm"], DEFAULT_SCALE)
        if k in classical:  # per-image points: an interval across the images
            res.intervals[k] = bd_rate_interval([q for q in res.points if q.codec == k], lstm, bd_method)
    res.bd_method = bd_method
    _against_published(res, paths, [*published, *shipped()], bd_method)
    for k in keys:
        if k == "lstm":
            name, desc = f"LSTM {model.model_id}", model.describe()
        else:
            c = get_codec(k)
            name, desc = c.label, f"{c.library()}, settings {list(c.curve_settings)}"
        path = out / f"{k}.json"
        atomic.write_text(path, json.dumps(compressai_json(name, desc, res.curves[k]), indent=2))
        res.files.append(str(path))
    atomic.write_text(out / "per_image.csv", csv_text(res.points, metric_ids))
    res.files.append(str(out / "per_image.csv"))
    partial.unlink()  # its rows are all in per_image.csv now
    summary = {"images": len(paths), "model": model.describe(), "model_id": model.model_id,
               "bd_rate_percent_vs": res.bd, "bd_interpolation": bd_method,
               f"{DEFAULT_SCALE}_bd_rate_95ci_across_images": res.intervals,
               f"{DEFAULT_SCALE}_overlap": res.overlaps, "bd_rate_percent_vs_published": res.published,
               "published_left_out": res.notes, "curves_reused_from": {k: str(reuse) for k in reused},
               "lstm_mean": {k: res.curves["lstm"][k] for k in ["bpp", *metric_ids]},
               "verdicts": {k: _verdicts_record(res.curves[k], res.curves["lstm"], get_codec(k).label, bd_method)
                            for k in res.bd}}
    atomic.write_text(out / "bd_rate.json", json.dumps(summary, indent=2))
    res.files.append(str(out / "bd_rate.json"))
    if plot:
        from codec.rd.figures import rd_plot
        rd_plot(res.curves, out / "rd.png", title=f"{len(paths)} images from {Path(image_dir).name}")
        res.files.append(str(out / "rd.png"))
    return res


def _against_published(res: EvalResult, paths: list[Path], curves: list, bd_method: str) -> None:
    """BD-rates of the LSTM against the published curves measured on these very images (read
    again only when a curve's image count matches: a large data set is not hashed for nothing)."""
    if not any(len(c.images) == len(paths) for c in curves):
        res.notes += [c.mismatch({p.name: "" for p in paths}) for c in curves if not c.source.startswith("https://")]
        return
    evaluated = {p.name: content_key(load_rgb(p).pixels) for p in paths}
    keep, res.notes = matching(curves, evaluated)
    for c in keep:
        res.published[c.key] = {"label": c.label, "bd": bd_rates(c.curve, res.curves["lstm"], bd_method),
                                "conventions": c.conventions, "source": c.source}


def _verdicts_record(anchor: dict, lstm: dict, label: str, method: str) -> dict:
    """The verdicts against one codec for bd_rate.json: per scale the BD-rate, the range it
    spans and the best quality each curve reaches; and the sentence when they disagree."""
    found = verdicts(anchor, lstm, method)
    return {"scales": {v.scale: {"bd_rate_percent": v.bd, "over": v.span, "lstm_reaches": v.test_top,
                                 "anchor_reaches": v.anchor_top} for v in found},
            "disagreement": disagreement(found, "the LSTM", label)}


def summary_lines(res: EvalResult, trained_for: str = "") -> list[str]:
    lines = []
    c = res.curves["lstm"]
    lines.append("LSTM mean per iteration: " + ", ".join(
        f"{b:.3f} bpp {m:.4f}" for b, m in zip(c["bpp"], c[registry.DEFAULT])))
    if trained_for:
        lines.append(f"The LSTM was trained for {trained_for}; SSIMULACRA2 and PSNR it never saw.")
    for k, v in res.bd.items():
        parts = [f"{registry.scale(m).label} {x:+.1f}%" for m, x in v.items()]
        lo, hi = res.intervals.get(k, (math.nan, math.nan))
        if math.isfinite(lo):
            parts[0] += f" [{lo:+.1f}, {hi:+.1f}]"
        span = res.overlaps.get(k)
        if span:
            parts[0] += f" over {span[0]:.1f}-{span[1]:.1f} dB"
        label = get_codec(k).label
        lines.append(f"BD-rate vs {label}: " + ", ".join(parts))
        found = verdicts(res.curves[k], c, res.bd_method)
        lines += [f"    {sentence(x, 'the LSTM', label)}" for x in found]
        split = disagreement(found, "the LSTM", label)
        if split:
            lines.append(f"    {split}")
    for p in res.published.values():
        lines.append(f"BD-rate vs {p['label']} (published): "
                     + ", ".join(f"{registry.scale(m).label} {x:+.1f}%" for m, x in p["bd"].items()))
    lines.append(f"(BD-rates of the LSTM, {res.bd_method} interpolation; [the MS-SSIM dB BD-rate's 95% interval "
                 "across the images], and the range both curves span; published curves' conventions in bd_rate.json)")
    return lines + [f"note: {n}" for n in res.notes]
