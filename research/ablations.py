"""The paper's claims, each measured at an equal budget and at the shipped width (issue 29).

    python research/ablations.py --only proposed-smoothl1,baseline-l1   # some runs, in RUNS' order
    python research/ablations.py --speed                                # the gates' step time
    python research/ablations.py --tables                               # print what has been measured

Every run trains from scratch with the recipe of `lstm-codec train` (batch 32 of 32x32 crops,
Adam 5e-4 with warm-up, bf16 autocast, stochastic binarizer) at width 0.25, with the same seed
and so the same initial draw and data order, through the same budgets: 2,100 steps (1.4 CPU
hours of the slowest variant on one core), then on to 3,600 (1.2-1.5 CPU hours for the
baseline, 1.8 and more for the proposed model); the baseline's runs go on through 4,200 and
4,600 to 5,000 (`--budgets 2100,3600,4200,4600,5000`), where each has had 1.5 CPU hours. Each
run stops at each budget, is evaluated, and continues with its optimiser's state (the data
sampler is seeded again at the same step for every run). A second seed of two runs measures
the run-to-run noise. At each budget, a run is evaluated on the 24 Kodak images
with the real codec and the paper's plain bits (32 per 16x16 block per iteration, the same bpp
for every run): the mean |x - x_16| after 16 iterations as the paper's Table 1 reports it, the
MS-SSIM curve and its BD-rate against Pillow JPEG 4:2:0 (docs/results/classical/jpeg.json).

Claims, and the runs that decide them (one change each from `proposed-smoothl1`):
1. Table 1, SmoothL1 beats L1: {baseline, proposed} x {l1, smoothl1};
2. hard-sigmoid gates train faster: `--speed` (steps alternating in one process) and the loss
   after equal steps, `proposed-smoothl1-sigmoid`;
3. the recovery block reconstructs better than depth-to-space: `proposed-smoothl1-d2s`;
4. gamma = 0.5 beats the additive reconstruction: `proposed-smoothl1-gamma1`.
Runs are one process each, on one thread by default (two runs fill two cores); a run's
weights at each budget are kept (RUNS/NAME/steps-N.pt), its evaluations in OUT/ablations.json.
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from codec.imaging.imageio import find_images, load_rgb  # noqa: E402
from codec.lstm.checkpoint import load_model, read_checkpoint  # noqa: E402
from codec.lstm.coder import LSTMCodec  # noqa: E402
from codec.lstm.config import ModelConfig  # noqa: E402
from codec.lstm.model import LSTMCodecNet  # noqa: E402
from codec.quality.metrics import msssim  # noqa: E402
from codec.rd.bd import bd_rate  # noqa: E402
from codec.train.data import PatchSampler  # noqa: E402
from codec.train.trainer import TrainSettings, reconstruction_loss, train  # noqa: E402

BASELINE = dict(gate="sigmoid", upsampler="depth_to_space")  # Toderici's, additive: gamma 1
PROPOSED = dict(gate="hard_sigmoid", upsampler="recovery")
RUNS = {  # name -> (architecture, gamma, loss, seed)
    "baseline-l1": (BASELINE, 1.0, "l1", 0),
    "baseline-smoothl1": (BASELINE, 1.0, "smoothl1", 0),
    "proposed-l1": (PROPOSED, 0.5, "l1", 0),
    "proposed-smoothl1": (PROPOSED, 0.5, "smoothl1", 0),
    "proposed-smoothl1-sigmoid": (dict(PROPOSED, gate="sigmoid"), 0.5, "smoothl1", 0),
    "proposed-smoothl1-d2s": (dict(PROPOSED, upsampler="depth_to_space"), 0.5, "smoothl1", 0),
    "proposed-smoothl1-gamma1": (PROPOSED, 1.0, "smoothl1", 0),
    "proposed-smoothl1-seed1": (PROPOSED, 0.5, "smoothl1", 1),
    "baseline-l1-seed1": (BASELINE, 1.0, "l1", 1),
}
PAPER_TABLE1 = {("baseline", "l1"): 0.014932, ("baseline", "smoothl1"): 0.013171,
                ("proposed", "l1"): 0.016347, ("proposed", "smoothl1"): 0.011638}


def train_run(name: str, a, steps: int) -> Path:
    """Train `name` to `steps` (resuming its folder), and keep its weights at that budget."""
    arch, gamma, loss, seed = RUNS[name]
    out = Path(a.runs) / name
    last, kept = out / "last.pt", out / f"steps-{steps}.pt"
    if kept.exists():
        return kept
    cfg = ModelConfig(width=a.width, gamma=gamma, **arch)
    done = read_checkpoint(last) if last.exists() else None
    if done is not None and ModelConfig.from_dict(done["config"]) != cfg:
        sys.exit(f"{last} holds another model than {name}'s ({ModelConfig.from_dict(done['config'])}); "
                 f"move that run folder away and start {name} again.")
    if done is not None and int(done["meta"]["steps"]) < steps:
        done = back_to_budget(out, int(done["meta"]["steps"]))
    if done is None or int(done.get("meta", {}).get("steps", 0)) < steps:
        # a resumed run has its Adam state back: no second warm-up
        s = TrainSettings(data=a.data, out=str(out), steps=steps, loss=loss, seed=seed, threads=a.threads,
                          progress=False, resume=done is not None, warmup=200 if done is None else 0)
        t0 = time.time()
        train(s, cfg, log=lambda m: print(f"[{name}] {m}", flush=True))
        print(f"[{name}] trained to step {steps} in {time.time() - t0:.0f} s", flush=True)
    done = read_checkpoint(last)
    if int(done["meta"]["steps"]) != steps:
        sys.exit(f"{last} is at step {done['meta']['steps']}, not {steps}: it went past this budget; "
                 f"start {name} again.")
    shutil.copyfile(last, kept)
    return kept


def back_to_budget(out: Path, at: int) -> dict | None:
    """A run stopped between budgets (a session's end) goes back to its last budget's weights
    and log: resuming mid-way would seed the data sampler at another step than the other
    runs, and their data orders would part. Returns that checkpoint (None: from scratch)."""
    kept = sorted((int(q.stem.split("-")[1]), q) for q in out.glob("steps-*.pt"))
    budget, src = max(((b, q) for b, q in kept if b <= at), default=(0, None))
    if budget == at:
        return read_checkpoint(src) if src else None
    print(f"[{out.name}] stopped at step {at}, between budgets: back to step {budget}", flush=True)
    log = out / "log.csv"
    if src is None:
        (out / "last.pt").unlink()
        log.unlink()
        return None
    with open(log, newline="") as f:
        rows = list(csv.reader(f))
    with open(log, "w", newline="") as f:
        csv.writer(f).writerows([rows[0]] + [r for r in rows[1:] if int(r[0]) <= budget])
    shutil.copyfile(src, out / "last.pt")
    return read_checkpoint(src)


def training_curve(run: Path, steps: int) -> dict:
    """The training log's loss up to `steps`, smoothed over 100 steps, at every 100th step,
    with the seconds spent so far (and the last step): the loss after equal steps and after
    equal time, from one table."""
    with open(run / "log.csv", newline="") as f:
        rows = [(int(r["step"]), float(r["train_seconds"]), float(r["loss"])) for r in csv.DictReader(f)
                if int(r["step"]) <= steps]
    out = {"step": [], "seconds": [], "loss": []}
    ends = sorted(set(range(99, len(rows), 100)) | {len(rows) - 1})
    for i in ends:
        out["step"].append(rows[i][0])
        out["seconds"].append(rows[i][1])
        out["loss"].append(statistics.mean(r[2] for r in rows[max(0, i - 99):i + 1]))
    return out


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


def speed_nets(width: float) -> dict[str, torch.nn.Module]:
    """The proposed model (recovery block) with each gate function: the paper's hard
    sigmoid as the model computes it (clip(0.2x + 0.5, 0, 1): three element-wise passes),
    sigmoid (one native kernel), and PyTorch's own hard sigmoid, one native kernel with
    slope 1/6: does a hard sigmoid cost less when it is a single kernel as sigmoid is?"""
    from codec.lstm.model.cells import ConvLSTMCell
    nets = {g: LSTMCodecNet(ModelConfig(width=width, gate=g, upsampler="recovery"))
            for g in ("hard_sigmoid", "sigmoid")}
    native = LSTMCodecNet(ModelConfig(width=width, gate="hard_sigmoid", upsampler="recovery"))
    for cell in native.modules():
        if isinstance(cell, ConvLSTMCell):
            cell.gate = torch.nn.functional.hardsigmoid
    nets["torch_hardsigmoid"] = native
    return nets


def gate_speed(a, rounds: int = 30) -> dict:
    """Seconds per training step of each of speed_nets(), one process, steps alternating
    (so all see the same machine load), after 3 warm-up steps each; medians, and the paper's
    hard sigmoid's steps per second over the sigmoid's."""
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    sampler = PatchSampler(a.data, 32, seed=0)
    nets = speed_nets(a.width)
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
    return {"width": a.width, "threads": a.threads, "rounds": rounds, "s_per_step": med,
            "steps_per_s": {g: 1 / v for g, v in med.items()},
            "speedup_hard_over_sigmoid": med["sigmoid"] / med["hard_sigmoid"]}


def at_bpp(curve: dict, bpp: float) -> float:
    return float(np.interp(bpp, curve["bpp"], curve["ms-ssim-rgb"]))


def loss_at(curve: dict, key: str, value: float) -> float:
    """The smoothed training loss when `key` (step or seconds) reaches `value`."""
    return float(np.interp(value, curve[key], curve["loss"]))


def run_row(name: str, r: dict) -> str:
    c = r["curve"]
    return (f"| {name} | {r['l1_after_16']:.5f} | " + " | ".join(f"{at_bpp(c, b):.4f}" for b in (0.25, 0.5, 1.0, 2.0))
            + f" | {r['bd_rate_vs_jpeg']:+.1f}% | {r['images_progressive']}/{r['images']}"
            + f" | {r['train_seconds'] / 3600 * r['threads']:.2f} |")


SMOOTHL1_RUNS = ("proposed-smoothl1", "proposed-smoothl1-seed1", "proposed-smoothl1-sigmoid",
                 "proposed-smoothl1-d2s", "proposed-smoothl1-gamma1")


def budget_tables(steps: int, runs: dict) -> list[str]:
    out = [f"### {steps:,} steps: every run on Kodak, 24 images, the paper's plain bits (the same bpp for every run)", "",
           "| run | L1 after 16 | MS-SSIM 0.25 bpp | 0.5 bpp | 1 bpp | 2 bpp | BD-rate vs JPEG (MS-SSIM dB) "
           "| images progressive | CPU hours |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    out += [run_row(n, runs[n]) if n in runs else f"| {n} | not at this budget |||||||| " for n in RUNS]
    out += ["", f"### {steps:,} steps: Table 1, mean L1 after 16 iterations, 24 Kodak images (pixels in [0, 1])", "",
            "| model | L1 loss (ours) | SmoothL1 loss (ours) | L1 loss (paper) | SmoothL1 loss (paper) |",
            "|---|---:|---:|---:|---:|"]
    for arch, label in (("baseline", "LSTM (sigmoid, depth-to-space, additive)"),
                        ("proposed", "LSTM proposed (hard sigmoid, recovery block, γ = 0.5)")):
        ours = [f"{runs[k]['l1_after_16']:.5f}" if k in runs else "–" for k in (f"{arch}-l1", f"{arch}-smoothl1")]
        paper = [f"{PAPER_TABLE1[(arch, loss)]:.6f}" for loss in ("l1", "smoothl1")]
        out.append(f"| {label} | {ours[0]} | {ours[1]} | {paper[0]} | {paper[1]} |")
    ref = runs.get("proposed-smoothl1")
    if ref:
        out += ["", f"### {steps:,} steps: training loss (SmoothL1, mean of 100 steps) after equal steps and equal time", "",
                "| run | at the last step | CPU hours | after the time the faster of it and proposed-smoothl1 took: it "
                "| proposed-smoothl1 |", "|---|---:|---:|---:|---:|"]
        for n in (n for n in SMOOTHL1_RUNS if n in runs):
            t, tr = runs[n]["training"], ref["training"]
            both = min(t["seconds"][-1], tr["seconds"][-1])
            out.append(f"| {n} | {t['loss'][-1]:.5f} | {t['seconds'][-1] / 3600:.2f} "
                       f"| {loss_at(t, 'seconds', both):.5f} | {loss_at(tr, 'seconds', both):.5f} |")
    return out


def tables(res: dict) -> str:
    out = [f"Width {res['width']}, batch 32 of 32x32 crops, every run from scratch."]
    for steps in sorted(res["budgets"], key=int):
        out += [""] + budget_tables(int(steps), res["budgets"][steps]["runs"])
    if res.get("speed"):
        reps = res["speed"]
        sp = reps[0]
        out += ["", f"### Training speed by gate function (recovery block, width {sp['width']}, "
                f"{sp['rounds']} alternating steps, {sp['threads']} thread(s); {len(reps)} repetitions)", "",
                "| gates | s/step, median of each repetition | steps/s against sigmoid |", "|---|---|---|"]
        for g in sp["s_per_step"]:
            per = [r["s_per_step"][g] for r in reps]
            ratio = [r["s_per_step"]["sigmoid"] / r["s_per_step"][g] for r in reps]
            out.append(f"| {g} | {', '.join(f'{v:.3f}' for v in per)} | {', '.join(f'{v:.3f}' for v in ratio)} |")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budgets", default="2100,3600", help="comma-separated step counts: each run stops, "
                   "is evaluated and continues at each")
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--data", default=str(ROOT.parent / "shared/data/train"))
    p.add_argument("--kodak", default=str(ROOT.parent / "shared/data/kodak"))
    p.add_argument("--anchor", default=str(ROOT / "docs/results/classical/jpeg.json"),
                   help="JPEG's Kodak curve (CompressAI's JSON shape)")
    p.add_argument("--runs", default="runs/ablations-w0.25")
    p.add_argument("--out", default=str(ROOT / "docs/results/ablations-w0.25"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", default="", help="comma-separated run names (default: all)")
    p.add_argument("--speed", action="store_true", help="time the gates (alternating steps) and stop")
    p.add_argument("--tables", action="store_true", help="print the tables of what is measured and stop")
    p.add_argument("--limit", type=int, default=0, help="evaluate on the first N Kodak images only (smoke tests)")
    a = p.parse_args()
    unknown = [n for n in a.only.split(",") if n and n not in RUNS]
    if unknown:
        sys.exit(f"There is no run named {', '.join(unknown)}; the runs are: {', '.join(RUNS)}.")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    res_path = out / "ablations.json"

    budgets = sorted(int(b) for b in a.budgets.split(","))

    def load() -> dict:
        return json.loads(res_path.read_text()) if res_path.exists() else {"width": a.width, "budgets": {}}

    def record(steps: int = 0, name: str = "", run: dict | None = None, speed: dict | None = None) -> dict:
        """Add one result to what is on disk now (two processes, one per core, may share OUT)."""
        res = load()
        if run is not None:
            res["budgets"].setdefault(str(steps), {"runs": {}})["runs"][name] = run
        if speed is not None:
            res["speed"] = res.get("speed", []) + [speed]  # repetitions: run-to-run noise is ~5%
        res_path.write_text(json.dumps(res, indent=2))
        (out / "tables.md").write_text(tables(res) + "\n")
        return res

    res = load()
    if res["width"] != a.width:
        sys.exit(f"{res_path} holds runs at width {res['width']}; pass that, or another --out and --runs.")
    if a.tables:
        print(tables(res))
        return
    for d in (a.data, a.kodak):
        if not Path(d).is_dir():
            sys.exit(f"{d} is not a folder; pass --data/--kodak (the shared training photos and Kodak).")
    if a.speed:
        print(tables(record(speed=gate_speed(a))))
        return
    torch.set_num_threads(a.threads)
    anchor = json.loads(Path(a.anchor).read_text())["results"]
    images = [(q.name, load_rgb(q).pixels) for q in find_images(a.kodak)[:a.limit or None]]
    for name in [n for n in RUNS if not a.only or n in a.only.split(",")]:
        todo = [b for b in budgets if name not in res["budgets"].get(str(b), {}).get("runs", {})]
        for steps in [b for b in budgets if b <= max(todo, default=0)]:
            # a run stops at every budget on its way, recorded or not: the data sampler is
            # seeded again at each, so its data order stays the other runs'
            kept = train_run(name, a, steps)
            if steps not in todo:
                continue
            r = evaluate_run(kept, images)
            r["bd_rate_vs_jpeg"] = bd_rate(anchor, r["curve"], "ms-ssim-rgb-db")
            r["threads"] = a.threads
            r["training"] = training_curve(kept.parent, steps)
            res = record(steps, name, run=r)
            print(f"[{name}] {steps} steps: L1 after 16 {r['l1_after_16']:.5f}, "
                  f"BD-rate vs JPEG {r['bd_rate_vs_jpeg']:+.1f}%", flush=True)
    print(tables(res))


if __name__ == "__main__":
    main()
