"""Published RD curves as anchors (codec/rd/published.py): CompressAI's Kodak curves ship with
their sources, a curve of your own is compared only with the images it was measured on."""
import json

import numpy as np
import pytest
from PIL import Image

from codec.base.errors import CodecError
from codec.lstm.coder import LSTMCodec
from codec.rd.evaluate import evaluate, summary_lines
from codec.rd.published import load, shipped


def test_compressais_kodak_curves_ship_with_source_and_conventions():
    curves = {c.key: c for c in shipped()}
    assert {"published:vtm", "published:bpg_444_x265_ycbcr", "published:compressai-bmshj2018-hyperprior_mse_cuda",
            "published:compressai-cheng2020-anchor_ms-ssim_cuda"} <= set(curves)
    for c in curves.values():
        assert c.dataset == "kodak" and len(c.images) == 24 and all(len(k) == 32 for k in c.images.values())
        assert len(c.curve["bpp"]) == len(c.curve["ms-ssim-rgb"]) == len(c.curve["psnr-rgb"]) >= 6
        assert "InterDigitalInc/CompressAI" in c.source and "bpp" in c.conventions
    vtm = curves["published:vtm"].curve
    assert vtm["bpp"] == sorted(vtm["bpp"]) and 0.95 < vtm["ms-ssim-rgb"][3] < 1


@pytest.fixture
def images(tmp_path, sample_pixels):
    src = tmp_path / "imgs"
    src.mkdir()
    for i, name in enumerate(["a.png", "b.png"]):
        Image.fromarray(np.ascontiguousarray(sample_pixels[40 * i:40 * i + 48, :64])).save(src / name)
    return src


def _mine(tmp_path, images, curve, name="mine"):
    """A made-up codec's mean curve, as a paper would publish it."""
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"name": name, "description": "a codec of a paper", "images": images,
                                "results": {"bpp": curve["bpp"], "psnr": curve["psnr-rgb"],
                                            "ms-ssim": curve["ms-ssim-rgb"]}}))
    return path


def test_a_curve_of_the_same_images_gets_bd_rates_and_another_data_sets_is_refused(tmp_path, images, monkeypatch):
    """The shipped model (its quality rises with the bits, which BD-rates need), on small crops."""
    from codec.lstm.checkpoint import load_model
    from codec.lstm.zoo import resolve_model
    codec = LSTMCodec(load_model(resolve_model(None)))
    monkeypatch.setenv("LSTM_COMPARE_CACHE", str(tmp_path / "cache"))
    first = evaluate(images, tmp_path / "first", codec, classical=("jpeg",), iterations=3, progress=False, plot=False)
    lstm = first.curves["lstm"]
    dearer = dict(lstm, bpp=[b * 1.25 for b in lstm["bpp"]])  # the same quality for 25% more bits
    same = load(_mine(tmp_path, ["a.png", "b.png"], dearer))
    other = load(_mine(tmp_path, ["x.png", "y.png"], dearer, "other"))
    res = evaluate(images, tmp_path / "out", codec, classical=("jpeg",), iterations=3, progress=False, plot=False,
                   published=[same, other])
    assert set(res.published) == {"published:mine"}
    assert res.published["published:mine"]["bd"]["psnr-rgb"] == pytest.approx(-20.0, abs=0.01)
    assert len(res.notes) == 1 and "other" in res.notes[0] and "left out" in res.notes[0]
    lines = "\n".join(summary_lines(res))
    assert "BD-rate vs mine (published):" in lines and "note: other was measured on" in lines
    doc = json.loads((tmp_path / "out" / "bd_rate.json").read_text())
    assert "published:mine" in doc["bd_rate_percent_vs_published"]


def test_a_curve_that_does_not_name_its_images_is_refused_in_words(tmp_path):
    path = tmp_path / "anon.json"
    path.write_text(json.dumps({"name": "anon", "results": {"bpp": [0.1, 0.2], "ms-ssim": [0.8, 0.9]}}))
    with pytest.raises(CodecError, match="which images"):
        load(path)
    path.write_text(json.dumps({"name": "anon", "dataset": "kodak", "results": {"bpp": [0.1, 0.2], "x": [1, 2]}}))
    with pytest.raises(CodecError, match="no bpp with PSNR or MS-SSIM"):
        load(path)
    path.write_text(json.dumps({"name": "anon", "dataset": "kodak", "results": {"bpp": [0.1, 0.2], "ms-ssim": [0.8, 0.9]}}))
    assert len(load(path).images) == 24  # Kodak's, by content
