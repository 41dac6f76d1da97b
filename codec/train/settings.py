"""Training settings and their command-line options, apart from the training loop so that
`lstm-codec` can build its parser without importing torch (`info` then starts in a blink)."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from codec.lstm.config import ModelConfig
from codec.base.errors import SettingsError


@dataclass
class TrainSettings:
    data: str
    out: str = "runs/default"
    steps: int = 0              # 0: no step limit (use minutes)
    minutes: float = 0.0        # 0: no time limit (use steps)
    batch: int = 32
    patch: int = 32
    loss: str = "smoothl1"      # or "l1", or "l1+ms-ssim" (a departure from the paper, see LOSSES)
    msssim_weight: float = 0.84  # "l1+ms-ssim": alpha in (1 - alpha) * L1 + alpha * (1 - MS-SSIM)
    msssim_weight_last: float | None = None  # the MS-SSIM share at the last iteration, linear in
                                # between from msssim_weight at the first; None: msssim_weight throughout
    msssim_win: int = 3         # its Gaussian window; 5 scales need patch > (win - 1) * 16
    smoothl1_beta: float = 1.0  # PyTorch's default; with pixels in [-0.5, 0.5] that is 0.5*MSE
    binarizer: str = "stochastic"  # or "deterministic": sign with a straight-through gradient, as at inference
    late_weight: float = 0.0    # iteration t's loss counts t**late_weight (mean 1); 0: all equal (the paper)
    log_loss: bool = False      # mean over iterations of log(loss_t), not of loss_t (see reconstruction_loss)
    optimizer: str = "adam"     # or "sgd" (the paper: lr 0.1, momentum 0.9, weight decay 0.005)
    lr: float = 5e-4
    gain_lr: float = 5e-3       # lr of the residual gains' logs (ModelConfig.residual_gain): 15 scalars
                                # that must travel ~2 units, where the weights move by 1e-4 a step
    momentum: float = 0.9
    weight_decay: float = 0.0
    warmup: int = 200
    lr_decay_steps: str = ""    # e.g. "20000,40000": multiply lr by 0.5 at each
    lr_decay_minutes: str = ""  # e.g. "18,22": halve lr at these minutes of this session (time-budgeted runs)
    clip: float = 0.5           # gradient-norm clip; 0 disables
    bf16: bool = True
    compile: bool = False       # torch.compile the network: minutes to compile, then faster steps
    checkpoint_minutes: float = 5.0
    resume: bool = False
    init: str = ""              # start from these weights, continuing their step count and hours
    train_only: str = "all"     # or "encoder": the decoder stays as it is (learn to send better bits
                                # to a fixed decoder, as codec/lstm/refine.py searches for them per image)
    seed: int = 0
    threads: int = 0
    device: str = "auto"
    max_images: int = 0
    progress: bool = True


# "smoothl1" is the paper's loss and "l1" Toderici's. "l1+ms-ssim" is the mix of Zhao et al.
# 2017 ("Loss functions for image restoration with neural networks", alpha 0.84), which
# Johnston et al. 2018 also moved this codec family towards: the codec is judged by MS-SSIM,
# and an L1 loss spends bits on errors MS-SSIM barely sees. MS-SSIM uses pytorch-msssim's
# five scales and weights on the training patches (hence a small window and 64x64 patches).
LOSSES = ("smoothl1", "l1", "l1+ms-ssim")
BINARIZER_MODES = ("stochastic", "deterministic")
TRAIN_ONLY = ("all", "encoder")


def check_loss_settings(s: TrainSettings) -> None:
    """Refuse settings the loss cannot work with, in words, before any training starts."""
    if s.loss not in LOSSES:
        raise SettingsError(f"loss must be one of {LOSSES}, not {s.loss!r}")
    if s.binarizer not in BINARIZER_MODES:
        raise SettingsError(f"binarizer must be one of {BINARIZER_MODES}, not {s.binarizer!r}")
    if s.train_only not in TRAIN_ONLY:
        raise SettingsError(f"--train-only takes 'all' or 'encoder', not {s.train_only!r}.")
    if s.loss == "l1+ms-ssim":
        need = (s.msssim_win - 1) * 16
        if s.msssim_win < 3 or s.msssim_win % 2 == 0:
            raise SettingsError(f"--msssim-win must be odd and at least 3, not {s.msssim_win}")
        if s.patch <= need:
            raise SettingsError(f"MS-SSIM with a {s.msssim_win}-pixel window needs patches larger than {need} "
                             f"pixels, not {s.patch}; use --patch {need + 16 - need % 16} or a smaller --msssim-win")
        if not 0.0 <= s.msssim_weight <= 1.0:
            raise SettingsError(f"--msssim-weight must lie in [0, 1], not {s.msssim_weight}")
        if s.msssim_weight_last is not None and not 0.0 <= s.msssim_weight_last <= 1.0:
            raise SettingsError(f"--msssim-weight-last must lie in [0, 1], not {s.msssim_weight_last}")
    if not 0.0 <= s.late_weight <= 4.0:
        raise SettingsError(f"--late-weight must lie in [0, 4], not {s.late_weight}; "
                            "0 weighs all iterations equally, 1 is a linear ramp")


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = TrainSettings(data="")
    p.add_argument("--data", required=True, help="folder of training photos (searched recursively)")
    p.add_argument("--out", default=d.out, help="run folder: last.pt, log.csv")
    p.add_argument("--steps", type=int, default=d.steps, help="stop after this many steps in total")
    p.add_argument("--minutes", type=float, default=d.minutes, help="stop after this many minutes of this session")
    p.add_argument("--batch", type=int, default=d.batch)
    p.add_argument("--patch", type=int, default=d.patch)
    p.add_argument("--loss", choices=list(LOSSES), default=d.loss,
                   help="smoothl1: the paper; l1: Toderici 2017; l1+ms-ssim: Zhao et al. 2017's mix (needs --patch 64)")
    p.add_argument("--msssim-weight", type=float, default=d.msssim_weight)
    p.add_argument("--msssim-weight-last", type=float, default=d.msssim_weight_last,
                   help="the MS-SSIM share at the last iteration, falling linearly from --msssim-weight "
                   "at the first: MS-SSIM where it helps at low rates, L1 where it keeps texture at high")
    p.add_argument("--msssim-win", type=int, default=d.msssim_win)
    p.add_argument("--smoothl1-beta", type=float, default=d.smoothl1_beta)
    p.add_argument("--binarizer", choices=list(BINARIZER_MODES), default=d.binarizer,
                   help="stochastic: Toderici's (+1 with probability (1 + y) / 2); deterministic: "
                   "sign(y), as the codec binarizes at inference; both pass the gradient straight through")
    p.add_argument("--late-weight", type=float, default=d.late_weight,
                   help="iteration t's loss counts t**P (mean 1): 0 weighs all equally, as the paper; "
                   "1 is a linear ramp that pushes the late iterations")
    p.add_argument("--log-loss", action="store_true",
                   help="minimise the mean over iterations of log(loss_t): every iteration's relative "
                   "improvement counts the same, as in a BD-rate over dB (a departure from the paper)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default=d.optimizer)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--gain-lr", type=float, default=d.gain_lr,
                   help="learning rate of the residual gains (--residual-gain)")
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--paper-sgd", action="store_true",
                   help="the paper's optimiser: SGD lr 0.1, momentum 0.9, weight decay 0.005")
    p.add_argument("--warmup", type=int, default=d.warmup)
    p.add_argument("--lr-decay-steps", default=d.lr_decay_steps, help="comma-separated steps where lr halves")
    p.add_argument("--lr-decay-minutes", default=d.lr_decay_minutes,
                   help="comma-separated minutes of this session where lr halves (for --minutes runs)")
    p.add_argument("--clip", type=float, default=d.clip)
    p.add_argument("--no-bf16", dest="bf16", action="store_false", help="train in fp32")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the network: a few minutes to compile, then faster steps "
                   "(1.1-1.3x at one thread on the CPU); for long runs")
    p.add_argument("--checkpoint-minutes", type=float, default=d.checkpoint_minutes)
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--init", default="", help="start from these weights (e.g. the shipped model), continuing "
                   "their step count and hours; the optimiser starts fresh")
    p.add_argument("--train-only", choices=TRAIN_ONLY, default=d.train_only,
                   help="encoder: train the encoder and binarizer for a fixed decoder (e.g. --init the "
                   "shipped model), as encoder-side refinement does per image")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--max-images", type=int, default=0)
    p.add_argument("--no-progress", dest="progress", action="store_false")
    # model architecture (ignored when resuming or with --init: the checkpoint decides, except
    # that --residual-gain adds gains, starting at 1, to an --init model that has none)
    c = ModelConfig()
    p.add_argument("--gate", choices=["hard_sigmoid", "sigmoid"], default=c.gate)
    p.add_argument("--upsampler", choices=["recovery", "depth_to_space"], default=c.upsampler)
    p.add_argument("--gamma", type=float, default=c.gamma)
    p.add_argument("--width", type=float, default=c.width)
    p.add_argument("--bits", type=int, default=c.bits)
    p.add_argument("--iterations", type=int, default=c.iterations)
    p.add_argument("--residual-gain", action="store_true",
                   help="residual scaling: a learned gain per iteration on the encoder's input, "
                   "divided out of the decoder's output (Toderici 2017's scaled-additive idea)")


def from_args(a) -> tuple[TrainSettings, ModelConfig]:
    if a.paper_sgd:
        a.optimizer, a.lr, a.momentum, a.weight_decay = "sgd", 0.1, 0.9, 0.005
    names = TrainSettings.__dataclass_fields__
    s = TrainSettings(**{k: getattr(a, k) for k in names})
    cfg = ModelConfig(gate=a.gate, upsampler=a.upsampler, gamma=a.gamma, width=a.width,
                      bits=a.bits, iterations=a.iterations, residual_gain=a.residual_gain)
    return s, cfg
