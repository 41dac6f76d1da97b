import io

import numpy as np
import pytest
from PIL import Image

from codec.classical import CODECS, available_codecs, match_bpp, rd_curve
from codec.base.errors import CodecError


@pytest.fixture(scope="module")
def img(sample_pixels):
    return np.ascontiguousarray(sample_pixels[:128, :192])


@pytest.mark.parametrize("key", list(CODECS))
def test_each_codec_round_trips_with_real_bytes(img, key):
    if key not in available_codecs():
        pytest.skip(f"{key} missing from this Pillow")
    c = CODECS[key]
    r = c.encode(img, c.curve_settings[len(c.curve_settings) // 2])
    assert r.reconstruction.shape == img.shape
    assert r.bpp == pytest.approx(8 * len(r.data) / (128 * 192))
    with Image.open(io.BytesIO(r.data)) as check:
        assert check.size == (192, 128)


def test_rd_curve_rises_with_quality(img):
    pts = rd_curve("jpeg", img)
    assert pts[-1].bpp > pts[0].bpp * 4


def test_jpeg_444_keeps_more_chroma(img):
    assert CODECS["jpeg444"].encode(img, 75).bpp > CODECS["jpeg"].encode(img, 75).bpp


@pytest.mark.parametrize("key", ["jpeg", "webp", "jpeg2000", "avif", "heic", "jxl"])
def test_match_bpp(img, key):
    if key not in available_codecs():
        pytest.skip(f"{key} missing from this Pillow")
    target = 0.75
    m = match_bpp(key, img, target)
    assert m.below is None or m.below.bpp <= target
    assert abs(m.closest.bpp - target) <= abs(m.best.bpp - target)
    assert m.best.bpp <= target or m.below is None
    assert m.best.bpp > target * 0.6  # close, not just "something below"


@pytest.mark.parametrize("key", ["jpeg", "webp", "avif"])  # quality settings (JPEG 2000's is a rate)
def test_a_match_starting_from_the_curve_finds_the_same_setting_for_fewer_encodes(img, key):
    if key not in available_codecs():
        pytest.skip(f"{key} missing from this Pillow")
    known = {float(r.setting): r.bpp for r in rd_curve(key, img)}  # as a session's points hold them
    for target in (0.4, 0.75, 1.5):
        cold, warm = match_bpp(key, img, target), match_bpp(key, img, target, known=known)
        assert warm.best.bpp <= target or warm.below is None
        assert warm.best.bpp == pytest.approx(cold.best.bpp, rel=0.03)
        assert warm.tried < cold.tried


def test_unknown_codec():
    with pytest.raises(CodecError, match="unknown codec"):
        rd_curve("bpg", np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize("key, suffix", [("heic", ".heic"), ("jxl", ".jxl")])
def test_plugin_anchors_write_files_the_loader_opens(img, key, suffix, tmp_path):
    """HEIC and JPEG XL come from Pillow plugins: their files open like any other image."""
    from codec.imaging.imageio import IMAGE_SUFFIXES, load_rgb
    if key not in available_codecs():
        pytest.skip(f"{key}'s plugin is not installed")
    r = CODECS[key].encode(img, 50)
    path = tmp_path / f"x{suffix}"
    path.write_bytes(r.data)
    assert suffix in IMAGE_SUFFIXES
    assert np.array_equal(load_rgb(path).pixels, r.reconstruction)
    assert "not installed" not in CODECS[key].library()


def test_a_missing_plugin_is_a_sentence(img, monkeypatch):
    from codec.imaging import pillow_plugins
    monkeypatch.setitem(pillow_plugins._LOADED, "pillow-heif", False)
    assert "heic" not in available_codecs()
    with pytest.raises(CodecError, match="needs the pillow-heif package; install it"):
        CODECS["heic"].encode(img, 50)
