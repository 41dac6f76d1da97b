"""The paper's ablations, measured here at an equal (small) budget.

    python research/ablations.py [--steps 600] [--width 0.125] [--data ../shared/data/train]
                                [--kodak ../shared/data/kodak] [--runs runs/ablations]
                                [--out results/ablations]

Three experiments, each printed as a Markdown table and written to OUT/ablations.json:

1. Table 1 of the paper: {L1, SmoothL1} x {baseline: sigmoid + depth-to-space,
   proposed: hard sigmoid + image recovery block}; the figure is the mean |x - x_16| over
   the 24 Kodak images (pixels in [0, 1], 8-bit reconstruction after 16 iterations).
2. The speed claim: training steps per second with hard-sigmoid vs sigmoid gates, same
   model otherwise, timed in one process by alternating steps of the two (so both see
   the same machine load), as a ratio.
3. gamma in {0, 0.5, 1} for the proposed model with SmoothL1: the Kodak RD curve
   (MS-SSIM at 0.25/0.5/1/2 bpp) and its MS-SSIM BD-rate against Pillow JPEG 4:2:0.

Every run trains from scratch with the same seed, data and number of steps (the recipe of
`lstm-codec train`: batch 32 of 32x32 crops, Adam 5e-4 with warm-up, bf16 autocast).
Runs resume: a finished run (its last.pt has STEPS steps) is reused, so the script can be
stopped and started again, and rerun with more --steps to extend every run equally.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from codec.lstm.checkpoint import load_model, read_checkpoint  # noqa: E402
from codec.lstm.coder import LSTMCodec  # noqa: E402
from codec.lstm.config import ModelConfig  # noqa: E402
from codec.train.data import PatchSampler
from codec.imaging.imageio import find_images  # noqa: E402
from codec.rd.points import classical_points  # noqa: E402
from codec.rd.bd import bd_rate
from codec.rd.points import mean_curve  # noqa: E402
from codec.imaging.imageio import load_rgb  # noqa: E402
from codec.quality.metrics import msssim  # noqa: E402
from codec.lstm.model import LSTMCodecNet  # noqa: E402
from codec.train.trainer import TrainSettings, reconstruction_loss, train  # noqa: E402

BASELINE = dict(gate="sigmoid", upsampler="depth_to_space")
PROPOSED = dict(gate="hard_sigmoid", upsampler="recovery")
RUNS = {  # name -> (architecture, gamma, loss)
    "baseline-l1": (BASELINE, 0.5, "l1"),
    "baseline-smoothl1": (BASELINE, 0.5, "smoothl1"),
    "proposed-l1": (PROPOSED, 0.5, "l1"),
    "proposed-smoothl1": (PROPOSED, 0.5, "smoothl1"),
    "proposed-smoothl1-gamma0": (PROPOSED, 0.0, "smoothl1"),
    "proposed-smoothl1-gamma1": (PROPOSED, 1.0, "smoothl1"),
}
PAPER_TABLE1 = {("baseline", "l1"): 0.014932, ("baseline", "smoothl1"): 0.013171,
                ("proposed", "l1"): 0.016347, ("proposed", "smoothl1"): 0.011638}


def train_run(name: str, a) -> Path:
    arch, gamma, loss = RUNS[name]
    out = Path(a.runs) / name
    last = out / "last.pt"
    if last.exists() and int(read_checkpoint(last).get("meta", {}).get("steps", 0)) >= a.steps:
        return last
    cfg = ModelConfig(width=a.width, gamma=gamma, **arch)
    s = TrainSettings(data=a.data, out=str(out), steps=a.steps, loss=loss, seed=a.seed,
                      threads=a.threads, progress=False, resume=True, max_images=a.max_images)
    t0 = time.time()
    train(s, cfg, log=lambda m: print(f"[{name}] {m}", flush=True))
    print(f"[{name}] trained to step {a.steps} in {time.time() - t0:.0f} s", flush=True)
    return last


def evaluate_run(last: Path, images: list[tuple[str, np.ndarray]]) -> dict:
    """Per iteration: mean bpp (real file bytes), MS-SSIM; and the mean L1 after 16."""
    codec = LSTMCodec(load_model(last), entropy=False)  # the paper's plain bits, as the tables were measured
    per_it: dict[int, list[tuple[float, float]]] = {}
    l1_16, t0 = [], time.time()
    for _, pixels in images:
        rec = None
        for r in codec.encode_progressive(pixels):
            per_it.setdefault(r.iteration, []).append((r.bpp, msssim(pixels, r.reconstruction)))
            rec = r.reconstruction
        l1_16.append(float(np.abs(rec.astype(np.float64) - pixels).mean() / 255.0))
    its = sorted(per_it)
    curve = {"bpp": [statistics.mean(b for b, _ in per_it[k]) for k in its],
             "ms-ssim-rgb": [statistics.mean(m for _, m in per_it[k]) for k in its]}
    images_progressive = sum(all(b[1] > a[1] for a, b in zip(seq, seq[1:]))
                             for seq in zip(*(per_it[k] for k in its)))
    meta = read_checkpoint(last).get("meta", {})
    return {"l1_after_16": statistics.mean(l1_16), "curve": curve, "images": len(images),
            "images_progressive": images_progressive, "train_seconds": meta.get("train_seconds"),
            "steps": meta.get("steps"), "eval_seconds": round(time.time() - t0, 1)}


def gate_speed(a, rounds: int = 30) -> dict:
    """Seconds per training step, hard sigmoid vs sigmoid (recovery upsampler both), one
    process, steps alternating, after 3 warm-up steps each; medians and their ratio."""
    torch.manual_seed(a.seed)
    sampler = PatchSampler(a.data, 32, seed=a.seed, max_images=a.max_images or None)
    nets = {g: LSTMCodecNet(ModelConfig(width=a.speed_width, gate=g, upsampler="recovery"))
            for g in ("hard_sigmoid", "sigmoid")}
    opts = {g: torch.optim.Adam(n.parameters(), lr=5e-4) for g, n in nets.items()}
    s = TrainSettings(data=a.data, loss="smoothl1")
    times = {g: [] for g in nets}
    for i in range(rounds + 3):
        x = torch.from_numpy(sampler.batch(32)).float() / 255.0 - 0.5
        for g, net in nets.items():
            t = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                outs = net(x)
            loss, _ = reconstruction_loss(outs, x, s)
            opts[g].zero_grad(set_to_none=True)
            loss.backward()
            opts[g].step()
            if i >= 3:
                times[g].append(time.perf_counter() - t)
    med = {g: statistics.median(v) for g, v in times.items()}
    return {"width": a.speed_width, "rounds": rounds, "s_per_step": med,
            "steps_per_s": {g: 1 / v for g, v in med.items()},
            "speedup_hard_over_sigmoid": med["sigmoid"] / med["hard_sigmoid"]}


def at_bpp(curve: dict, bpp: float) -> float:
    return float(np.interp(bpp, curve["bpp"], curve["ms-ssim-rgb"]))


def tables(res: dict) -> str:
    out = ["### Table 1: mean L1 after 16 iterations, 24 Kodak images (pixels in [0, 1])", "",
           "| model | L1 loss (ours) | SmoothL1 loss (ours) | L1 loss (paper) | SmoothL1 loss (paper) |",
           "|---|---|---|---|---|"]
    for arch, label in (("baseline", "LSTM (sigmoid + depth-to-space)"),
                        ("proposed", "LSTM proposed (hard sigmoid + recovery block)")):
        ours = [res["runs"][f"{arch}-{loss}"]["l1_after_16"] for loss in ("l1", "smoothl1")]
        paper = [PAPER_TABLE1[(arch, loss)] for loss in ("l1", "smoothl1")]
        out.append(f"| {label} | {ours[0]:.6f} | {ours[1]:.6f} | {paper[0]:.6f} | {paper[1]:.6f} |")
    sp = res["speed"]
    out += ["", "### Training speed, hard sigmoid vs sigmoid (recovery block, width "
            f"{sp['width']}, {sp['rounds']} alternating steps)", "",
            "| gates | s/step (median) | steps/s |", "|---|---|---|"]
    for g in ("hard_sigmoid", "sigmoid"):
        out.append(f"| {g} | {sp['s_per_step'][g]:.3f} | {sp['steps_per_s'][g]:.3f} |")
    out.append(f"| ratio hard/sigmoid steps per second | {sp['speedup_hard_over_sigmoid']:.3f} | |")
    out += ["", "### γ (proposed model, SmoothL1): Kodak MS-SSIM at equal budget", "",
            "| γ | 0.25 bpp | 0.5 bpp | 1 bpp | 2 bpp | BD-rate vs JPEG (MS-SSIM dB) | L1 after 16 | images progressive |",
            "|---|---|---|---|---|---|---|---|"]
    for g, name in ((0.0, "proposed-smoothl1-gamma0"), (0.5, "proposed-smoothl1"), (1.0, "proposed-smoothl1-gamma1")):
        r = res["runs"][name]
        c = r["curve"]
        out.append(f"| {g} | " + " | ".join(f"{at_bpp(c, b):.4f}" for b in (0.25, 0.5, 1.0, 2.0))
                   + f" | {r['bd_rate_vs_jpeg']:+.1f}% | {r['l1_after_16']:.5f} | {r['images_progressive']}/{r['images']} |")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--width", type=float, default=0.125)
    p.add_argument("--speed-width", type=float, default=0.25)
    p.add_argument("--data", default=str(ROOT.parent / "shared/data/train"))
    p.add_argument("--kodak", default=str(ROOT.parent / "shared/data/kodak"))
    p.add_argument("--runs", default="runs/ablations")
    p.add_argument("--out", default="results/ablations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-images", type=int, default=0)
    p.add_argument("--only", default="", help="comma-separated run names (default: all)")
    p.add_argument("--limit", type=int, default=0, help="evaluate on the first N Kodak images only (smoke tests)")
    a = p.parse_args()
    for d in (a.data, a.kodak):
        if not Path(d).is_dir():
            sys.exit(f"{d} is not a folder; pass --data/--kodak (the shared training photos and Kodak).")
    names = [n for n in RUNS if not a.only or n in a.only.split(",")]
    images = [(q.name, load_rgb(q).pixels) for q in find_images(a.kodak)[:a.limit or None]]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    jpeg_path = out / f"jpeg_{len(images)}.json"  # the anchor curve takes minutes: computed once
    if jpeg_path.exists():
        jpeg = json.loads(jpeg_path.read_text())
    else:
        jpeg = mean_curve([pt for name, px in images for pt in classical_points("jpeg", px, name)])
        jpeg_path.write_text(json.dumps(jpeg))
    res_path = out / "ablations.json"
    res = json.loads(res_path.read_text()) if res_path.exists() else {"runs": {}}
    res.update({"steps": a.steps, "width": a.width, "seed": a.seed})
    for name in names:
        last = train_run(name, a)
        r = evaluate_run(last, images)
        r["bd_rate_vs_jpeg"] = bd_rate(jpeg, r["curve"], "ms-ssim-rgb-db")
        res["runs"][name] = r
        print(f"[{name}] L1 after 16: {r['l1_after_16']:.5f}, MS-SSIM "
              + ", ".join(f"{b:.3f}:{m:.4f}" for b, m in zip(r["curve"]["bpp"], r["curve"]["ms-ssim-rgb"])),
              flush=True)
        res_path.write_text(json.dumps(res, indent=2))
    if "speed" not in res or not a.only:
        res["speed"] = gate_speed(a)
        res_path.write_text(json.dumps(res, indent=2))
    if all(n in res["runs"] for n in RUNS):
        text = tables(res)
        (out / "tables.md").write_text(text + "\n")
        print(text)


if __name__ == "__main__":
    main()
