"""The classical codecs' on-disk cache: a second time costs no encoding, and a damaged or
disabled cache changes nothing but speed."""
import numpy as np
import pytest

from codec import classical
from codec.imaging.imageio import content_key
from codec.rd.sample_cache import SampleCache
from codec.rd.session import classical_sample, matched_sample


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LSTM_COMPARE_CACHE", str(tmp_path))
    return tmp_path


def _no_encoding(monkeypatch):
    def refuse(self, pixels, setting):
        raise AssertionError("encoded although the cache holds the result")
    monkeypatch.setattr(classical.ClassicalCodec, "encode", refuse)


def _same(a, b):
    assert (a.codec, a.setting, a.num_bytes, a.bpp, a.quality) == (b.codec, b.setting, b.num_bytes,
                                                                          b.bpp, b.quality)
    assert np.array_equal(a.reconstruction, b.reconstruction)


@pytest.mark.parametrize("key,setting", [("jpeg", 50), ("webp", 30), ("jpeg2000", 0.5)])
def test_a_sample_is_encoded_once(cache_dir, monkeypatch, small_image, key, setting):
    first = classical_sample(key, small_image, setting)
    _no_encoding(monkeypatch)
    _same(classical_sample(key, small_image, setting), first)
    # the same pixels under any name hit; other pixels miss
    with pytest.raises(AssertionError):
        classical_sample(key, small_image[::-1].copy(), setting)


def test_a_match_is_found_once(cache_dir, monkeypatch, small_image):
    first = matched_sample("jpeg", small_image, 4.0)  # a 40x56 crop: the headers alone are ~1 bpp
    assert first.bpp <= 4.0
    _no_encoding(monkeypatch)
    _same(matched_sample("jpeg", small_image, 4.0), first)


def test_damaged_entries_read_as_missing_and_are_rewritten(cache_dir, small_image):
    first = classical_sample("jpeg", small_image, 40)
    (entry,) = [p for p in cache_dir.rglob("jpeg-sample-*")]
    entry.write_bytes(entry.read_bytes()[:-10])  # cut short, as a killed writer might have left it
    _same(classical_sample("jpeg", small_image, 40), first)
    assert SampleCache(cache_dir).get_sample(content_key(small_image), "jpeg",
                                            classical.get_codec("jpeg").cache_key(40),
                                            classical.get_codec("jpeg").library()) is not None
    assert not list(cache_dir.rglob(".tmp-*"))


def test_off_disables_the_cache(monkeypatch, tmp_path, small_image):
    monkeypatch.setenv("LSTM_COMPARE_CACHE", "off")
    classical_sample("jpeg", small_image, 50)
    assert SampleCache.default().root is None
    assert not list(tmp_path.iterdir())


def test_saving_a_shown_sample_reuses_its_cached_bytes(cache_dir, monkeypatch, small_image):
    """Save (File > Save .lstm and reconstructions) writes the classical file the cache holds,
    without encoding it again; a sample never shown is encoded, and cached on the way."""
    from codec.rd.session import classical_file
    fresh = classical_file("webp", small_image, 40)
    shown = classical_sample("jpeg", small_image, 50)
    _no_encoding(monkeypatch)
    data = classical_file("jpeg", small_image, 50)
    assert len(data) == shown.num_bytes and np.array_equal(classical.get_codec("jpeg").decode(data),
                                                           shown.reconstruction)
    assert classical_file("webp", small_image, 40) == fresh
