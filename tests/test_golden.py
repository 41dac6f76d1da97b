"""Golden files: what today's shipped models write and decode, committed, so that a faster
kernel, a refactor or a new format version cannot change the pictures unnoticed.

- tests/golden/<model>.lstm: a 64x96 crop of the built-in sample encoded with each shipped
  model (16 iterations, entropy-coded; the default model, and any that was, also with plain
  bits: <model>-plain.lstm), and
  <model>.png its decoded image. Decoding the committed file today must give that PNG within
  one level per sample (the tolerance a change of summation order is allowed).
- tests/golden/format1/, format2/: the same files as format versions 1 (no per-iteration
  checksums) and 2 (no learned context model: the ids of the weights alone) wrote them.
  Never regenerated: old files must keep decoding.
- tests/golden/retired/<format>/: the files of weights that once shipped under a name and
  were replaced (resources/models/retired/), moved here when they were. Never regenerated:
  each decodes through the model its header names, found by id as `lstm-codec decode` does.
- tests/golden/<default model>-bf16.lstm, -int8.lstm: the same crop in the other precisions
  (codec/lstm/model/int8.py), decoded by whatever precision their header names.
- tests/golden/rd_<model>.json: the default model's per-iteration RD points on two small
  crops (bytes, bpp, PSNR, MS-SSIM), in CompressAI's shape. Re-encoding must reproduce them
  within the tolerances below.

Regenerate only on purpose (the expected files then change in the diff, for review):

    GENERATE_EXPECTED=1 python -m pytest tests/test_golden.py
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from codec.lstm import zoo
from codec.lstm.checkpoint import load_model
from codec.lstm.coder import LSTMCodec
from codec.imaging.imageio import load_rgb, save_rgb
from codec.quality.metrics import msssim, psnr
from conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"
GENERATE = bool(os.getenv("GENERATE_EXPECTED"))
SAMPLES = ROOT / "resources" / "samples"

FORMATS = {"current": GOLDEN, "format1": GOLDEN / "format1", "format2": GOLDEN / "format2"}
# (file stem, shipped model, entropy-coded): every model entropy-coded; plain bits for the
# default and for every model that has plain golden files (a model that was the default)
STREAMS = [(m.name, m.name, True) for m in zoo.SHIPPED] + [
    (f"{m.name}-plain", m.name, False) for m in zoo.SHIPPED
    if m.name == zoo.DEFAULT or any((d / f"{m.name}-plain.lstm").exists() for d in FORMATS.values())]
# two small crops (name, sample, top, left, height, width): both sides not multiples of 16
RD_IMAGES = [("coffee", "coffee.png", 120, 150, 136, 200), ("chelsea", "chelsea.png", 60, 100, 168, 180)]


def _crop(sample, top, left, height, width):
    px = load_rgb(SAMPLES / sample).pixels
    return np.ascontiguousarray(px[top:top + height, left:left + width])


def _stream_image():
    return _crop("coffee.png", 200, 250, 64, 96)


@pytest.fixture(scope="module")
def models():
    return {m.name: load_model(m.path) for m in zoo.SHIPPED}


# every shipped model in today's format; the older formats for the weights that wrote them
CASES = [(*stream, fmt) for fmt in FORMATS for stream in STREAMS
         if fmt == "current" or (FORMATS[fmt] / f"{stream[0]}.lstm").exists()]


def test_every_older_format_has_golden_files():
    for fmt in FORMATS:
        assert any(f == fmt for *_, f in CASES), fmt


@pytest.mark.parametrize("stem,model_name,entropy,fmt", CASES)
def test_golden_files_decode_to_their_images(models, stem, model_name, entropy, fmt):
    codec = LSTMCodec(models[model_name], entropy=entropy)
    lstm, png = FORMATS[fmt] / f"{stem}.lstm", FORMATS[fmt] / f"{stem}.png"
    if GENERATE and fmt == "current":
        GOLDEN.mkdir(exist_ok=True)
        data, _ = codec.encode(_stream_image(), 16)
        lstm.write_bytes(data)
        save_rgb(codec.decode(data), png)
    decoded = codec.decode(lstm.read_bytes()).astype(int)
    expected = load_rgb(png).pixels.astype(int)
    assert decoded.shape == expected.shape
    diff = np.abs(decoded - expected)
    assert diff.max() <= 1, f"{stem}: {int((diff > 0).sum())} samples differ, by up to {diff.max()} levels"
    # every shorter prefix decodes too (the progressive promise of the format)
    for k in (1, 8):
        assert codec.decode(lstm.read_bytes(), k).shape == expected.shape


def _runs_here(precision: str) -> bool:
    from codec.base.errors import CodecError
    from codec.lstm.coder import check_precision
    try:
        check_precision(precision, __import__("torch").device("cpu"))
        return True
    except CodecError:
        return False


# the default model's files in each precision but fp32 (whose files are above): a faster kernel
# or a new plan must not change what an earlier int8 or bf16 file decodes to
PRECISION_STREAMS = [(f"{zoo.DEFAULT}-{p}", p) for p in ("bf16", "int8")]


@pytest.mark.parametrize("stem,precision", PRECISION_STREAMS)
def test_golden_files_of_every_precision_decode_to_their_images(models, stem, precision):
    if not _runs_here(precision):
        pytest.skip(f"this machine cannot compute in {precision}")
    lstm, png = GOLDEN / f"{stem}.lstm", GOLDEN / f"{stem}.png"
    if GENERATE:
        codec = LSTMCodec(models[zoo.DEFAULT], precision=precision)
        data, _ = codec.encode(_stream_image(), 16)
        lstm.write_bytes(data)
        save_rgb(codec.decode(data), png)
    decoder = LSTMCodec(models[zoo.DEFAULT])  # an fp32 codec: the file's flag decides
    decoded = decoder.decode(lstm.read_bytes()).astype(int)
    diff = np.abs(decoded - load_rgb(png).pixels.astype(int))
    assert diff.max() <= 1, f"{stem}: {int((diff > 0).sum())} samples differ, by up to {diff.max()} levels"


RETIRED_FILES = sorted((GOLDEN / "retired").rglob("*.lstm"))


@pytest.mark.parametrize("lstm", RETIRED_FILES, ids=lambda p: str(p.relative_to(GOLDEN / "retired")))
def test_golden_files_of_retired_weights_still_decode(lstm):
    from codec.lstm.lstm_file import decode_file
    decoded = decode_file(lstm.read_bytes())
    assert any(decoded.model_id in r.model_ids for r in zoo.RETIRED), "not a retired model's file"
    diff = np.abs(decoded.pixels.astype(int) - load_rgb(lstm.with_suffix(".png")).pixels.astype(int))
    assert diff.max() <= 1, f"{lstm.name}: {int((diff > 0).sum())} samples differ, by up to {diff.max()} levels"


def _rd_points(codec, pixels):
    out = []
    for r in codec.encode_progressive(pixels, 16):
        out.append({"iteration": r.iteration, "bytes": r.file_bytes, "bpp": r.bpp,
                    "psnr-rgb": psnr(pixels, r.reconstruction), "ms-ssim-rgb": msssim(pixels, r.reconstruction)})
    return out


def test_golden_rd_points_of_the_default_model(models):
    model = models[zoo.DEFAULT]
    codec = LSTMCodec(model)
    path = GOLDEN / f"rd_{zoo.DEFAULT}.json"
    measured = {name: _rd_points(codec, _crop(*spec)) for name, *spec in RD_IMAGES}
    if GENERATE:
        doc = {"name": f"LSTM {model.model_id}", "description": model.describe(),
               "images": {name: f"{sample}, {w}x{h} crop at row {top}, column {left}"
                          for name, sample, top, left, h, w in RD_IMAGES},
               "results": measured}
        path.write_text(json.dumps(doc, indent=1) + "\n")
    expected = json.loads(path.read_text())
    assert expected["name"] == f"LSTM {model.model_id}", "the default model changed: regenerate on purpose"
    for name, points in expected["results"].items():
        got = measured[name]
        assert [p["iteration"] for p in got] == [p["iteration"] for p in points]
        for g, e in zip(got, points):
            where = f"{name}, iteration {e['iteration']}"
            # a few flipped bits may change an entropy-coded size by a few bytes
            assert g["bytes"] == pytest.approx(e["bytes"], rel=0.01, abs=4), where
            assert g["psnr-rgb"] == pytest.approx(e["psnr-rgb"], abs=0.05), where
            assert g["ms-ssim-rgb"] == pytest.approx(e["ms-ssim-rgb"], abs=5e-4), where
