import math

import numpy as np
import pytest

from codec.quality.metrics import msssim, msssim_db, msssim_window, psnr


def _noisy(a, amount, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(a.astype(int) + rng.integers(-amount, amount + 1, a.shape), 0, 255).astype(np.uint8)


def test_psnr_known_value():
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 16  # MSE = 256 / 48
    assert psnr(a, b) == pytest.approx(10 * math.log10(255 ** 2 / (256 / 48)))
    assert psnr(a, a) == math.inf


def test_msssim_identity_and_ordering(sample_pixels):
    a = sample_pixels
    assert msssim(a, a) == pytest.approx(1.0)
    assert msssim(a, _noisy(a, 4)) > msssim(a, _noisy(a, 30)) > 0


@pytest.mark.parametrize("side", [2, 5, 20, 40, 100, 161])
def test_small_images_fall_back_and_still_rank(sample_pixels, side):
    a = np.ascontiguousarray(sample_pixels[:side, :side])
    good, bad = msssim(a, _noisy(a, 3)), msssim(a, _noisy(a, 40))
    assert 0 < bad < good <= 1
    assert msssim(a, a) == pytest.approx(1.0)


def test_window_choice():
    assert msssim_window(512, 768) == 11
    assert msssim_window(100, 300) == 7
    assert msssim_window(32, 32) == 0


def test_db_scale():
    assert msssim_db(0.9) == pytest.approx(10.0)
    assert msssim_db(0.99) == pytest.approx(20.0)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        psnr(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 3, 3), np.uint8))


@pytest.mark.parametrize("shape,amount", [((400, 600), 3), ((161, 203), 20), ((300, 451), 1), ((512, 768), 8)])
def test_msssim_is_pytorch_msssims_value(sample_pixels, shape, amount):
    """codec.quality.metrics computes MS-SSIM itself, faster; it must stay the library's number
    (every committed result and the progressive checks, with gains of 1e-8, use it)."""
    import torch
    from pytorch_msssim import ms_ssim
    rng = np.random.default_rng(amount)
    a = rng.integers(0, 256, (*shape, 3)).astype(np.uint8)
    a[: min(400, shape[0]), : min(600, shape[1])] = sample_pixels[: shape[0], : shape[1]]
    b = _noisy(a, amount, seed=amount)
    win = msssim_window(*shape)
    ref = float(ms_ssim(*(torch.from_numpy(v.astype(np.float64)).permute(2, 0, 1)[None] for v in (a, b)),
                        data_range=255, win_size=win))
    assert msssim(a, b) == pytest.approx(ref, abs=1e-12)
    assert msssim(a, b) == msssim(a.copy(), b)  # the original's side, cached, gives the same number
    assert msssim(a, a) == pytest.approx(1.0)


@pytest.mark.parametrize("shape", [(200, 240), (96, 128), (20, 30)])
def test_ssim_is_pytorch_msssims_ssim(shape):
    import torch
    from pytorch_msssim import ssim as library_ssim

    from codec.quality.metrics import msssim, msssim_and_ssim
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
    ms, single = msssim_and_ssim(a, b)
    t = lambda x: torch.from_numpy(x.astype(np.float64)).permute(2, 0, 1)[None]  # noqa: E731
    side = min(shape)
    win = min(11, side if side % 2 else side - 1)
    assert single == pytest.approx(float(library_ssim(t(a), t(b), data_range=255, win_size=win)), abs=1e-12)
    assert ms == msssim(a, b)


def test_ssimulacra2_orders_qualities():
    from codec.quality.metrics import ssimulacra2
    rng = np.random.default_rng(6)
    a = (np.add.outer(np.arange(64), np.arange(80))[..., None] * np.array([1, 2, 3]) % 256).astype(np.uint8)
    mild = np.clip(a.astype(int) + rng.integers(-4, 5, a.shape), 0, 255).astype(np.uint8)
    harsh = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    assert ssimulacra2(a, a) == pytest.approx(100.0)
    assert 100 > ssimulacra2(a, mild) > ssimulacra2(a, harsh)


@pytest.mark.parametrize("shape", [(64, 96), (37, 53), (200, 130)])
def test_ssimulacra2_equals_the_packages_own_score(shape, sample_pixels):
    """Computed from the package's functions with the original's side kept (codec/quality/metrics.py):
    the package's compute_ssimulacra2 on PNG files gives the same number, for a first and a
    second reconstruction of one original."""
    import io

    from PIL import Image
    from ssimulacra2 import compute_ssimulacra2

    from codec.classical import get_codec
    from codec.quality.metrics import ssimulacra2

    def png(x):
        buf = io.BytesIO()
        Image.fromarray(x).save(buf, "PNG")
        buf.seek(0)
        return buf
    a = np.ascontiguousarray(sample_pixels[:shape[0], :shape[1]])
    for q in (10, 60):
        b = get_codec("jpeg").encode(a, q).reconstruction
        assert ssimulacra2(a, b) == compute_ssimulacra2(png(a), png(b))
