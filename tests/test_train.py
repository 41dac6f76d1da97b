import csv
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from codec.lstm.checkpoint import load_model, read_checkpoint
from codec.lstm.config import ModelConfig
from codec.train.trainer import TrainSettings, train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ModelConfig(width=0.0625, iterations=3)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, sample_pixels):
    d = tmp_path_factory.mktemp("train")
    Image.fromarray(sample_pixels[:96, :128]).save(d / "a.png")
    Image.fromarray(sample_pixels[200:300, 300:420]).save(d / "b.jpg", quality=95)
    return d


def _settings(data_dir, out, **kw):
    base = dict(data=str(data_dir), out=str(out), batch=4, warmup=1, progress=False, threads=1)
    base.update(kw)
    return TrainSettings(**base)


def test_train_checkpoint_resume_and_log(tmp_path, data_dir):
    out = tmp_path / "run"
    last = train(_settings(data_dir, out, steps=3), TINY, log=lambda *_: None)
    assert read_checkpoint(last)["meta"]["steps"] == 3
    # resume continues the step count and the log, with the checkpoint's config
    train(_settings(data_dir, out, steps=5, resume=True), ModelConfig(), log=lambda *_: None)
    ck = read_checkpoint(last)
    assert ck["meta"]["steps"] == 5 and ck["config"]["width"] == 0.0625 and "optimizer" in ck
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5]
    assert {"loss", "s_per_step", "l1_it1", "l1_it3"} <= set(rows[0])
    m = load_model(last)
    assert m.config == TINY


def test_loss_falls_within_40_steps(tmp_path, data_dir):
    """The recipe learns: 40 steps on tiny 16x16 patches lower the loss clearly."""
    out = tmp_path / "fit"
    train(_settings(data_dir, out, steps=40, patch=16, batch=8, lr=2e-3, bf16=False), TINY, log=lambda *_: None)
    loss = [float(r["loss"]) for r in csv.DictReader(open(out / "log.csv"))]
    assert np.mean(loss[-5:]) < 0.6 * np.mean(loss[:5])


@pytest.mark.skipif(shutil.which("torchrun") is None and not os.path.exists(
    os.path.join(os.path.dirname(sys.executable), "torchrun")), reason="torchrun not installed")
@pytest.mark.slow
def test_ddp_two_gloo_processes(tmp_path, data_dir):
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    out = tmp_path / "ddp"
    cmd = [torchrun if os.path.exists(torchrun) else "torchrun", "--standalone", "--nproc_per_node", "2",
           "-m", "codec.train", "--data", str(data_dir), "--out", str(out), "--steps", "3", "--batch", "2",
           "--width", "0.0625", "--iterations", "2", "--threads", "1", "--no-progress", "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    ck = read_checkpoint(out / "last.pt")
    assert ck["meta"]["steps"] == 3 and ck["meta"]["world_size"] == 2
    assert ck["meta"]["samples"] == 3 * 2 * 2
    assert len(list(csv.DictReader(open(out / "log.csv")))) == 3  # only rank 0 logs


def test_continue_from_a_shipped_model(tmp_path, data_dir):
    from codec.lstm.checkpoint import export_model
    first = train(_settings(data_dir, tmp_path / "a", steps=3), TINY, log=lambda *_: None)
    shipped = tmp_path / "shipped.pt"
    export_model(first, shipped)  # float16, no optimizer: what resources/models holds
    last = train(_settings(data_dir, tmp_path / "b", steps=5, init=str(shipped)), None, log=lambda *_: None)
    meta = read_checkpoint(last)["meta"]
    assert meta["steps"] == 5 and meta["train_seconds"] > 0
    rows = list(csv.DictReader(open(tmp_path / "b" / "log.csv")))
    assert [int(r["step"]) for r in rows] == [4, 5]


@pytest.mark.slow
def test_sigterm_stops_with_a_checkpoint(tmp_path, data_dir):
    import signal
    import time
    out = tmp_path / "sig"
    cmd = [sys.executable, "-m", "codec.train", "--data", str(data_dir), "--out", str(out), "--minutes", "5",
           "--batch", "2", "--width", "0.0625", "--iterations", "2", "--threads", "1", "--no-progress",
           "--checkpoint-minutes", "60"]
    p = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, stderr=subprocess.PIPE, text=True)
    log = out / "log.csv"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and log.stat().st_size > 200):
        time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=60) == 0
    steps = read_checkpoint(out / "last.pt")["meta"]["steps"]
    assert steps >= 1 and steps == len(list(csv.DictReader(open(log))))


def test_l1_msssim_loss_trains_and_refuses_small_patches(tmp_path, data_dir):
    """The MS-SSIM mix trains end to end on 64x64 patches (finite losses, a checkpoint that
    records the loss); too-small patches are refused with a sentence before any work starts."""
    from codec.base.errors import SettingsError
    out = tmp_path / "ms"
    last = train(_settings(data_dir, out, steps=4, patch=64, batch=2, loss="l1+ms-ssim"), TINY, log=lambda *_: None)
    loss = [float(r["loss"]) for r in csv.DictReader(open(out / "log.csv"))]
    assert len(loss) == 4 and all(np.isfinite(loss))
    assert read_checkpoint(last)["meta"]["train_settings"]["loss"] == "l1+ms-ssim"
    with pytest.raises(SettingsError, match="--patch 48"):
        train(_settings(data_dir, tmp_path / "bad", steps=1, patch=32, loss="l1+ms-ssim"), TINY)


def test_l1_msssim_loss_matches_the_metric():
    """Perfect reconstructions cost nothing; the MS-SSIM part agrees with pytorch-msssim."""
    import torch
    from pytorch_msssim import ms_ssim
    from codec.train.trainer import reconstruction_loss
    s = TrainSettings(data="", loss="l1+ms-ssim", patch=64, msssim_weight=1.0)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 64, 64, generator=g) - 0.5
    loss, _ = reconstruction_loss([x.clone(), x.clone()], x, s)
    assert float(loss) == pytest.approx(0.0, abs=1e-6)
    y = (x + 0.1 * torch.randn(2, 3, 64, 64, generator=g)).clamp(-0.5, 0.5)
    loss, _ = reconstruction_loss([y], x, s)
    want = 1 - ms_ssim(y + 0.5, x + 0.5, data_range=1.0, win_size=3)
    assert float(loss) == pytest.approx(float(want), rel=1e-5)
    # several iterations, each compared with the same patches (in training's channels_last
    # layout): the mean of the library's per-iteration values, gradients included
    ys = [(x + a * torch.randn(2, 3, 64, 64, generator=g)).clamp(-0.5, 0.5).requires_grad_(True) for a in (0.2, 0.1, 0.05)]
    ours = reconstruction_loss(ys, x.contiguous(memory_format=torch.channels_last), s)[0]
    theirs = torch.stack([1 - ms_ssim(v + 0.5, x + 0.5, data_range=1.0, win_size=3) for v in ys]).mean()
    assert float(ours.detach()) == pytest.approx(float(theirs.detach()), rel=1e-5)
    for a, b in zip(torch.autograd.grad(ours, ys), torch.autograd.grad(theirs, ys)):
        assert float((a - b).abs().max()) < 1e-3 * float(b.abs().max())  # float32 rounding
    # its gradient leads towards the original: one small step raises MS-SSIM
    y.requires_grad_(True)
    s = TrainSettings(data="", loss="l1+ms-ssim", patch=64)
    reconstruction_loss([y], x, s)[0].backward()
    with torch.no_grad():
        z = (y - 0.5 * y.grad / y.grad.abs().max() * 0.05).clamp(-0.5, 0.5)
        assert ms_ssim(z + 0.5, x + 0.5, data_range=1.0, win_size=3) > 1 - want + 0.01


def test_msssim_share_falls_with_the_iteration():
    """--msssim-weight-last moves iteration t's loss from MS-SSIM towards L1 linearly: the
    first iteration keeps --msssim-weight, the last gets the given share; each iteration's
    loss is the mix of its own L1 and MS-SSIM terms at its share."""
    import torch
    from pytorch_msssim import ms_ssim
    from codec.base.errors import SettingsError
    from codec.train.trainer import check_loss_settings, msssim_shares, reconstruction_loss
    s = TrainSettings(data="", loss="l1+ms-ssim", patch=64, msssim_weight=0.84, msssim_weight_last=0.0)
    shares = msssim_shares(16, s)
    assert float(shares[0]) == pytest.approx(0.84) and float(shares[-1]) == pytest.approx(0.0)
    assert bool((shares[1:] < shares[:-1]).all())
    assert torch.allclose(msssim_shares(16, TrainSettings(data="", msssim_weight=0.5)), torch.full((16,), 0.5))
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 64, 64, generator=g) - 0.5
    ys = [(x + a * torch.randn(2, 3, 64, 64, generator=g)).clamp(-0.5, 0.5) for a in (0.2, 0.1, 0.05)]
    got = float(reconstruction_loss(ys, x, TrainSettings(data="", loss="l1+ms-ssim", patch=64,
                                                         msssim_weight=0.8, msssim_weight_last=0.2))[0])
    want = []
    for a, y in zip((0.8, 0.5, 0.2), ys):
        m = float(ms_ssim(y + 0.5, x + 0.5, data_range=1.0, win_size=3))
        want.append((1 - a) * float((y - x).abs().mean()) + a * (1 - m))
    assert got == pytest.approx(sum(want) / 3, rel=1e-4)
    with pytest.raises(SettingsError, match="--msssim-weight-last"):
        check_loss_settings(TrainSettings(data="", loss="l1+ms-ssim", patch=64, msssim_weight_last=1.5))


def test_late_weight_counts_late_iterations_more():
    """--late-weight p scales iteration t's loss by t**p (mean 1): 0 leaves the paper's equal
    sum; 1 makes an error at the last iteration cost 2T/(T+1) times what it cost before,
    and the same error at the first iteration 2/(T+1) times; bad values are refused."""
    import torch
    from codec.base.errors import SettingsError
    from codec.train.trainer import check_loss_settings, iteration_weights, reconstruction_loss
    assert torch.equal(iteration_weights(16, 0.0), torch.ones(16))
    w = iteration_weights(16, 1.0)
    assert float(w.mean()) == pytest.approx(1.0) and bool((w[1:] > w[:-1]).all())
    assert float(w[-1] / w[0]) == pytest.approx(16.0)
    x = torch.zeros(1, 3, 8, 8)
    off = torch.full_like(x, 0.1)
    for loss in ("l1", "smoothl1"):
        late = [x, x, x, off]          # only the last of 4 iterations is wrong
        early = [off, x, x, x]
        equal = float(reconstruction_loss(late, x, TrainSettings(data="", loss=loss))[0])
        ramp = TrainSettings(data="", loss=loss, late_weight=1.0)
        assert float(reconstruction_loss(late, x, ramp)[0]) == pytest.approx(equal * 8 / 5)
        assert float(reconstruction_loss(early, x, ramp)[0]) == pytest.approx(equal * 2 / 5)
    with pytest.raises(SettingsError, match="--late-weight"):
        check_loss_settings(TrainSettings(data="", late_weight=-1.0))


def test_log_loss_counts_relative_improvement():
    """--log-loss minimises the mean of log(loss_t): halving the last iteration's error lowers
    the loss as much as halving the first's, though the first's error is ten times larger."""
    import math

    import torch
    from codec.train.trainer import reconstruction_loss
    x = torch.zeros(1, 3, 8, 8)
    outs = [torch.full_like(x, 0.2), torch.full_like(x, 0.02)]
    s = TrainSettings(data="", loss="l1", log_loss=True)
    loss = float(reconstruction_loss(outs, x, s)[0])
    assert loss == pytest.approx((math.log(0.2) + math.log(0.02)) / 2, rel=1e-5)
    first_halved = float(reconstruction_loss([outs[0] / 2, outs[1]], x, s)[0])
    last_halved = float(reconstruction_loss([outs[0], outs[1] / 2], x, s)[0])
    assert first_halved == pytest.approx(last_halved, rel=1e-5) and first_halved < loss
    # the plain sum would value the first iteration's halving ten times the last's
    plain = TrainSettings(data="", loss="l1")
    gain_first = float(reconstruction_loss(outs, x, plain)[0] - reconstruction_loss([outs[0] / 2, outs[1]], x, plain)[0])
    gain_last = float(reconstruction_loss(outs, x, plain)[0] - reconstruction_loss([outs[0], outs[1] / 2], x, plain)[0])
    assert gain_first == pytest.approx(10 * gain_last, rel=1e-4)


def test_residual_gain_added_to_a_model_trained_without(tmp_path, data_dir):
    from codec.lstm.checkpoint import export_model
    first = train(_settings(data_dir, tmp_path / "a", steps=2), TINY, log=lambda *_: None)
    shipped = tmp_path / "shipped.pt"
    export_model(first, shipped)
    gained = ModelConfig(**{**TINY.to_dict(), "residual_gain": True})
    last = train(_settings(data_dir, tmp_path / "b", steps=6, init=str(shipped), gain_lr=0.05),
                 gained, log=lambda *_: None)
    ck = read_checkpoint(last)
    assert ck["config"]["residual_gain"] is True and ck["config"]["width"] == TINY.width
    gains = ck["meta"]["residual_gains"]
    assert len(gains) == TINY.iterations - 1 and any(abs(g - 1) > 0.01 for g in gains)  # they learn
    m = load_model(last)
    assert m.config.residual_gain and float(m.net.gain(1).detach()) == pytest.approx(gains[0], abs=1e-3)


def test_deterministic_binarizer_trains_as_the_codec_binarizes(tmp_path, data_dir):
    import torch
    from codec.base.errors import SettingsError
    from codec.lstm.model import LSTMCodecNet
    net = LSTMCodecNet(TINY).train()
    x = torch.rand(1, 3, 32, 32) - 0.5
    torch.manual_seed(0)
    det = net(x, stochastic=False)
    assert all(torch.equal(a, b) for a, b in zip(det, net(x, stochastic=False)))  # no sampling
    assert not all(torch.equal(a, b) for a, b in zip(det, net(x)))  # training default: stochastic
    out = tmp_path / "det"
    train(_settings(data_dir, out, steps=2, binarizer="deterministic"), TINY, log=lambda *_: None)
    assert read_checkpoint(out / "last.pt")["meta"]["train_settings"]["binarizer"] == "deterministic"
    with pytest.raises(SettingsError, match="binarizer"):
        train(_settings(data_dir, tmp_path / "x", steps=1, binarizer="rounded"), TINY, log=lambda *_: None)


def test_train_only_the_encoder_keeps_the_decoder(tmp_path, data_dir):
    import torch
    first = train(_settings(data_dir, tmp_path / "a", steps=2), TINY, log=lambda *_: None)
    last = train(_settings(data_dir, tmp_path / "b", steps=4, init=str(first), train_only="encoder", lr=1e-2),
                 None, log=lambda *_: None)
    before, after = read_checkpoint(first)["state_dict"], read_checkpoint(last)["state_dict"]
    assert sum(k.startswith("decoder.") for k in before) > 4
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
    assert not all(torch.equal(before[k], after[k]) for k in before if k.startswith(("encoder.", "binarizer.")))
    with pytest.raises(Exception, match="train-only"):
        train(_settings(data_dir, tmp_path / "c", steps=1, train_only="decoder"), TINY, log=lambda *_: None)


@pytest.mark.skipif(shutil.which("g++") is None, reason="torch.compile on the CPU needs a C++ compiler")
@pytest.mark.slow
def test_compiled_training_saves_the_plain_network(tmp_path, data_dir):
    """--compile runs the steps through torch.compile; the checkpoint is the plain module's."""
    out = tmp_path / "compiled"
    one = ModelConfig(width=0.0625, iterations=1)  # the smallest graph: compiling is the slow part
    last = train(_settings(data_dir, out, steps=2, patch=16, compile=True), one, log=lambda *_: None)
    ck = read_checkpoint(last)
    assert ck["meta"]["steps"] == 2 and ck["meta"]["train_settings"]["compile"]
    assert not any(k.startswith("_orig_mod") for k in ck["state_dict"])
    assert load_model(last).config == one
    # the recipe's last leg: larger crops, resumed in the same process, compile anew
    train(_settings(data_dir, out, steps=3, patch=32, batch=2, compile=True, resume=True), one, log=lambda *_: None)
    assert read_checkpoint(last)["meta"]["steps"] == 3
