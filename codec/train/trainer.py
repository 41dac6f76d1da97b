"""Training: random 32x32 crops, loss over all iterations, checkpoints, resume, DDP.

Run under torchrun for several processes (gloo on CPU, nccl on GPUs); a plain run is one
process. Only rank 0 logs and writes checkpoints.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import signal
import sys
import threading
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

from codec.lstm.checkpoint import read_checkpoint, save_checkpoint
from codec.lstm.config import ModelConfig
from codec.train.data import PatchSampler
from codec.base.errors import SettingsError
from codec.lstm.model import LSTMCodecNet
from codec.base.runtime import tune_allocator
from codec.train.settings import LOSSES, TrainSettings, add_arguments, check_loss_settings, from_args


def _rank_world():
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def make_optimizer(net: torch.nn.Module, s: TrainSettings):
    """One parameter group for the weights; the residual gains, if any, get their own lr
    (`lr_scale` times the schedule's lr) and no weight decay."""
    weights = [p for n, p in net.named_parameters() if n != "log_gain" and p.requires_grad]
    groups = [{"params": weights, "lr_scale": 1.0}]
    if net.log_gain is not None and net.log_gain.requires_grad:
        groups.append({"params": [net.log_gain], "lr_scale": s.gain_lr / s.lr, "weight_decay": 0.0})
    if s.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay)
    if s.optimizer == "adam":
        return torch.optim.Adam(groups, lr=s.lr, weight_decay=s.weight_decay)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', not {s.optimizer!r}")


def lr_at(step: int, s: TrainSettings, session_step: int | None = None, session_minutes: float = 0.0) -> float:
    """Warm-up counts this session's steps (a resumed run's Adam state may be fresh),
    step decay points count all steps, minute decay points this session's minutes."""
    warm = step if session_step is None else session_step
    lr = s.lr * min(1.0, (warm + 1) / max(1, s.warmup))
    for d in filter(None, s.lr_decay_steps.split(",")):
        if step >= int(d):
            lr *= 0.5
    for m in filter(None, s.lr_decay_minutes.split(",")):
        if session_minutes >= float(m):
            lr *= 0.5
    return lr


def iteration_weights(iterations: int, late_weight: float) -> torch.Tensor:
    """Weights t**p for iterations t = 1..T, scaled to mean 1 so the loss keeps its size.

    A departure from the paper (which sums the iterations equally), for the late iterations:
    their losses are the smallest, so an equal sum gives them the least gradient, and a
    model trained that way spends its last bits for almost nothing (MS-SSIM flat after
    iteration 12). BD-rate in MS-SSIM dB counts those bits as much as the first ones.
    Measured (docs/history.md, "Why the last iterations stall"): a linear ramp trades early
    quality for late and does not lift the plateau, so the default stays 0.
    """
    w = torch.arange(1, iterations + 1, dtype=torch.float32) ** late_weight
    return w / w.mean()


def msssim_shares(iterations: int, s: TrainSettings) -> torch.Tensor:
    """The MS-SSIM share of "l1+ms-ssim" at each iteration: msssim_weight at the first, falling
    linearly to msssim_weight_last at the last (constant when that is None). MS-SSIM buys the
    low rates; at high rates it blurs the texture that PSNR and SSIMULACRA2 count, so the late
    iterations may lean on L1 instead (issue 46)."""
    last = s.msssim_weight if s.msssim_weight_last is None else s.msssim_weight_last
    if iterations == 1:
        return torch.tensor([s.msssim_weight])
    return torch.linspace(s.msssim_weight, last, iterations)


def reconstruction_loss(outs, x, s: TrainSettings):
    """Mean over iterations of the per-iteration loss; also the per-iteration mean |r|."""
    y = torch.stack([o.float() for o in outs])  # (iterations, batch, 3, h, w)
    l1 = (y - x).abs().mean((1, 2, 3, 4))      # per iteration; the loss itself for "l1"
    if s.loss == "l1":
        per = l1
    elif s.loss == "smoothl1":
        per = F.smooth_l1_loss(y, x.expand_as(y), beta=s.smoothl1_beta, reduction="none").mean((1, 2, 3, 4))
    elif s.loss == "l1+ms-ssim":
        from codec.quality.msssim import MSSSIMTo
        t, b, c, h, w = y.shape
        # pytorch-msssim's MS-SSIM per image, images in [0, 1] as the metric sees them; every
        # iteration is compared with the same patches, whose statistics are computed once
        target = MSSSIMTo((x + 0.5).reshape(1, b * c, h, w), s.msssim_win)
        q = target.similarity((y + 0.5).clamp(0, 1).reshape(t, b * c, h, w)).view(t, b, c).mean((1, 2))
        alpha = msssim_shares(t, s).to(q.device)
        per = (1 - alpha) * l1 + alpha * (1 - q)
    else:
        raise SettingsError(f"loss must be one of {LOSSES}, not {s.loss!r}")
    if s.log_loss:
        # Each iteration's *relative* improvement counts the same: a gain of 0.001 MS-SSIM at
        # 0.98 weighs ten times one at 0.80, as MS-SSIM dB weighs them. Measured (docs/history.md,
        # "--log-loss"): it lifts the late iterations but costs the first ones more BD-rate; off.
        per = per.clamp_min(1e-8).log()
    if s.late_weight:
        per = per * iteration_weights(len(per), s.late_weight).to(per.device)
    return per.mean(), l1.detach().tolist()  # one device sync for all iterations' logged L1


def train(s: TrainSettings, cfg: ModelConfig | None = None, log=print) -> Path:
    """Train until `steps` or `minutes` runs out; returns the path of the last checkpoint."""
    check_loss_settings(s)
    tune_allocator()
    rank, world = _rank_world()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() and s.device != "cpu" else "gloo")
    device = torch.device("cuda" if s.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if s.device == "auto" else s.device))
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    if s.threads:
        torch.set_num_threads(s.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed patch shapes: pick the fastest conv kernels once
    out = Path(s.out)
    last = out / "last.pt"

    state = None
    if s.resume and last.exists():
        state = read_checkpoint(last)
        cfg = ModelConfig.from_dict(state["config"])
    elif s.init:
        init = read_checkpoint(s.init)
        init_cfg = ModelConfig.from_dict(init["config"])
        if cfg is not None and cfg.residual_gain and not init_cfg.residual_gain:
            # add residual gains to a model trained without: they start at 1, the same model
            init_cfg = replace(init_cfg, residual_gain=True)
        cfg = init_cfg
    cfg = cfg or ModelConfig()
    torch.manual_seed(s.seed + 1000 * rank)
    net = LSTMCodecNet(cfg).to(device)
    step, wall, meta = 0, 0.0, {}
    if state is not None:
        net.load_state_dict({k: v.float() for k, v in state["state_dict"].items()})
        meta = state.get("meta", {})
        step, wall = int(meta.get("steps", 0)), float(meta.get("train_seconds", 0.0))
    elif s.init:
        missing, unexpected = net.load_state_dict({k: v.float() for k, v in init["state_dict"].items()},
                                                  strict=False)
        if unexpected or set(missing) - {"log_gain"}:
            raise SettingsError(f"{s.init} does not fit this model (missing {missing}, unexpected "
                                f"{unexpected}); --init takes a checkpoint of the same architecture.")
        meta = dict(init.get("meta", {}))
        meta.pop("exported_from", None)
        step, wall = int(meta.get("steps", 0)), float(meta.get("train_seconds", 0.0))
    if s.train_only == "encoder":  # the gains scale the decoder's output too: they stay
        for p in [*net.decoder.parameters(), *([net.log_gain] if net.log_gain is not None else [])]:
            p.requires_grad_(False)
    if device.type == "cpu":
        net = net.to(memory_format=torch.channels_last)  # weights too (checkpoints store them plainly)
    model = net  # what runs the steps; checkpoints save net, the plain module
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    if s.compile:
        # static: a leg's crops have one size; a new size recompiles instead of going
        # symbolic, which Inductor failed on (64x64 crops, then 128x128, in one process)
        model = torch.compile(model, dynamic=False)
    opt = make_optimizer(net, s)
    if state is not None and "optimizer" in state:
        opt.load_state_dict(state["optimizer"])

    sampler = PatchSampler(s.data, s.patch, seed=s.seed + 7919 * rank + step, max_images=s.max_images or None)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        n_par = sum(p.numel() for p in net.parameters())
        log(f"training {cfg} ({n_par / 1e6:.2f} M parameters) on {device}, {world} process(es), "
            f"{len(sampler.images)} images; from step {step}")
    log_path = out / "log.csv"
    new_log = not log_path.exists()
    log_file = open(log_path, "a", newline="") if rank == 0 else None
    writer = csv.writer(log_file) if log_file else None
    if writer and new_log:
        writer.writerow(["step", "train_seconds", "lr", "loss", "s_per_step"] +
                        [f"l1_it{t + 1}" for t in range(cfg.iterations)])

    bar = None
    if rank == 0 and s.progress:
        try:
            from tqdm import tqdm
            bar = tqdm(total=s.steps or None, initial=step if s.steps else 0, unit="step",
                       dynamic_ncols=True, file=sys.stderr)
        except ImportError:
            pass

    meta.update({"train_settings": {k: v for k, v in vars(s).items() if k not in ("resume", "progress")},
                 "data": str(s.data), "device": str(device), "world_size": world})

    def checkpoint():
        meta.update({"steps": step, "train_seconds": round(wall, 1),
                     "samples": meta.get("samples", 0)})
        if net.log_gain is not None:
            meta["residual_gains"] = [round(v, 4) for v in net.log_gain.detach().exp().tolist()]
        return save_checkpoint(last, net, meta, opt)

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16) if s.bf16 else nullcontext()
    # SIGTERM (kill, a scheduler's time limit) and SIGINT stop at the next step boundary and
    # write a checkpoint, instead of losing the work since the last periodic one.
    stop_requested, previous_handlers = [], {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous_handlers[sig] = signal.signal(sig, lambda *_: stop_requested.append(True))

    start = time.monotonic()
    session_start_wall, session_start_step = wall, step
    last_ckpt = start
    net.train()
    try:
        while True:
            elapsed = time.monotonic() - start
            stop = (s.steps and step >= s.steps) or (s.minutes and elapsed >= s.minutes * 60) or bool(stop_requested)
            if world > 1:  # all ranks stop together: rank 0's clock decides
                flag = torch.tensor([1.0 if stop else 0.0])
                dist.broadcast(flag, 0)
                stop = bool(flag.item())
            if stop:
                break
            t0 = time.monotonic()
            for g in opt.param_groups:
                g["lr"] = lr_at(step, s, step - session_start_step, elapsed / 60) * g.get("lr_scale", 1.0)
            x = torch.from_numpy(sampler.batch(s.batch)).to(device).float() / 255.0 - 0.5
            if device.type == "cpu":  # oneDNN's convolutions, forwards and backwards: 1.13x a step
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast():
                outs = model(x, stochastic=s.binarizer == "stochastic")
            loss, l1 = reconstruction_loss(outs, x, s)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f"loss became {loss.item()} at step {step}; "
                                         "lower --lr or keep --clip on, then --resume")
            norm = torch.nn.utils.clip_grad_norm_(net.parameters(), s.clip or float("inf"))
            if not math.isfinite(norm.item()):
                # MS-SSIM's relu(cs) ** w has an infinite slope at 0: a patch whose contrast
                # structure is anti-correlated at some scale gives NaN gradients. Skip it.
                meta["skipped_steps"] = meta.get("skipped_steps", 0) + 1
                opt.zero_grad(set_to_none=True)
                if meta["skipped_steps"] > 100 + step // 10:
                    raise FloatingPointError(f"{meta['skipped_steps']} steps had non-finite gradients by step "
                                             f"{step}; lower --lr, or train with another --loss")
                continue
            opt.step()
            step += 1
            meta["samples"] = meta.get("samples", 0) + s.batch * world
            dt = time.monotonic() - t0
            wall = session_start_wall + (time.monotonic() - start)
            if rank == 0:
                writer.writerow([step, round(wall, 2), f"{opt.param_groups[0]['lr']:.3g}", f"{loss.item():.6f}",
                                 f"{dt:.3f}"] + [f"{v:.5f}" for v in l1])
                if step % 20 == 0:
                    log_file.flush()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix_str(f"loss {loss.item():.4f} it1 {l1[0]:.3f} it{len(l1)} {l1[-1]:.3f} {dt:.2f}s/step")
                if time.monotonic() - last_ckpt >= s.checkpoint_minutes * 60:
                    checkpoint()
                    last_ckpt = time.monotonic()
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
        if rank == 0:
            checkpoint()
            log_file.close()
            if bar is not None:
                bar.close()
        if world > 1:
            dist.barrier()
    return last


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m codec.train")
    add_arguments(p)
    s, cfg = from_args(p.parse_args(argv))
    train(s, cfg)


if __name__ == "__main__":
    main()
