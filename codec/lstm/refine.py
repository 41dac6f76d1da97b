"""Encoder-side bit refinement: spend encode time to send better bits to the same decoder.

The encoder sends sign(y) of its own prediction y, but nothing in the file says the bits
must be those. Before iteration t is sent, refinement searches for bits the decoder makes
more of: it starts from u = y, takes `steps` Adam steps on u (bits = sign(u), the gradient
passed straight through, as in training) that lower 1 - MS-SSIM of the reconstruction
after iteration t and after the next `lookahead` iterations (those with the encoder's own
bits, so the search does not buy iteration t at the cost of the next ones), and sends the
best bits it met (refine_bits says which: the rule aims to keep the stream progressive). The
decoder is untouched: refined files are ordinary .lstm files of the same model, same size
in plain bits.

Why the lookahead: greedy refinement (lookahead 0, lr 0.05) lifted iteration 1 of a
256x256 crop of kodim01 from 0.785 to 0.812 MS-SSIM but left the decoder's state where the
next iterations did worse (0.9752 instead of 0.9798 at 16); with one iteration of lookahead
and lr 0.02 every iteration gained (0.813 at 1, 0.9812 at 16); 20 steps gained more at
first and less at the end, lookahead 2 more at the end for 1.5x the time. Under bf16
autocast the search keeps its gain as long as MS-SSIM stays float32 (Distortion). Cost: each step runs
1 + lookahead iterations of the network forwards and backwards, so the default (10 steps,
lookahead 1, patience 4) makes encoding about 70 times slower on Kodak (median 358 s
instead of 4.97 s per image on 2 cores); decoding speed is unchanged. Kodak, 24
images, shipped weights: BD-rate vs JPEG −10.5% -> −15.2%, progressive on every image
(docs/model.md, docs/history.md).
"""
from __future__ import annotations

import math
import torch
from torch.optim.adam import adam

from codec.lstm.encoders import RefineSettings
from codec.quality.metrics import msssim, msssim_window
from codec.quality.msssim import MSSSIMTo
from codec.imaging.pixels import to_uint8


class Distortion:
    """1 - MS-SSIM against the tile x, (1, 3, h, w) in [-0.5, 0.5], with the window
    codec.quality.metrics uses at this size (the tile's statistics computed once: codec/quality/msssim.py);
    mean absolute error for tiles too small for MS-SSIM."""

    def __init__(self, x: torch.Tensor):
        self.x = x
        win = msssim_window(x.shape[2], x.shape[3])
        # float32 whatever the network's arithmetic, here and below: SSIM's variances are
        # differences of near-equal means, which bfloat16 cancels to noise
        with torch.autocast(x.device.type, enabled=False):
            self._msssim = MSSSIMTo(x + 0.5, win) if win else None

    def __call__(self, recon: torch.Tensor) -> torch.Tensor:
        with torch.autocast(recon.device.type, enabled=False):
            recon = recon.float()
            if self._msssim is None:
                return (recon - self.x).abs().mean()
            return self._msssim((recon + 0.5).clamp(0, 1))


_TIE = 1e-5  # float32 MS-SSIM strays from float64 by far less; closer calls are rescored exactly


def _scored(recon: torch.Tensor, dist: Distortion, exact: bool = False) -> float:
    """1 - MS-SSIM of the reconstruction as the decoder's 8-bit output (rounded as
    pixels.to_uint8 rounds it). exact: as the evaluation measures it (metrics.msssim, float64,
    2.5x slower); otherwise float32, which can misjudge a difference of about 1e-7: kodim09's
    16th iteration "improved" 0.990626 -> 0.990626 and the evaluation found it stalled."""
    if exact:
        return 1.0 - msssim(to_uint8(recon.detach()), to_uint8(dist.x))
    with torch.no_grad():
        return dist(recon.mul(255.0).add(127.5).round().clamp(0, 255).div(255.0).sub(0.5)).item()


class _Judge:
    """Whether each reconstruction of a chain improves on the one before, starting from the
    previous iteration's (None: nothing to improve on), judged in float32 and, where two
    scores are within _TIE, again exactly."""

    def __init__(self, prev_recon, dist: Distortion, floor: float | None = None):
        self.dist, self.prev = dist, prev_recon
        self.floor = ({False: math.inf, True: math.inf} if prev_recon is None
                      else {False: _scored(prev_recon, dist) if floor is None else floor})
        self.scores: list[float] = []  # float32 scores of the reconstructions last judged

    def _floor(self, exact):
        if exact not in self.floor:
            self.floor[exact] = _scored(self.prev, self.dist, exact=True)
        return self.floor[exact]

    def improvements(self, recons) -> list[bool]:
        if self.prev is None and len(recons) == 1:
            return [True]  # the first iteration improves on nothing: no score needed
        for exact in (False, True):
            chain = [self._floor(exact)] + [_scored(r, self.dist, exact) for r in recons]
            if not exact:
                self.scores = chain[1:]
            pairs = list(zip(chain, chain[1:]))
            if exact or all(abs(a - b) >= _TIE for a, b in pairs if math.isfinite(a)):
                return [b < a for a, b in pairs]


def refine_bits(net, x, y, prev_recon, enc_state, dec_state, t: int, later: int,
                s: RefineSettings, should_stop=None, score: Distortion | None = None,
                confirm=None) -> torch.Tensor:
    """Bits (1, C, h, w) of +-1 to send at iteration t (0-based).

    x: the tile; y: the encoder's values for iteration t; prev_recon, dec_state: the
    decoder before iteration t; enc_state: the encoder after iteration t; later: how many
    iterations the file holds after this one (the lookahead stops there); should_stop():
    return the best bits so far now (a cancelled encode need not finish the search); score:
    the tile's Distortion, if the caller has it; confirm(bits): whether the decoder that
    reads the file agrees that bits improve on iteration t - 1, where it computes otherwise
    than `net` (int8): a candidate counts only if it does.

    Which bits: the lowest loss among candidates whose 8-bit reconstruction improves on
    iteration t - 1 *and* whose lookahead iterations each improve on the one before
    ("monotone"); failing that, the lowest loss among those that improve on t - 1; failing
    that, the encoder's own. A monotone choice at t means the encoder's own bits at t + 1
    already improve on t, so a stream of monotone choices is progressive. Until a monotone
    candidate turns up the search goes on, up to s.patience x s.steps steps (kodim12: with
    10 steps alone iterations 14 and 15 found none and the 16th then fell, 0.988245 ->
    0.988196; with up to 40, 0.988302 -> 0.988366 -> 0.988397)."""
    sign = net.binarizer.binarize  # sign(u), gradient straight through to u
    if x.device.type == "cpu":
        # oneDNN's own layout: no reorder around each convolution, forwards and backwards
        x, y, prev_recon, enc_state, dec_state = _channels_last((x, y, prev_recon, enc_state, dec_state))
    ahead = min(s.lookahead, later)
    score = score or Distortion(x)
    judge = _Judge(prev_recon, score)
    own_bits = None
    best = {True: (math.inf, None), False: (math.inf, None)}  # monotone? -> (loss, bits)
    with torch.enable_grad():
        u = y.detach().clone().requires_grad_(True)
        step = _AdamStep(u, s.lr)
        for k in range(s.steps * s.patience + 1):
            bits = sign(u, False)
            recon, dec = net.decode_step(bits, prev_recon, dec_state, t)
            loss, enc, recons = score(recon), enc_state, [recon]
            for j in range(1, ahead + 1):
                y2, enc = net.code_values(x - recon, enc, t + j)
                recon, dec = net.decode_step(sign(y2, False), recon, dec, t + j)
                loss = loss + score(recon)
                recons.append(recon)
            if k == 0:
                own_bits = bits.detach()  # exactly +-1: the STE term is 0
            # the monotone tier's best loss is never below the other's, so a candidate that
            # does not beat it cannot win either: skip its 8-bit scoring
            value = loss.item()
            if value < best[True][0]:
                better = judge.improvements(recons)
                if better[0] and (confirm is None or confirm(bits.detach())):
                    monotone = all(better[1:])
                    for tier in {monotone, False}:
                        if value < best[tier][0]:
                            best[tier] = (value, bits.detach())
            found = best[True][1] is not None
            if (k >= s.steps and found) or k == s.steps * s.patience or (should_stop and should_stop()):
                break
            # gradient for u only: the weights stay as they are
            step(*torch.autograd.grad(loss, u))
    bits = next((bits for _, bits in (best[True], best[False]) if bits is not None), own_bits)
    return bits.contiguous()


class _AdamStep:
    """torch.optim.Adam's update of one tensor with its defaults, through its functional form
    (torch.optim.adam.adam, the same arithmetic): the optimizer class's first step imports
    torch._dynamo, 0.9 s of every process that encodes with a refining encoder."""

    def __init__(self, u: torch.Tensor, lr: float):
        self.u, self.lr = u, lr
        self.avg, self.avg_sq, self.steps = torch.zeros_like(u), torch.zeros_like(u), torch.tensor(0.0)

    @torch.no_grad()
    def __call__(self, grad: torch.Tensor) -> None:
        adam([self.u], [grad], [self.avg], [self.avg_sq], [], [self.steps], foreach=False, amsgrad=False,
             beta1=0.9, beta2=0.999, lr=self.lr, weight_decay=0.0, eps=1e-8, maximize=False)


class Guard:
    """One tile's check of the iterations the encoder sends with its own bits (RefineSettings.
    guard): whether the decoder's picture with them improves on the iteration before, judged
    as refine_bits judges (8-bit, float32, exactly where close). The model's last iterations
    lower MS-SSIM on most photos with the encoder's own bits; a short search finds bits that
    raise it on most tiles (research/guard.py). Each check costs one float32 MS-SSIM of the
    tile, and the score it finds is the next check's floor."""

    def __init__(self, x: torch.Tensor):
        self.score = Distortion(x)
        self._floor: tuple | None = None  # (the reconstruction last sent, its score)
        self._judge: _Judge | None = None  # this iteration's
        self.kept, self._rank = None, None  # this iteration's best candidate; (improves?, -score)

    def check(self, prev_recon: torch.Tensor, candidate: tuple) -> bool:
        """Whether the candidate (bits, reconstruction, decoder state) improves on prev_recon;
        it is kept, the best so far for this iteration."""
        known = self._floor[1] if self._floor is not None and self._floor[0] is prev_recon else None
        self._judge = _Judge(prev_recon, self.score, known)
        self.kept = None
        return self.offer(candidate)

    def offer(self, candidate: tuple) -> bool:
        """Whether another candidate for the same iteration improves on the iteration before;
        it is kept if it is better than the one kept: improving where that one does not, or
        else scoring better."""
        better = self._judge.improvements([candidate[1]])[0]
        rank = (better, -self._judge.scores[0])
        if self.kept is None or rank > self._rank:
            self.kept, self._rank = candidate, rank
        return better

    def done(self) -> tuple:
        """The candidate kept: the one sent, its score the next check's floor."""
        self._floor = (self.kept[1], -self._rank[1])
        return self.kept


def _channels_last(tree):
    """Every 4-d tensor in nested lists and tuples in channels-last memory layout."""
    if isinstance(tree, (list, tuple)):
        return type(tree)(_channels_last(t) for t in tree)
    if isinstance(tree, torch.Tensor) and tree.dim() == 4:
        return tree.contiguous(memory_format=torch.channels_last)
    return tree
