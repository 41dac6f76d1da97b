"""A pairwise-comparison study's answers as a quality scale in JOD, with intervals, observer
checks and BD-rates (the analysis of JPEG AIC-3 and pwcmp, kept small).

The scale
---------
Per image, Thurstone Case V by maximum likelihood: an observer prefers condition i to j with
probability Phi((q_i - q_j) / SIGMA), SIGMA = 1.4826, so that a difference of 1 JOD (just
objectionable difference) is a 75% preference, as pwcmp and AIC-3 define it. There is one
parameter per condition, found by Newton-CG (scipy.optimize) with the analytic gradient and
curvature.

A prior keeps unanimous pairs finite: without one, a pair every observer answered the same way
has its maximum at an infinite difference. Like pwcmp, the prior is on the distances between the
conditions that were compared: q_i - q_j ~ N(0, PRIOR_SD^2) for every compared pair, PRIOR_SD =
3 JOD. It is weak where the answers carry information (a pair answered 20 times at 1 JOD
apart weighs about 25 times more than the prior) and only bounds what the answers cannot
(a unanimous pair); it does not grow with the number of answers, so it fades as they grow.

The gauge: a Thurstone scale has no zero of its own. Each image's values are reported relative
to its reference, the lowest-bpp condition of the anchor codec (see BD-rates below) on that
image, or of the first codec alphabetically where the anchor was not shown; the reference is
0 JOD, and its interval is [0, 0]. A condition the compared pairs do not connect to the
reference has no place on its scale: its values are NaN, with a warning.

The pooled rows (image `all`) average each codec's per-image curves at the rank of a condition
within the codec: the codec's lowest bitrate on every image, its second lowest, and so on (the
mean JOD and mean bpp of the images that have that rank). The conditions' bitrates differ from
image to image, so there is no common condition to scale jointly; the per-image curves all
start from the same reference, so their mean is a mean of comparable numbers.

Intervals: 95% percentile intervals of a bootstrap over observers (the observers are drawn
with replacement, all of one observer's answers together, the same draw for every image and
the pooled rows), `bootstrap` resamples (500 by default, 0 for none), with a fixed seed so
that a rerun gives the same numbers. A pair every observer answered the same way is answered
the same way in every resample too: its interval shrinks to a point, and its distance is the
prior's; read it as "at least about that far apart", and show such pairs closer conditions.

Observers: each observer's check trials (codec.study.responses): the share of trap trials
answered wrong and the share of `a` answers on same trials (side bias; about 0.5 is unbiased).
An observer *fails* when more than a quarter of their trap trials are wrong (a quarter
allows a slip or two; an observer answering at random gets half wrong). Failing observers
are reported, not left out: `exclude` leaves observers out, the user's decision. Fewer than
15 observers (ITU-T P.910's minimum) gives a warning: intervals from fewer than about 20
observers are wide.

BD-rates on the JOD scale: for each image and for `all`, the BD-rate (%) of each codec against
the anchor codec (`anchor`; default jpeg when shown, else the first codec alphabetically), with
pchip interpolation (codec/rd/bd.py, the `bjontegaard` package), over the JOD range both curves span. BD
integration needs curves rising strictly in quality, so points that do not rise above the one
before are dropped; NaN where the curves do not overlap in JOD.

What `write` makes: scale.csv (image,condition,jod,ci_low,ci_high; an empty field for NaN),
scale.json (the rows with codec, bpp and rank, the observer checks, BD-rates, warnings and
settings; null for NaN) and scale.png (JOD against bpp per codec, error bars for the
intervals, a panel per image and one for `all`).
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import optimize, special

from codec.base import atomic
from codec.rd.bd import bd_rate as rd_bd_rate
from codec.study.responses import Responses, StudyError, parse_condition

SIGMA = 1.4826  # Phi(1 / SIGMA) = 0.75: 1 JOD is a 75% preference
PRIOR_SD = 3.0  # JOD; the prior on each compared pair's difference
PRIOR_PRECISION = (SIGMA / PRIOR_SD) ** 2  # the prior in units of d = (q_i - q_j) / SIGMA
LEVEL = 0.95
TRAP_FAIL_SHARE = 0.25  # an observer fails with more than this share of trap trials wrong
MIN_OBSERVERS = 15  # ITU-T P.910's minimum number of observers
POOLED = "all"
DEFAULT_ANCHOR = "jpeg"
FILES = ("scale.csv", "scale.json", "scale.png")


@dataclass(frozen=True)
class ScaleRow:
    """One condition's place on the scale. `rank`: the condition's place among its codec's
    conditions on the image, lowest bpp 0; for `all`, `images` is how many were averaged."""
    image: str
    condition: str
    codec: str
    bpp: float
    rank: int
    jod: float
    ci_low: float
    ci_high: float
    images: int = 1


@dataclass
class ObserverCheck:
    """One observer's answers and check trials."""
    observer: str
    answers: int  # pair trials answered
    traps: int
    traps_wrong: int
    same: int
    same_a: int
    excluded: bool = False

    @property
    def trap_wrong_share(self) -> float | None:
        return self.traps_wrong / self.traps if self.traps else None

    @property
    def same_a_share(self) -> float | None:
        return self.same_a / self.same if self.same else None

    @property
    def failed(self) -> bool:
        """More than a quarter of the trap trials wrong (no trap trials: not failed)."""
        return bool(self.traps) and self.traps_wrong > TRAP_FAIL_SHARE * self.traps

    def to_dict(self) -> dict:
        return {**asdict(self), "trap_wrong_share": self.trap_wrong_share, "same_a_share": self.same_a_share,
                "failed": self.failed}


@dataclass
class StudyScale:
    """The result of `analyse`: the scale's rows (per image, then `all`), the observer checks,
    BD-rates by image (and `all`) and codec, the anchor, warnings (sentences) and settings."""
    images: list[str]
    rows: list[ScaleRow]
    observers: list[ObserverCheck]
    bd_rates: dict[str, dict[str, float]]
    anchor: str
    warnings: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def rows_of(self, image: str) -> list[ScaleRow]:
        return [r for r in self.rows if r.image == image]

    def failed_observers(self) -> list[str]:
        """The observers who failed their trap trials and are not excluded yet."""
        return [o.observer for o in self.observers if o.failed and not o.excluded]

    def to_dict(self) -> dict:
        return _no_nan({"rows": [asdict(r) for r in self.rows], "observers": [o.to_dict() for o in self.observers],
                        "bd_rate_percent": self.bd_rates, "anchor": self.anchor, "images": self.images,
                        "warnings": self.warnings, "settings": self.settings})


# ---------------------------------------------------------------------------- the analysis

def analyse(responses: Responses, exclude=(), bootstrap: int = 500, seed: int = 0,
            anchor: str | None = None) -> StudyScale:
    """The JOD scale of a study's answers (method: this module's docstring); `exclude`: observer
    ids to leave out; `bootstrap`: resamples for the 95% intervals (0: none); `anchor`: the codec
    the gauge and the BD-rates refer to. StudyError for what cannot be analysed as asked."""
    if bootstrap < 0:
        raise StudyError(f"The number of bootstrap resamples must be 0 or more, not {bootstrap}.")
    excluded = _checked_exclusions(responses, exclude)
    pairs = [r for r in responses.pairs if r.observer not in excluded]
    if not pairs:
        raise StudyError("No pair trials are left to scale (only check trials, or every observer excluded); "
                         "give the files with the study's answers or exclude fewer observers.")
    observers = sorted({r.observer for r in pairs})
    codecs = sorted({parse_condition(c)[0] for r in pairs for c in (r.a, r.b)})
    anchor = _anchor(anchor, codecs)
    notes = [] if len(observers) >= MIN_OBSERVERS else [
        f"Only {len(observers)} observer{'s' if len(observers) != 1 else ''} answered the pair trials, fewer than the "
        f"{MIN_OBSERVERS} ITU-T P.910 asks for, so the intervals are wide (they narrow with about 20 or more)."]

    rng = np.random.default_rng(seed)
    draws = rng.multinomial(len(observers), np.full(len(observers), 1 / len(observers)), size=bootstrap)
    rows, bd, per_image = [], {}, {}
    for image in sorted({r.image for r in pairs}):
        design = _Design.of(image, [r for r in pairs if r.image == image], observers, anchor)
        estimate, samples = design.scale(draws)
        if not design.connected.all():
            loose = [c for c, ok in zip(design.conditions, design.connected) if not ok]
            notes.append(f"On image {image} the compared pairs do not connect {', '.join(loose)} to "
                         f"{design.conditions[design.reference]}, so they have no value on its scale (NaN); "
                         "add trials comparing them with the other conditions.")
        per_image[image] = (design, estimate, samples)
        rows += _rows(image, design.conditions, design.ranks, estimate, samples)
        bd[image] = _bd_rates(rows[-len(design.conditions):], anchor)
    pooled = _pooled_rows(per_image, bootstrap)
    bd[POOLED] = _bd_rates(pooled, anchor)
    settings = {"sigma": SIGMA, "prior_sd": PRIOR_SD, "level": LEVEL, "bootstrap": bootstrap, "seed": seed,
                "excluded": sorted(excluded), "observers": len(observers), "trap_fail_share": TRAP_FAIL_SHARE,
                "study": responses.study, "files": list(responses.files),
                "gauge": f"0 JOD: each image's lowest-bpp {anchor} condition (else its first codec's lowest)",
                "pooled": "mean of each codec's per-image JOD and bpp at each rank of bpp within the codec"}
    return StudyScale(images=sorted(per_image), rows=rows + pooled, observers=observer_checks(responses, excluded),
                      bd_rates=bd, anchor=anchor, warnings=notes, settings=settings)


def observer_checks(responses: Responses, excluded=()) -> list[ObserverCheck]:
    """Every observer's answers and check results, excluded ones too (marked so)."""
    checks = {o: ObserverCheck(o, 0, 0, 0, 0, 0, o in excluded) for o in responses.observers()}
    for r in responses.pairs:
        checks[r.observer].answers += 1
    for r in responses.checks:
        c = checks[r.observer]
        if r.kind == "trap":
            c.traps, c.traps_wrong = c.traps + 1, c.traps_wrong + r.wrong
        else:
            c.same, c.same_a = c.same + 1, c.same_a + (r.chosen == "a")
    return list(checks.values())


def _checked_exclusions(responses: Responses, exclude) -> set[str]:
    known = set(responses.observers())
    unknown = [o for o in exclude if o not in known]
    if unknown:
        raise StudyError(f"No answers come from the observer{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                         f"to exclude; the observers are {', '.join(sorted(known))}.")
    return set(exclude)


def _anchor(anchor: str | None, codecs: list[str]) -> str:
    if anchor is None:
        return DEFAULT_ANCHOR if DEFAULT_ANCHOR in codecs else codecs[0]
    if anchor not in codecs:
        raise StudyError(f"The anchor codec {anchor!r} has no conditions in the study; choose one of "
                         f"{', '.join(codecs)}.")
    return anchor


@dataclass
class _Design:
    """One image's comparisons: its conditions (sorted by codec, then bpp), the compared pairs
    (i < j), and per observer how often each pair went to i (`wins`) and to j (`losses`)."""
    conditions: list[str]
    ranks: list[int]
    first: np.ndarray  # i of each compared pair
    second: np.ndarray  # j
    wins: np.ndarray  # (observers, pairs): i preferred
    losses: np.ndarray  # (observers, pairs): j preferred
    reference: int
    connected: np.ndarray  # (conditions,) bool: joined to the reference by compared pairs

    @classmethod
    def of(cls, image: str, rows: list, observers: list[str], anchor: str) -> "_Design":
        parsed = {c: parse_condition(c) for r in rows for c in (r.a, r.b)}
        conditions = sorted(parsed, key=lambda c: parsed[c])
        index = {c: i for i, c in enumerate(conditions)}
        ranks = [sum(parsed[o][0] == parsed[c][0] for o in conditions[:i]) for i, c in enumerate(conditions)]
        keys = sorted({tuple(sorted((index[r.a], index[r.b]))) for r in rows})
        pair, who = {k: p for p, k in enumerate(keys)}, {o: n for n, o in enumerate(observers)}
        wins, losses = np.zeros((len(observers), len(keys))), np.zeros((len(observers), len(keys)))
        for r in rows:
            i, j = index[r.winner], index[r.loser]
            (wins if i < j else losses)[who[r.observer], pair[min(i, j), max(i, j)]] += 1
        codecs = [parsed[c][0] for c in conditions]
        reference = codecs.index(anchor) if anchor in codecs else 0  # sorted: the codec's lowest bpp
        first, second = np.array([k[0] for k in keys]), np.array([k[1] for k in keys])
        return cls(conditions, ranks, first, second, wins, losses, reference,
                   _reachable(len(conditions), first, second, reference))

    def scale(self, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The scale of all the answers, and one per bootstrap draw (rows: how often each
        observer is drawn), relative to the reference; NaN where not connected to it."""
        q = _fit(len(self.conditions), self.first, self.second, self.wins.sum(0), self.losses.sum(0))
        samples = np.array([_fit(len(self.conditions), self.first, self.second, d @ self.wins, d @ self.losses, q)
                            for d in draws]).reshape(len(draws), len(self.conditions))
        estimate, samples = q - q[self.reference], samples - samples[:, [self.reference]]
        estimate[~self.connected], samples[:, ~self.connected] = np.nan, np.nan
        return estimate, samples


def _reachable(n: int, first: np.ndarray, second: np.ndarray, start: int) -> np.ndarray:
    """Which of n conditions the compared pairs join to `start`."""
    neighbours = defaultdict(set)
    for i, j in zip(first.tolist(), second.tolist()):
        neighbours[i].add(j), neighbours[j].add(i)
    seen, todo = {start}, [start]
    while todo:
        for k in neighbours[todo.pop()] - seen:
            seen.add(k), todo.append(k)
    return np.isin(np.arange(n), list(seen))


def _fit(n: int, first: np.ndarray, second: np.ndarray, wins: np.ndarray, losses: np.ndarray,
         start: np.ndarray | None = None) -> np.ndarray:
    """The maximum a-posteriori Thurstone Case V scale (JOD) of n conditions, given how often
    each compared pair (first[p], second[p]) went to its first (`wins`) and second condition.

    The objective is convex (log Phi is concave, the prior quadratic), so Newton's method with
    the exact curvature (Newton-CG: analytic gradient and Hessian-vector products) needs about
    ten steps. (L-BFGS-B needs more, and scipy's runs BLAS threads that made it ten times
    slower on a loaded two-core machine.)"""
    def terms(q):
        d = (q[first] - q[second]) / SIGMA
        log_win, log_loss = special.log_ndtr(d), special.log_ndtr(-d)
        log_density = -0.5 * d * d - 0.5 * math.log(2 * math.pi)
        # phi/Phi taken in logs, so that far-apart (unanimous) pairs stay exact
        return d, log_win, log_loss, np.exp(log_density - log_win), np.exp(log_density - log_loss)

    def spread(per_pair):  # d/dq of a sum over pairs of f(q_first - q_second)
        return np.bincount(first, per_pair, n) - np.bincount(second, per_pair, n)

    def objective(q):
        d, log_win, log_loss, mills_win, mills_loss = terms(q)
        value = -(wins @ log_win + losses @ log_loss) + (d @ d) * PRIOR_PRECISION / 2
        slope = -wins * mills_win + losses * mills_loss + d * PRIOR_PRECISION
        return value, spread(slope / SIGMA)

    def curvature_times(q, v):
        d, _, _, mills_win, mills_loss = terms(q)
        # d2/dd2 of -log Phi(d) is r(d) (d + r(d)), r = phi/Phi; of -log Phi(-d): r(-d) (r(-d) - d)
        curve = wins * mills_win * (d + mills_win) + losses * mills_loss * (mills_loss - d) + PRIOR_PRECISION
        return spread(curve * (v[first] - v[second]) / SIGMA ** 2)

    q0 = np.zeros(n) if start is None else start
    return optimize.minimize(objective, q0, jac=True, hessp=curvature_times, method="Newton-CG").x


def _interval(samples: np.ndarray) -> tuple[float, float]:
    if not len(samples) or not np.isfinite(samples).all():
        return math.nan, math.nan
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def _rows(image: str, conditions: list[str], ranks: list[int], estimate: np.ndarray,
          samples: np.ndarray) -> list[ScaleRow]:
    out = []
    for k, condition in enumerate(conditions):
        codec, bpp = parse_condition(condition)
        out.append(ScaleRow(image, condition, codec, bpp, ranks[k], float(estimate[k]), *_interval(samples[:, k])))
    return out


def _pooled_rows(per_image: dict, bootstrap: int) -> list[ScaleRow]:
    """Image `all`: each codec's curves averaged over the images at each rank of bpp."""
    groups = defaultdict(list)  # (codec, rank) -> [(bpp, estimate, samples)]
    for design, estimate, samples in per_image.values():
        for k, condition in enumerate(design.conditions):
            codec, bpp = parse_condition(condition)
            if np.isfinite(estimate[k]):
                groups[codec, design.ranks[k]].append((bpp, estimate[k], samples[:, k]))
    out = []
    for (codec, rank), members in sorted(groups.items()):
        bpp = float(np.mean([m[0] for m in members]))
        samples = np.mean([m[2] for m in members], axis=0) if bootstrap else np.empty(0)
        out.append(ScaleRow(POOLED, f"{codec}@{bpp:.4f}", codec, bpp, rank, float(np.mean([m[1] for m in members])),
                            *_interval(samples), images=len(members)))
    return out


def _bd_rates(rows: list[ScaleRow], anchor: str) -> dict[str, float]:
    """BD-rate (%) of each codec's JOD curve against the anchor's (negative: fewer bits)."""
    curves = defaultdict(list)
    for r in rows:
        curves[r.codec].append((r.bpp, r.jod))
    if anchor not in curves:
        return {}
    return {codec: bd_rate(curves[anchor], curve) for codec, curve in sorted(curves.items()) if codec != anchor}


def bd_rate(anchor: list[tuple[float, float]], test: list[tuple[float, float]]) -> float:
    """The pchip BD-rate (%) of `test` against `anchor`, curves of (bpp, JOD) points, as every
    BD-rate here is computed (codec/rd/bd.py); NaN when they do not overlap in JOD."""
    def curve(points):
        points = [(b, q) for b, q in sorted(points) if math.isfinite(q)]
        return {"bpp": [b for b, _ in points], "jod": [q for _, q in points]}
    return rd_bd_rate(curve(anchor), curve(test), "jod")


# ---------------------------------------------------------------------------- the files

def check_out_dir(out_dir, force: bool = False) -> Path:
    """out_dir as a Path, or StudyError where `write` would overwrite results (without `force`)
    or where it is a file: the user's files are never overwritten without asking."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise StudyError(f"The output {out} is a file, not a folder; choose a folder for the results.")
    there = [name for name in FILES if (out / name).exists()]
    if there and not force:
        raise StudyError(f"The folder {out} already holds {there[0]}; choose another folder or pass --force "
                         "to overwrite it.")
    return out


def write(scale: StudyScale, out_dir, force: bool = False) -> list[Path]:
    """scale.csv, scale.json and scale.png in out_dir (made if missing); StudyError rather than
    overwrite one of them unless `force`. Returns the paths written."""
    out = check_out_dir(out_dir, force)
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(out / "scale.csv", scale_csv(scale))
    atomic.write_text(out / "scale.json", json.dumps(scale.to_dict(), indent=2) + "\n")
    with atomic.atomic_path(out / "scale.png") as tmp:
        figure(scale).savefig(tmp, dpi=110)
    return [out / name for name in FILES]


def scale_csv(scale: StudyScale) -> str:
    """scale.csv's text: image,condition,jod,ci_low,ci_high, an empty field for NaN."""
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(["image", "condition", "jod", "ci_low", "ci_high"])
    for r in scale.rows:
        w.writerow([r.image, r.condition, *("" if math.isnan(v) else f"{v:.4f}" for v in (r.jod, r.ci_low, r.ci_high))])
    return text.getvalue()


def figure(scale: StudyScale):
    """JOD against bpp per codec, the intervals as error bars: a panel per image and `all`
    (a matplotlib Figure on the Agg canvas; pyplot and its global backend stay untouched)."""
    from matplotlib.figure import Figure
    panels = scale.images + [POOLED]
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig = Figure(figsize=(4.2 * columns, 3.4 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    codecs = sorted({r.codec for r in scale.rows})
    for ax, image in zip(axes, panels):
        for n, codec in enumerate(codecs):
            mine = sorted((r for r in scale.rows_of(image) if r.codec == codec), key=lambda r: r.bpp)
            if not mine:
                continue
            jod = np.array([r.jod for r in mine])
            low = np.nan_to_num(jod - np.array([r.ci_low for r in mine])).clip(0)
            high = np.nan_to_num(np.array([r.ci_high for r in mine]) - jod).clip(0)
            ax.errorbar([r.bpp for r in mine], jod, yerr=[low, high], marker="o", ms=3, capsize=2,
                        color=f"C{n}", label=codec)
        ax.set_title("all images (mean by rank)" if image == POOLED else image, fontsize=9)
        ax.set_xlabel("bpp"), ax.set_ylabel(f"JOD (0: lowest {scale.anchor})"), ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return fig


def _no_nan(value):
    """JSON has no NaN: null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    return value
