import csv
import json

import numpy as np
import pytest
from PIL import Image

from codec.lstm.coder import LSTMCodec
from codec.rd.evaluate import evaluate
from codec.rd.bd import bd_rate, bd_rate_interval, overlap
from codec.rd.points import RDPoint, mean_curve
from codec.rd.points import not_progressive


def test_bd_rate_of_a_curve_at_half_the_rate_is_minus_50_percent():
    anchor = {"bpp": [0.25, 0.5, 1.0, 2.0], "psnr-rgb": [28.0, 31.0, 34.0, 37.0]}
    test = {"bpp": [b / 2 for b in anchor["bpp"]], "psnr-rgb": anchor["psnr-rgb"]}
    assert bd_rate(anchor, test, "psnr-rgb") == pytest.approx(-50.0, abs=0.01)
    assert bd_rate(test, anchor, "psnr-rgb") == pytest.approx(100.0, abs=0.01)


def test_bd_rate_ignores_non_monotone_points_and_undefined_without_overlap():
    anchor = {"bpp": [0.25, 0.5, 1.0, 2.0], "q": [1.0, 2.0, 3.0, 4.0]}
    wobbly = {"bpp": [0.25, 0.5, 0.75, 1.0, 2.0], "q": [1.0, 2.0, 1.5, 3.0, 4.0]}
    assert bd_rate(anchor, wobbly, "q") == pytest.approx(0.0, abs=1e-6)
    apart = {"bpp": [4.0, 8.0], "q": [10.0, 11.0]}
    assert np.isnan(bd_rate(anchor, apart, "q"))


def test_akima_and_pchip_agree_on_a_smooth_curve_and_the_overlap_is_reported():
    anchor = {"bpp": [0.25, 0.5, 1.0, 2.0], "psnr-rgb": [28.0, 31.0, 34.0, 37.0]}
    test = {"bpp": [0.2, 0.4, 0.8, 1.6, 3.2], "psnr-rgb": [29.0, 32.5, 34.8, 36.4, 37.5]}
    pchip, akima = bd_rate(anchor, test, "psnr-rgb"), bd_rate(anchor, test, "psnr-rgb", "akima")
    assert pchip < 0 and akima == pytest.approx(pchip, abs=2.0) and akima != pchip
    assert overlap(anchor, test, "psnr-rgb") == (29.0, 37.0)  # the quality range both span
    with pytest.raises(ValueError, match="akima"):
        bd_rate(anchor, test, "psnr-rgb", "cubic")


def _points(codec, images, bpp_scale, rng):
    """A data set's points: the same curve shape per image, each image with its own offset."""
    out = []
    for i, image in enumerate(images):
        shift = rng.normal(0, 0.15)
        for k, b in enumerate((0.1, 0.2, 0.4, 0.8, 1.6), 1):
            q = 1 - 0.2 * (b * bpp_scale * (1 + shift)) ** -0.7 / 10
            out.append(RDPoint(codec, k, 0, b, {"psnr-rgb": 30.0, "ms-ssim-rgb": min(q, 0.9999)}, image=image))
    return out


def test_the_interval_across_images_holds_the_estimate_and_narrows_with_more_images():
    rng = np.random.default_rng(3)
    few, many = [f"i{i}" for i in range(6)], [f"i{i}" for i in range(60)]
    widths = []
    for images in (few, many):
        a, t = _points("jpeg", images, 1.0, rng), _points("lstm", images, 1.3, rng)
        estimate = bd_rate(mean_curve(a), mean_curve(t), "ms-ssim-rgb-db")
        low, high = bd_rate_interval(a, t)
        assert low <= estimate <= high and estimate < 0
        widths.append(high - low)
    assert widths[1] < widths[0]
    assert all(np.isnan(bd_rate_interval(a[:5], t[:5])))  # one image: no interval


def test_evaluate_writes_compressai_json_csv_bd_and_plot(tmp_path, tiny_model, sample_pixels):
    src = tmp_path / "imgs"
    src.mkdir()
    Image.fromarray(sample_pixels[:64, :96]).save(src / "a.png")
    Image.fromarray(sample_pixels[100:180, 200:264]).save(src / "b.png")
    out = tmp_path / "out"
    res = evaluate(src, out, LSTMCodec(tiny_model), classical=("jpeg", "webp"), iterations=3, progress=False)
    lstm = json.loads((out / "lstm.json").read_text())
    assert set(lstm) == {"name", "description", "results"}
    r = lstm["results"]
    assert len(r["bpp"]) == 3 and r["bpp"] == sorted(r["bpp"])
    for key in ("psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"):
        assert len(r[key]) == 3
    jpeg = json.loads((out / "jpeg.json").read_text())
    assert jpeg["name"] == "JPEG 4:2:0" and len(jpeg["results"]["bpp"]) > 5
    rows = list(csv.DictReader(open(out / "per_image.csv")))
    assert {row["image"] for row in rows} == {"a.png", "b.png"}
    assert sum(row["codec"] == "lstm" for row in rows) == 6
    bd = json.loads((out / "bd_rate.json").read_text())
    assert set(bd["bd_rate_percent_vs"]) == {"jpeg", "webp"}
    assert (out / "rd.png").stat().st_size > 10_000
    # mean of bpp over the two images, per iteration, from real file sizes
    per = [float(row["bpp"]) for row in rows if row["codec"] == "lstm" and row["setting"] == "1"]
    assert r["bpp"][0] == pytest.approx(np.mean(per), rel=1e-4)
    assert res.curves["lstm"]["bpp"] == r["bpp"]
    # MS-SSIM to 1e-12 in the file: a refined stream's top iterations can gain as little as 1e-8, and
    # the progressive check must come out the same from the file as it did in the run
    exact = {(q.image, q.codec, str(q.setting)): q.quality["ms-ssim-rgb"] for q in res.points}
    for row in rows:
        assert float(row["ms-ssim-rgb"]) == pytest.approx(exact[row["image"], row["codec"], row["setting"]], abs=1e-12)


def test_evaluate_reuses_stored_classical_curves(tmp_path, tiny_model, sample_pixels):
    src = tmp_path / "imgs"
    src.mkdir()
    Image.fromarray(sample_pixels[:64, :96]).save(src / "a.png")
    first = evaluate(src, tmp_path / "first", LSTMCodec(tiny_model), classical=("jpeg", "webp"),
                     iterations=3, progress=False, plot=False)
    again = evaluate(src, tmp_path / "again", LSTMCodec(tiny_model), classical=("jpeg",), iterations=3,
                     progress=False, plot=False, reuse=tmp_path / "first")
    assert again.curves["webp"] == json.loads((tmp_path / "first" / "webp.json").read_text())["results"]
    assert set(again.bd) == {"jpeg", "webp"}
    assert again.bd["webp"]["ms-ssim-rgb-db"] == pytest.approx(first.bd["webp"]["ms-ssim-rgb-db"], nan_ok=True)
    assert not any(q.codec == "webp" for q in again.points)  # nothing re-encoded


def test_interrupted_evaluation_resumes_where_it_stopped(tmp_path, tiny_model, sample_pixels, monkeypatch):
    import codec.rd.dataset as ds
    import codec.rd.evaluate as ev
    from codec.base.errors import CodecError
    src = tmp_path / "imgs"
    src.mkdir()
    for i, name in enumerate(["a.png", "b.png", "c.png"]):
        Image.fromarray(sample_pixels[40 * i:40 * i + 48, :64]).save(src / name)
    full = evaluate(src, tmp_path / "full", LSTMCodec(tiny_model), classical=("jpeg",), iterations=2,
                    progress=False, plot=False)
    assert not (tmp_path / "full" / ev.PARTIAL).exists()
    real, encoded = ds.lstm_points, []
    monkeypatch.setenv("LSTM_COMPARE_CACHE", "off")  # every image computed, not read back

    def dies_on_c(codec, pixels, name, iterations, **options):
        if name == "c.png":
            raise KeyboardInterrupt  # the session is cut off here
        encoded.append(name)
        return real(codec, pixels, name, iterations, **options)
    monkeypatch.setattr(ds, "lstm_points", dies_on_c)
    out = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        evaluate(src, out, LSTMCodec(tiny_model), classical=("jpeg",), iterations=2, progress=False, plot=False)
    lines = [line for line in open(out / ev.PARTIAL).readlines()[1:] if not line.startswith("#")]
    assert {r["image"] for r in csv.DictReader(lines)} == {"a.png", "b.png"}
    with open(out / ev.PARTIAL, "a") as f:  # a run killed while appending c's rows: no done mark
        f.write("c.png,lstm,1,57,0.17")
    with pytest.raises(KeyboardInterrupt):  # resumed, and cut off again: the journal stays clean
        evaluate(src, out, LSTMCodec(tiny_model), classical=("jpeg",), iterations=2, progress=False, plot=False,
                 resume=True)
    rows = [line for line in open(out / ev.PARTIAL).readlines()[1:] if not line.startswith("#")]
    assert {r["image"] for r in csv.DictReader(rows)} == {"a.png", "b.png"}
    assert all(len(r) == len(rows[0].split(",")) for r in (line.split(",") for line in rows))
    with pytest.raises(CodecError, match="--resume"):  # never silently thrown away
        evaluate(src, out, LSTMCodec(tiny_model), classical=("jpeg",), iterations=2, progress=False, plot=False)
    with pytest.raises(CodecError, match="other settings"):
        evaluate(src, out, LSTMCodec(tiny_model), classical=("jpeg",), iterations=3, progress=False, plot=False,
                 resume=True)
    monkeypatch.setattr(ds, "lstm_points", real)
    encoded.clear()
    resumed = evaluate(src, out, LSTMCodec(tiny_model), classical=("jpeg",), iterations=2, progress=False,
                       plot=False, resume=True)
    assert encoded == []  # a and b were not encoded again (the real function ran for c only)
    assert not (out / ev.PARTIAL).exists()
    for key in ("bpp", "ms-ssim-rgb", "psnr-rgb"):
        assert resumed.curves["lstm"][key] == full.curves["lstm"][key]  # exact: the same numbers
    assert resumed.bd == full.bd
    rows = list(csv.DictReader(open(out / "per_image.csv")))
    assert [r["image"] for r in rows][::len(rows) // 3] == ["a.png", "b.png", "c.png"]
    assert not (out / ev.PARTIAL).exists()


def test_not_progressive_names_the_iterations_that_do_not_improve():
    per = {"a.png": {1: 0.80, 2: 0.85, 3: 0.90},
           "b.png": {3: 0.90, 1: 0.80, 2: 0.80, 4: 0.89}}  # order of the dict does not matter
    assert not_progressive(per) == {"b.png": [2, 4]}
    assert not_progressive({"a.png": per["a.png"]}) == {}


def test_a_second_evaluation_reads_every_curve_from_the_cache(tmp_path, tiny_model, sample_pixels, monkeypatch):
    """Data sets are cached per image and curve (codec/rd/dataset.py): a rerun encodes nothing,
    gives the same numbers, and a change to the codec's source recomputes the LSTM."""
    from codec.rd import dataset
    from codec.rd.sample_cache import SampleCache
    monkeypatch.setenv("LSTM_COMPARE_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "imgs"
    src.mkdir()
    for i, (y, x) in enumerate([(0, 0), (60, 90)]):
        Image.fromarray(np.ascontiguousarray(sample_pixels[y:y + 48, x:x + 64])).save(src / f"{i}.png")
    first = evaluate(src, tmp_path / "a", LSTMCodec(tiny_model), classical=("jpeg",), iterations=2,
                     progress=False, plot=False)
    calls = []
    for name in ("lstm_points", "classical_points"):
        real = getattr(dataset, name)
        monkeypatch.setattr(dataset, name, lambda *a, real=real, name=name, **k: calls.append(name) or real(*a, **k))
    second = evaluate(src, tmp_path / "b", LSTMCodec(tiny_model), classical=("jpeg",), iterations=2,
                      progress=False, plot=False)
    assert calls == [] and second.bd == first.bd
    assert [(p.image, p.codec, p.num_bytes, p.quality) for p in second.points] == \
        [(p.image, p.codec, p.num_bytes, p.quality) for p in first.points]
    from codec.rd import fingerprint
    fingerprint.code_version.cache_clear()
    monkeypatch.setattr(fingerprint, "code_version", lambda: "changed")
    evaluate(src, tmp_path / "c", LSTMCodec(tiny_model), classical=("jpeg",), iterations=2, progress=False, plot=False)
    assert calls == ["lstm_points", "lstm_points"]  # the classical curves still come from the cache
    summary = dataset.summarize(second.points, "jpeg")
    assert set(summary.per_image) == {"0.png", "1.png"} and "lstm" in summary.bd
    assert SampleCache.default().root == tmp_path / "cache"
