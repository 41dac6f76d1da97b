"""The quality metrics, one declaration each: every consumer (RD points, curves, BD-rates, caches,
`lstm-codec eval`, the app's plot and readouts, exports) reads this table instead of naming
metrics itself, so a new metric is one registration.

Modelled on pyiqa's declarative table (a name, whether lower is better, a score range) and on
CompressAI's results JSON, whose keys are the metric ids (`psnr-rgb`, `ms-ssim-rgb`): here the id
is also the CSV column, the cache key, the CLI's name (`eval --metrics psnr-rgb,ssimulacra2`) and
the app's setting.

Metrics of your own come through the entry point group `lstm_compare.metrics`: the object is a
function `(original, reconstruction) -> float` on 8-bit RGB arrays of one shape, higher is better
unless the function says otherwise. A function may carry attributes that refine its declaration:
`label`, `higher_is_better`, `version`, `seconds_per_megapixel`. In a package's pyproject.toml:

    [project.entry-points."lstm_compare.metrics"]
    my-psnr = "mypackage.metrics:psnr"

A plugin whose cost is not declared is taken to be slow: it is measured on request, in the
background, like SSIMULACRA2. One that fails to load is left out with its reason (`problems()`).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from typing import Callable, Iterable

import numpy as np

GROUP = "lstm_compare.metrics"
SLOW_SECONDS_PER_MEGAPIXEL = 0.2  # above this a metric waits to be asked for (the app: plotted)
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Metric:
    """One quality metric. `id`: its key in CompressAI's JSON, in CSV columns and on the command
    line; `db`: a transform onto a dB scale (MS-SSIM's -10 log10(1 - x)), giving a second scale
    `id + "-db"` that BD-rates use; `version`: enters every fingerprint of stored values, so a
    changed definition is measured again instead of mixed with the old one."""
    id: str
    label: str
    function: Callable[[np.ndarray, np.ndarray], float]
    higher_is_better: bool = True
    db: Callable[[float], float] | None = None
    seconds_per_megapixel: float = math.inf   # unknown: treated as slow
    version: str = "1"
    digits: int = 4                            # decimals in CSV files
    origin: str = "built-in"

    @property
    def slow(self) -> bool:
        """Measured on request only (in the app: when plotted, in the background)."""
        return self.seconds_per_megapixel > SLOW_SECONDS_PER_MEGAPIXEL

    @property
    def bd_scale(self) -> str:
        """The scale its BD-rates are computed on: the dB one where it has one (as papers quote MS-SSIM)."""
        return self.id + "-db" if self.db else self.id


@dataclass(frozen=True)
class Scale:
    """A quality axis: a metric as measured, or its dB transform."""
    id: str
    label: str
    metric: Metric

    @property
    def higher_is_better(self) -> bool:
        return self.metric.higher_is_better

    def of(self, value: float | None) -> float:
        """A measured value on this scale (NaN when missing)."""
        if value is None:
            return math.nan
        return self.metric.db(value) if self.id != self.metric.id else value


def _lazy(name: str, index: int | None = None):
    """A function of codec/quality/metrics.py, imported when first called: the table is read
    to build command lines, before torch is worth importing."""
    def call(*args):
        from codec.quality import metrics
        value = getattr(metrics, name)(*args)
        return value if index is None else value[index]
    call.__name__ = name
    return call


# The built-ins. Costs measured at Kodak's size (0.39 MP) on the 2-core machine: PSNR 2 ms,
# MS-SSIM and SSIM together 30 ms, SSIMULACRA2 0.3 s.
BUILT_IN = (
    Metric("psnr-rgb", "PSNR (dB)", _lazy("psnr"), seconds_per_megapixel=0.01),
    Metric("ms-ssim-rgb", "MS-SSIM", _lazy("msssim"), db=_lazy("msssim_db"), seconds_per_megapixel=0.08,
           digits=12),
    Metric("ssim-rgb", "SSIM", _lazy("msssim_and_ssim", 1), seconds_per_megapixel=0.08, digits=12),
    Metric("ssimulacra2", "SSIMULACRA2", _lazy("ssimulacra2"), seconds_per_megapixel=0.8),
)
DEFAULT = "ms-ssim-rgb"


def _butteraugli(a, b):
    from codec.quality.butteraugli import butteraugli
    return butteraugli(a, b)


# libjxl's distance through its own tool (codec/quality/butteraugli.py): 0.2 s at Kodak's size
BUTTERAUGLI = Metric("butteraugli", "Butteraugli (distance)", _butteraugli, higher_is_better=False,
                     seconds_per_megapixel=0.6)

# Metrics one pass computes together: asked for at once, they cost one call.
_TOGETHER = {("ms-ssim-rgb", "ssim-rgb"): _lazy("msssim_and_ssim")}

_PROBLEMS: list[str] = []


def problems() -> list[str]:
    """Why each metric plugin that did not load was left out, one sentence each."""
    all_metrics()
    return list(_PROBLEMS)


def _from_entry_point(ep) -> Metric:
    fn = ep.load()
    if not callable(fn):
        raise TypeError(f"{ep.value} is not a function (original, reconstruction) -> float")
    if not _ID.match(ep.name):
        raise ValueError(f"its name {ep.name!r} is not an id (lower-case letters, digits, '-', '_', '.')")
    return Metric(ep.name, str(getattr(fn, "label", ep.name)), fn,
                  higher_is_better=bool(getattr(fn, "higher_is_better", True)),
                  seconds_per_megapixel=float(getattr(fn, "seconds_per_megapixel", math.inf)),
                  version=str(getattr(fn, "version", "1")), digits=int(getattr(fn, "digits", 6)),
                  origin=f"plugin {ep.value}" + (f" ({ep.dist.name})" if getattr(ep, "dist", None) else ""))


def _with_tools() -> list[Metric]:
    """The built-ins, and Butteraugli where libjxl's tool is installed."""
    from codec.quality import butteraugli
    return list(BUILT_IN) + ([BUTTERAUGLI] if butteraugli.available() else [])


@lru_cache(maxsize=1)
def all_metrics() -> tuple[Metric, ...]:
    """The built-ins, then every plugin that loads (a plugin may not take a built-in's id)."""
    out = _with_tools()
    taken = {x.id for x in out} | {x.bd_scale for x in out}
    for ep in metadata.entry_points(group=GROUP):
        try:
            metric = _from_entry_point(ep)
            if metric.id in taken:
                raise ValueError(f"the id {metric.id!r} is taken")
            out.append(metric)
            taken.add(metric.id)
        except Exception as e:  # a plugin's own bug or missing dependency: left out, said why
            _PROBLEMS.append(f"the metric plugin {ep.name!r} ({ep.value}) did not load: {type(e).__name__}: {e}")
    return tuple(out)


def reload() -> None:
    """Find the plugins again (tests; a package installed while running)."""
    all_metrics.cache_clear()
    scales.cache_clear()
    _PROBLEMS.clear()


def ids() -> list[str]:
    return [x.id for x in all_metrics()]


def get(metric_id: str) -> Metric:
    for x in all_metrics():
        if x.id == metric_id:
            return x
    raise KeyError(metric_id)


def fast() -> list[str]:
    """The metrics measured on every point."""
    return [x.id for x in all_metrics() if not x.slow]


@lru_cache(maxsize=1)
def scales() -> dict[str, Scale]:
    """Every quality axis by id: each metric, and beside it its dB scale where it has one."""
    out = {}
    for x in all_metrics():
        out[x.id] = Scale(x.id, x.label, x)
        if x.db:
            out[x.bd_scale] = Scale(x.bd_scale, f"{x.label} (dB)", x)
    return out


def scale(scale_id: str) -> Scale:
    return scales()[scale_id]


def parse(names: str | Iterable[str]) -> list[str]:
    """Metric ids from `--metrics a,b`: each must be registered; refused in a sentence otherwise."""
    wanted = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    known = ids()
    unknown = [n for n in wanted if n not in known]
    if unknown:
        hint = "; ".join(problems())
        raise KeyError(f"no metric named {', '.join(map(repr, unknown))}; the metrics are {', '.join(known)}"
                       + (f" (left out: {hint})" if hint else ""))
    return list(dict.fromkeys(wanted))


def measure(original: np.ndarray, reconstruction: np.ndarray, metric_ids: Iterable[str]) -> dict[str, float]:
    """The values of `metric_ids` for a reconstruction of `original` (8-bit RGB, one shape)."""
    todo, out = list(dict.fromkeys(metric_ids)), {}
    for group, fn in _TOGETHER.items():
        if all(g in todo for g in group):
            out.update(zip(group, fn(original, reconstruction)))
    for metric_id in todo:
        if metric_id not in out:
            out[metric_id] = float(get(metric_id).function(original, reconstruction))
    return {k: out[k] for k in todo}


def versions(metric_ids: Iterable[str] | None = None) -> dict[str, str]:
    """Each metric's version (all registered ones by default): what stored values are checked against."""
    return {x.id: x.version for x in all_metrics() if metric_ids is None or x.id in set(metric_ids)}

