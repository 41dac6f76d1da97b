import numpy as np
import pytest

from codec.classical import get_codec
from codec.lstm.coder import LSTMCodec
from codec.rd.session import ImageSession


def test_session_runs_caches_and_matches(tiny_model, sample_pixels):
    small_image = np.ascontiguousarray(sample_pixels[:128, :192])
    codec = LSTMCodec(tiny_model)
    s = ImageSession(small_image, "crop.png", codec)
    shown = []
    samples = list(s.run_lstm(3, preview=lambda k, img: shown.append(k)))
    assert shown == [1, 2, 3] and [p.iteration for p in samples] == [1, 2, 3] and s.lstm_complete
    # the bpp known before encoding is the one measured after
    assert [s.lstm_bpp(k) for k in (1, 2, 3)] == [p.bpp for p in samples]
    data, rec = codec.encode(small_image, 3)
    assert s.lstm_file() == data and np.array_equal(samples[-1].reconstruction, rec)
    m = s.match("jpeg", 3)
    # not above the LSTM's bpp, unless even JPEG's smallest file is (the tiny model's bits
    # entropy-code to very little)
    jpeg_floor = min(get_codec("jpeg").encode(small_image, q).bpp for q in range(1, 6))
    assert m.bpp <= max(samples[2].bpp, jpeg_floor) and s.match("jpeg", 3) is m  # cached
    assert s.bd_rate("jpeg") is None  # no JPEG curve yet
    curve = s.classical_curve("jpeg")
    assert s.classical_curve("jpeg") is curve
    assert isinstance(s.bd_rate("jpeg"), float) and s.curve("jpeg")["bpp"] == [p.bpp for p in curve]
    results = s.rd_results()
    assert [r["name"].split()[0] for r in results] == ["LSTM", "JPEG"]
    assert set(results[0]["results"]) >= {"bpp", "psnr-rgb", "ms-ssim-rgb"}


def test_stopped_run_is_discarded(tiny_model, small_image):
    s = ImageSession(small_image, "crop.png", LSTMCodec(tiny_model))
    got = []
    for sample in s.run_lstm(4, should_stop=lambda: len(got) >= 2):
        got.append(sample)
    assert len(got) == 2 and not s.lstm_complete and s.lstm == []


def test_classical_work_goes_through_the_runner(tiny_model, small_image):
    calls = []

    def runner(fn, *args):
        calls.append(fn.__name__)
        return fn(*args)

    s = ImageSession(small_image, "crop.png", LSTMCodec(tiny_model), runner=runner)
    with pytest.raises(ValueError, match="not encoded yet"):  # the target is the LSTM's real size
        s.match("jpeg", 1)
    list(s.run_lstm(1))
    s.match("jpeg", 1)
    curve = s.classical_curve("jpeg")
    assert calls == ["matched_sample"] + ["classical_sample"] * len(curve)


def test_a_curve_up_to_the_plot_edge_stops_after_the_first_point_beyond_it(tiny_model, small_image):
    """The app's first pass over a classical curve: the points beyond the plot (the priciest
    encodes) wait; computing from where it stopped completes the same curve."""
    s = ImageSession(small_image, "crop.png", LSTMCodec(tiny_model))
    whole = s.classical_points("jpeg")
    edge = sorted(p.bpp for p in whole)[len(whole) // 2]
    first = s.classical_points("jpeg", up_to=edge)
    assert 0 < len(first) < len(whole) and first[-1].bpp > edge and all(p.bpp <= edge for p in first[:-1])
    rest = s.classical_points("jpeg", start=len(first))
    assert [p.bpp for p in first + rest] == [p.bpp for p in whole]
    s.curves["jpeg"] = first
    assert not s.curve_is_whole("jpeg")
    s.curves["jpeg"] = first + rest
    assert s.curve_is_whole("jpeg")
    assert s.plotted_bpp() >= 2.2


def test_block_costs_account_for_the_bits_and_the_error(tiny_model, sample_pixels):
    """The bits view's numbers: per block, what the entropy coder spends (adding up to the
    coded size) and the squared error removed (adding up to the image's)."""
    from codec.lstm.coder import LSTMCodec
    from codec.lstm.entropy import encode_iteration
    from codec.rd.session import ImageSession, block_mse
    img = np.ascontiguousarray(sample_pixels[:72, :100])  # edge blocks are partial
    s = ImageSession(img, "x", LSTMCodec(tiny_model))
    list(s.run_lstm(3))
    for k in (1, 2, 3):
        spent, removed = s.block_costs(k)
        assert spent.shape == removed.shape == (5, 7)
        prev = s._codes[k - 2] if k > 1 else None
        coded = 8 * (len(encode_iteration(s._codes[k - 1], prev)) - 1)
        assert coded - 8 * (64 + 8) <= spent.sum() <= coded + 1e-6
        before = s.lstm[k - 2].reconstruction if k > 1 else np.full_like(img, 128)
        sse = lambda rec: ((img.astype(float) - rec.astype(float)) ** 2).sum()  # noqa: E731
        counts = block_mse(np.zeros_like(img), np.ones_like(img))  # 1 per sample: the weights are the counts
        pixels = np.full((5, 7), 16 * 16 * 3.0)
        pixels[-1, :] = 8 * 16 * 3
        pixels[:, -1] = pixels[:, -1] / 16 * 4
        assert np.allclose(counts, 1)
        assert (removed * pixels).sum() == pytest.approx(sse(before) - sse(s.lstm[k - 1].reconstruction))
    plain = ImageSession(img, "x", LSTMCodec(tiny_model, entropy=False))
    list(plain.run_lstm(1))
    assert np.all(plain.block_costs(1)[0] == 32)


def test_a_slow_metric_is_spread_over_the_runners_processes(tiny_model, small_image):
    """ImageSession.quality_of hands each reconstruction to the runner's map (the app's two
    child processes); a metric the other process does not know is measured here instead."""
    from codec.quality import registry
    from codec.rd.session import measured_if_known

    class Spreading:
        calls = 0

        def map(self, fn, calls, should_stop=None):
            Spreading.calls += len(calls)
            return [fn(*args) for args in calls]

    s = ImageSession(small_image, "crop.png", LSTMCodec(tiny_model), runner=Spreading())
    recs = [np.clip(small_image.astype(int) + d, 0, 255).astype(np.uint8) for d in (3, 9)]
    assert s.quality_of(recs, ["psnr-rgb"]) == [registry.measure(small_image, r, ["psnr-rgb"]) for r in recs]
    assert Spreading.calls == 2
    assert measured_if_known(small_image, recs[0], ["no-such-metric"]) is None
