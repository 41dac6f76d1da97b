"""Encoder-side bit refinement (codec/lstm/refine.py): better bits, same decoder."""
import numpy as np
import pytest
import torch

from codec.lstm import refine
from codec.lstm.coder import LSTMCodec
from codec.quality.metrics import msssim
from codec.lstm.encoders import RefineSettings
from codec.lstm.refine import Distortion, refine_bits
from codec.cli import main


def test_refined_files_decode_to_the_encoders_image(tiny_model, small_image):
    codec = LSTMCodec(tiny_model, refine=RefineSettings(steps=2))
    data, rec = codec.encode(small_image, 3)
    assert np.array_equal(LSTMCodec(tiny_model).decode(data), rec)  # a plain decoder reads it
    progressive = list(codec.encode_progressive(small_image, 3))
    assert np.array_equal(progressive[-1].reconstruction, rec)


def test_refined_bits_never_score_worse_than_the_encoders(tiny_model, sample_pixels):
    net = tiny_model.net.eval()
    x = torch.from_numpy(np.ascontiguousarray(sample_pixels[:64, :64])).permute(2, 0, 1)[None].float() / 255 - 0.5
    enc, dec = net.init_states(x.shape)
    with torch.no_grad():
        y, enc = net.code_values(x, enc)
        own = torch.where(y >= 0, 1.0, -1.0)
        bits = refine_bits(net, x, y, None, enc, dec, 0, 0, RefineSettings(steps=4, lookahead=0, lr=0.2))
        assert set(bits.unique().tolist()) <= {-1.0, 1.0} and bits.shape == own.shape
        score = lambda b: Distortion(x)(net.decode_step(b, None, dec, 0)[0]).item()  # noqa: E731
        assert score(bits) <= score(own)
        # a cancelled encode stops the search at once, with the encoder's own bits
        stopped = refine_bits(net, x, y, None, enc, dec, 0, 0, RefineSettings(steps=50), should_stop=lambda: True)
        assert torch.equal(stopped, own)


def test_search_goes_on_until_a_candidate_keeps_the_stream_progressive(tiny_model, sample_pixels, monkeypatch):
    net = tiny_model.net.eval()
    x = torch.from_numpy(np.ascontiguousarray(sample_pixels[:64, :64])).permute(2, 0, 1)[None].float() / 255 - 0.5
    enc, dec = net.init_states(x.shape)
    with torch.no_grad():
        y, enc = net.code_values(x, enc)
        prev, dec = net.decode_step(torch.where(y >= 0, 1.0, -1.0), None, dec, 0)
        y, enc = net.code_values(x - prev, enc, 1)
    calls = []
    real = net.decode_step
    monkeypatch.setattr(net, "decode_step", lambda *a: calls.append(1) or real(*a))
    s = RefineSettings(steps=3, lookahead=1, patience=3)
    # every candidate improves on iteration 1, but its lookahead iteration never improves on it
    scores = iter(v for _ in range(100) for v in (0.5, 0.6))
    monkeypatch.setattr(refine, "_scored", lambda r, x, exact=False: 1.0 if torch.equal(r, prev) else next(scores))
    refine_bits(net, x, y, prev, enc, dec, 1, 5, s)
    assert len(calls) == 2 * (3 * 3 + 1)  # all patience x steps, each with its lookahead
    # a monotone candidate at once: the search stops after `steps`
    calls.clear()
    scores = iter(v for _ in range(100) for v in (0.5, 0.4))
    refine_bits(net, x, y, prev, enc, dec, 1, 5, s)
    assert len(calls) == 2 * (3 + 1)


def test_refinement_lifts_the_shipped_models_first_iterations(sample_pixels):
    from codec.lstm.checkpoint import load_model
    from codec.lstm.zoo import resolve_model
    model = load_model(resolve_model(None))  # the default shipped model
    img = np.ascontiguousarray(sample_pixels[:96, :96])
    plain = [r.reconstruction for r in LSTMCodec(model).encode_progressive(img, 2)]
    refined = [r.reconstruction for r in LSTMCodec(model, refine=RefineSettings(steps=5)).encode_progressive(img, 2)]
    for a, b in zip(plain, refined):
        assert msssim(img, b) > msssim(img, a)


def test_cli_refine_option(tmp_path, sample_pixels, tiny_model_path, capsys):
    from PIL import Image
    photo = tmp_path / "p.png"
    Image.fromarray(sample_pixels[:32, :48]).save(photo)
    out = tmp_path / "p.lstm"
    assert main(["encode", str(photo), str(out), "-k", "2", "--model", str(tiny_model_path), "--refine", "2"]) == 0
    assert "tile 1 of 1" in capsys.readouterr().err
    assert main(["decode", str(out), str(tmp_path / "p2.png"), "--model", str(tiny_model_path)]) == 0
    assert main(["encode", str(photo), str(tmp_path / "q.lstm"), "--model", str(tiny_model_path),
                 "--refine", "-3"]) == 2
    assert "--refine" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [dict(steps=0), dict(lookahead=-1), dict(lr=0), dict(patience=0)])
def test_settings_are_checked(bad):
    with pytest.raises(ValueError):
        RefineSettings(**bad)


def test_refined_streams_stay_progressive_in_8_bits(sample_pixels):
    # the acceptance rule scores candidates as the decoder's 8-bit output: each iteration the
    # refined encoder sends must improve the image the reader sees (the last one included)
    from codec.lstm.checkpoint import load_model
    from codec.lstm.zoo import resolve_model
    model = load_model(resolve_model(None))
    img = np.ascontiguousarray(sample_pixels[:96, :96])
    codec = LSTMCodec(model, refine=RefineSettings(steps=4))
    scores = [msssim(img, r.reconstruction) for r in codec.encode_progressive(img, 6)]
    assert all(b > a for a, b in zip(scores, scores[1:])), scores


def test_near_ties_are_judged_as_the_evaluation_scores_them(monkeypatch):
    """A float32 score can "improve" by noise (kodim09's 16th iteration): calls closer than
    _TIE are made again with the exact (float64, 8-bit) score."""
    prev, a, b = object(), object(), object()
    scores = {False: {prev: 0.0094, a: 0.0094 - 1e-7, b: 0.0090},  # float32
              True: {prev: 0.009374, a: 0.009374, b: 0.0090}}     # exact
    asked = []
    monkeypatch.setattr(refine, "_scored", lambda r, x, exact=False: asked.append(exact) or scores[exact][r])
    assert refine._Judge(prev, None).improvements([b]) == [True]
    assert not any(asked)  # clear calls stay in float32
    assert refine._Judge(prev, None).improvements([a]) == [False]  # a tie, not an improvement
    assert refine._Judge(prev, None).improvements([b, a]) == [True, False]
    assert refine._Judge(None, None).improvements([a, b]) == [True, True]
    asked.clear()
    assert refine._Judge(None, None).improvements([a]) == [True] and asked == []  # nothing to score


def test_msssim_against_a_fixed_target_equals_pytorch_msssim_in_value_and_gradient():
    from pytorch_msssim import ms_ssim

    from codec.quality.msssim import MSSSIMTo
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 200, 170, generator=g)  # odd sizes: the pooling pads
    y = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    for win in (3, 11):
        a, b = y.clone().requires_grad_(True), y.clone().requires_grad_(True)
        ours, theirs = MSSSIMTo(x, win)(a), 1 - ms_ssim(b, x, data_range=1.0, win_size=win)
        assert abs(ours.item() - theirs.item()) < 3e-6  # both within 1e-6 of a float64 computation
        (ga,), (gb,) = torch.autograd.grad(ours, a), torch.autograd.grad(theirs, b)
        assert (ga - gb).abs().max() <= 1e-3 * gb.abs().max()  # float32 summation order
    with pytest.raises(ValueError):
        MSSSIMTo(x, 15)  # too small for five scales with that window


def test_a_refining_encoder_shows_the_networks_own_bits_as_a_draft_first(tiny_model, small_image):
    drafts = []
    codec = LSTMCodec(tiny_model, refine=RefineSettings(steps=2, lookahead=0, first=2))
    own = [r.reconstruction for r in LSTMCodec(tiny_model).encode_progressive(small_image, 1)]
    results = list(codec.encode_progressive(small_image, 3, draft=lambda k, img: drafts.append((k, img))))
    assert [k for k, _ in drafts] == [1, 2]  # the refined iterations only
    assert np.array_equal(drafts[0][1], own[0])  # iteration 1's draft: the fast encoder's picture
    assert drafts[0][1].shape == results[0].reconstruction.shape
    data, _ = codec.encode(small_image, 3)  # the same bits without drafts
    assert np.array_equal(codec.decode(data), results[-1].reconstruction)
    # several tiles: every tile's draft first, then the search; the same bits as without drafts
    tiled = LSTMCodec(tiny_model, tile=32, refine=RefineSettings(steps=1, first=1))
    shown = []
    with_drafts = list(tiled.encode_progressive(small_image, 2, draft=lambda k, img: shown.append((k, img))))
    plain = list(tiled.encode_progressive(small_image, 2))
    assert [k for k, _ in shown] == [1] and shown[0][1].shape == small_image.shape
    assert np.array_equal(shown[0][1], LSTMCodec(tiny_model, tile=32).encode(small_image, 1)[1])
    assert all(np.array_equal(a.codes, b.codes) for a, b in zip(with_drafts, plain))


def test_the_search_scores_in_float32_under_bfloat16_autocast(sample_pixels):
    # bf16's variances cancel to noise: the search kept a third of its gain before this
    x = torch.from_numpy(sample_pixels[:96, :128].astype(np.float32) / 255 - 0.5).permute(2, 0, 1)[None]
    recon = (x + 0.02 * torch.randn_like(x)).clamp(-0.5, 0.5)
    expected = Distortion(x)(recon)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = Distortion(x)(recon)
    assert under_autocast.dtype == torch.float32 and torch.allclose(under_autocast, expected, rtol=1e-6)


def test_int8_codecs_search_in_bfloat16_only_where_it_is_native(monkeypatch):
    from codec.lstm import coder
    assert coder.search_precision("fp32") == "fp32" and coder.search_precision("bf16") == "bf16"
    monkeypatch.setattr(coder, "bf16_native", lambda: False)
    assert coder.search_precision("int8") == "fp32"
    monkeypatch.setattr(coder, "bf16_native", lambda: True)
    assert coder.search_precision("int8") == "bf16"


def test_the_guard_searches_only_where_the_encoders_own_bits_would_lower_quality(tiny_model, small_image,
                                                                                  monkeypatch):
    guarded = RefineSettings(steps=2, lookahead=0, first=1, guard=True)
    assert [guarded.guards(t) for t in range(4)] == [False, True, True, True]  # iteration 1 is searched anyway
    assert not RefineSettings(steps=2, first=1).guards(2) and not RefineSettings(guard=True).guards(2)
    searched, checked = [], []
    real_search, real_check = refine.refine_bits, refine.Guard.check

    def search(net, x, y, prev, enc, dec, t, later, s, should_stop=None, score=None, confirm=None):
        searched.append((t, s))
        return real_search(net, x, y, prev, enc, dec, t, later, s, should_stop, score, confirm)

    def check(self, prev, candidate):
        real_check(self, prev, candidate)
        checked.append(len(checked) + 1)
        return len(checked) % 3 != 2  # in each encode, the encoder's own bits at iteration 3 fall

    monkeypatch.setattr(refine, "refine_bits", search)
    monkeypatch.setattr(refine.Guard, "check", check)
    codec = LSTMCodec(tiny_model, refine=guarded)
    results = list(codec.encode_progressive(small_image, 4))
    assert checked == [1, 2, 3]  # iterations 2, 3 and 4, one tile
    assert [t for t, _ in searched] == [0, 2]  # iteration 1 (refined), then 3 (guarded)
    assert searched[1][1] == guarded.until_better() and searched[1][1].steps == 1 and searched[1][1].patience == 2 * 4
    data, rec = codec.encode(small_image, 4)  # the same bits tile-major; a plain decoder reads them
    assert np.array_equal(rec, results[-1].reconstruction)
    assert np.array_equal(LSTMCodec(tiny_model).decode(data), rec)


def test_a_refining_encode_leaves_torch_dynamo_unimported(tiny_model_path, tmp_path, sample_pixels):
    """torch.optim.Adam's first step imports torch._dynamo (0.9 s of every encoding process);
    the search's Adam is the same update through torch.optim.adam's functional form."""
    import subprocess
    import sys
    from pathlib import Path
    np.save(tmp_path / "img.npy", np.ascontiguousarray(sample_pixels[:48, :64]))
    script = (
        "import sys, numpy as np\n"
        "from codec.lstm.checkpoint import load_model\n"
        "from codec.lstm.coder import LSTMCodec\n"
        "from codec.lstm.encoders import RefineSettings\n"
        f"codec = LSTMCodec(load_model({str(tiny_model_path)!r}), refine=RefineSettings(steps=2))\n"
        f"codec.encode(np.load({str(tmp_path / 'img.npy')!r}), 2)\n"
        "print('torch._dynamo' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                       cwd=str(Path(__file__).resolve().parent.parent))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "False"


def test_the_searchs_adam_step_is_torch_optims():
    u = torch.randn(1, 8, 4, 4, generator=torch.Generator().manual_seed(0))
    ours, theirs = u.clone().requires_grad_(True), u.clone().requires_grad_(True)
    step, opt = refine._AdamStep(ours, 0.05), torch.optim.Adam([theirs], lr=0.05)
    for k in range(3):
        grad = torch.randn(u.shape, generator=torch.Generator().manual_seed(k + 1))
        step(grad)
        theirs.grad = grad.clone()
        opt.step()
        assert torch.equal(ours, theirs)
