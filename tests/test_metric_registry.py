"""The metric registry (codec/quality/registry.py): the built-ins' declarations, plugins through
the `lstm_compare.metrics` entry point group (a real installed distribution, run through the
CLI), lower-is-better BD-rates, and cached curves measured on a newly asked metric alone."""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from codec.quality import metrics, registry

from conftest import METRIC_PACKAGE as PACKAGE


def _images(folder: Path, sample_pixels, n=2, size=(48, 64)) -> Path:
    folder.mkdir()
    h, w = size
    for i in range(n):
        Image.fromarray(np.ascontiguousarray(sample_pixels[50 * i:50 * i + h, 30 * i:30 * i + w])).save(
            folder / f"{i}.png")
    return folder


def test_the_builtins_are_declared_once_with_their_directions_and_scales():
    assert registry.ids()[:4] == ["psnr-rgb", "ms-ssim-rgb", "ssim-rgb", "ssimulacra2"]
    assert set(registry.fast()) == {"psnr-rgb", "ms-ssim-rgb", "ssim-rgb"}  # SSIMULACRA2 waits to be asked
    ms = registry.get("ms-ssim-rgb")
    assert ms.bd_scale == "ms-ssim-rgb-db" and registry.scale("ms-ssim-rgb-db").of(0.99) == pytest.approx(20.0)
    assert all(x.higher_is_better for x in registry.BUILT_IN)
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-9, 10, a.shape), 0, 255).astype(np.uint8)
    got = registry.measure(a, b, ["ssim-rgb", "psnr-rgb", "ms-ssim-rgb"])
    assert list(got) == ["ssim-rgb", "psnr-rgb", "ms-ssim-rgb"]  # in the order asked
    assert got["psnr-rgb"] == metrics.psnr(a, b)
    assert (got["ms-ssim-rgb"], got["ssim-rgb"]) == metrics.msssim_and_ssim(a, b)
    with pytest.raises(KeyError, match="no metric named 'nope'; the metrics are psnr-rgb"):
        registry.parse("psnr-rgb,nope")
    from codec.rd.fingerprint import digest
    assert digest({}, ["psnr-rgb"]) != digest({}, ["psnr-rgb", "ssimulacra2"])


def test_plugins_are_registered_and_broken_or_clashing_ones_reported(metric_plugins):
    mine = registry.get("my-psnr")
    assert mine.slow and mine.higher_is_better and "psnr-metric" in mine.origin  # cost unknown: on request
    lower = registry.get("mean-error")
    assert not lower.higher_is_better and lower.label == "mean error (levels)"
    assert registry.get("psnr-rgb").origin == "built-in"  # a plugin cannot take a built-in's id
    problems = " ".join(registry.problems())
    assert "'broken'" in problems and "ModuleNotFoundError" in problems and "'psnr-rgb' is taken" in problems
    assert "my-psnr" in registry.scales() and "mean-error" in registry.scales()


def test_a_point_recorded_under_another_metric_version_is_measured_again(metric_plugins):
    """Cached values carry their metric's version: a changed definition is never mixed in."""
    from codec.rd.points import RDPoint
    p = RDPoint("jpeg", 50, 100, 0.5, {"psnr-rgb": 30.0, "my-psnr": 30.0})
    record = p.record()
    assert record["versions"] == {"psnr-rgb": "1", "my-psnr": "1"}
    record["versions"]["my-psnr"] = "0"
    again = RDPoint.from_record(record)
    assert again.quality == {"psnr-rgb": 30.0} and again.missing(["my-psnr"]) == ["my-psnr"]


def test_a_lower_is_better_metric_gets_bd_rates_the_right_way_round(metric_plugins):
    from codec.rd.bd import bd_rate, overlap
    anchor = {"bpp": [0.25, 0.5, 1.0, 2.0], "mean-error": [8.0, 6.0, 4.0, 2.0]}
    half = {"bpp": [b / 2 for b in anchor["bpp"]], "mean-error": anchor["mean-error"]}
    assert bd_rate(anchor, half, "mean-error") == pytest.approx(-50.0, abs=0.01)  # half the bits, same error
    assert overlap(anchor, half, "mean-error") == (2.0, 8.0)


def test_a_cached_curve_is_measured_on_a_newly_asked_metric_alone(metric_plugins, tmp_path, tiny_model, sample_pixels,
                                                                  monkeypatch):
    from codec.lstm.coder import LSTMCodec
    from codec.rd import dataset
    from codec.rd.evaluate import evaluate
    monkeypatch.setenv("LSTM_COMPARE_CACHE", str(tmp_path / "cache"))
    src = _images(tmp_path / "imgs", sample_pixels)
    first = evaluate(src, tmp_path / "a", LSTMCodec(tiny_model), classical=("jpeg",), iterations=2,
                     progress=False, plot=False)
    assert all("my-psnr" not in p.quality for p in first.points)
    calls = []
    for name in ("lstm_points", "classical_points"):
        monkeypatch.setattr(dataset, name, lambda *a, name=name, **k: calls.append(name))
    second = evaluate(src, tmp_path / "b", LSTMCodec(tiny_model), classical=("jpeg",), iterations=2,
                      progress=False, plot=False, asked=("my-psnr",))
    assert calls == []  # nothing encoded: the cached files were decoded and measured on my-psnr only
    for p, q in zip(first.points, second.points):
        assert q.quality["my-psnr"] == pytest.approx(p.quality["psnr-rgb"], abs=1e-9)
        assert {k: q.quality[k] for k in p.quality} == p.quality  # the rest as cached
    assert "my-psnr" in second.bd["jpeg"]


@pytest.mark.slow
def test_an_installed_metric_plugin_reaches_eval_json_csv_and_bd_rates(tmp_path, sample_pixels):
    """The bar of issue 44: a package whose entry point names a PSNR function, installed (on
    the path, with its dist-info), and nothing of the project edited: `lstm-codec eval --metrics`
    writes it in every codec's JSON, the CSV and bd_rate.json, equal to the built-in PSNR."""
    src = _images(tmp_path / "imgs", sample_pixels, 3, (128, 192))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE), str(ROOT)]),
           "LSTM_COMPARE_CACHE": str(tmp_path / "cache")}
    r = subprocess.run([sys.executable, "-m", "codec.cli", "eval", str(src), "--out", str(out), "--quiet",
                        "--metrics", "my-psnr,mean-error", "--classical", "jpeg,webp", "--iterations", "8",
                        "--encoder", "fast"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "my-psnr" in r.stdout  # the summary's BD-rates name it
    for key in ("lstm", "jpeg", "webp"):
        curve = json.loads((out / f"{key}.json").read_text())["results"]
        assert curve["my-psnr"] == pytest.approx(curve["psnr-rgb"], abs=0.01)
    rows = list(csv.DictReader(open(out / "per_image.csv")))
    assert rows and all(abs(float(row["my-psnr"]) - float(row["psnr-rgb"])) < 0.01 for row in rows)
    bd = json.loads((out / "bd_rate.json").read_text())["bd_rate_percent_vs"]
    for key in ("jpeg", "webp"):
        assert math.isfinite(bd[key]["psnr-rgb"])
        assert bd[key]["my-psnr"] == pytest.approx(bd[key]["psnr-rgb"], abs=0.01)
        assert math.isfinite(bd[key]["mean-error"])
    bad = subprocess.run([sys.executable, "-m", "codec.cli", "eval", str(src), "--out", str(tmp_path / "x"),
                          "--metrics", "nope"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "no metric named 'nope'" in bad.stderr and "Traceback" not in bad.stderr
    listed = subprocess.run([sys.executable, "-m", "codec.cli", "metrics"], capture_output=True, text=True,
                            cwd=tmp_path, env=env)
    assert "my-psnr" in listed.stdout and "psnr-metric" in listed.stdout


@pytest.mark.skipif(shutil.which("butteraugli_main") is None, reason="libjxl's butteraugli_main is not installed")
def test_butteraugli_joins_where_libjxls_tool_is_installed(sample_pixels):
    """A lower-is-better distance from libjxl's own tool: 0 for identical pictures, growing with
    the error, measured on request; its BD-rates read like every other's."""
    from codec.rd.bd import bd_rate
    b = registry.get("butteraugli")
    assert not b.higher_is_better and b.slow and b.bd_scale == "butteraugli"
    a = np.ascontiguousarray(sample_pixels[:96, :128])
    noisy = [np.clip(a.astype(int) + s, 0, 255).astype(np.uint8) for s in (2, 8, 20)]
    values = [registry.measure(a, n, ["butteraugli"])["butteraugli"] for n in noisy]
    assert registry.measure(a, a, ["butteraugli"])["butteraugli"] == 0.0 and values == sorted(values)
    anchor = {"bpp": [0.5, 1.0, 2.0], "butteraugli": values[::-1]}  # more bits, smaller distance
    half = {"bpp": [0.25, 0.5, 1.0], "butteraugli": values[::-1]}
    assert bd_rate(anchor, half, "butteraugli") == pytest.approx(-50.0, abs=0.01)
