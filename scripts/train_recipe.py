"""The default model's fine-tuning recipe, as steps, for any model: `proposed` gets what
`baseline-msssim` got (issue 29).

The default was fine-tuned from its L1 weights in legs over several sessions (the lr column of
docs/training/baseline_msssim_log.csv and docs/history.md): L1 + MS-SSIM on 64x64 crops, batch
8, the stochastic binarizer at lr 1.5e-4 then 7.5e-5, the deterministic binarizer at 7.5e-5,
2.5e-5 and 1.25e-5, and a last leg on 128x128 crops with a 7-pixel MS-SSIM window (on a GPU at
batch 64; here, on the CPU, batch 2 of 128x128, the same pixels per step as the other legs).
RECIPE lists each leg's end as steps after the start, so a run that spans sessions picks up
where it stopped.

    python scripts/train_recipe.py --init resources/models/proposed.pt --out runs/proposed-recipe --minutes 150
    python scripts/train_recipe.py --init runs/proposed-recipe.pt --out runs/proposed-recipe --minutes 150
    python scripts/train_recipe.py --report runs/proposed-recipe.pt    # where it stands, leg by leg

Each session ends by writing OUT.pt beside the run folder: float16 weights, the recipe's start,
and the whole training log, one small file to commit so that the next session (on another
machine) continues from it with --init. SIGTERM or Ctrl+C stop at a step boundary and write it.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from codec.lstm.checkpoint import export_model, read_checkpoint  # noqa: E402
from codec.train.trainer import train  # noqa: E402
from codec.train.settings import TrainSettings  # noqa: E402


@dataclass(frozen=True)
class Leg:
    until: int            # steps after the recipe's start
    lr: float
    binarizer: str
    patch: int = 64
    batch: int = 8
    msssim_win: int = 3


RECIPE = (
    Leg(4553, 1.5e-4, "stochastic"),
    Leg(11791, 7.5e-5, "stochastic"),
    Leg(17608, 7.5e-5, "deterministic"),
    Leg(20194, 2.5e-5, "deterministic"),
    Leg(21784, 1.25e-5, "deterministic"),
    Leg(22970, 1.25e-5, "deterministic", patch=128, batch=2, msssim_win=7),
)


def leg_at(done: int) -> Leg | None:
    """The leg a run that has taken `done` recipe steps is in (None: the recipe is complete)."""
    return next((leg for leg in RECIPE if done < leg.until), None)


def budget(log: Path, origin: int) -> list[tuple[Leg, int, float]]:
    """Per leg: the steps taken and the hours they took. A step that took over five times
    the median (the process was paused, or the machine was busy with a benchmark) counts
    as the median, so the hours are the training's own."""
    with open(log, newline="") as f:
        rows = [(int(r["step"]) - origin, float(r["s_per_step"])) for r in csv.DictReader(f)
                if int(r["step"]) > origin]
    median = statistics.median(s for _, s in rows) if rows else 0.0
    out, start = [], 0
    for leg in RECIPE:
        mine = [min(s, 5 * median) for step, s in rows if start < step <= leg.until]
        out.append((leg, len(mine), sum(mine) / 3600))
        start = leg.until
    return out


def report(weights: str) -> int:
    """Print where a run stands: its legs, the steps taken in each, and their hours."""
    payload = read_checkpoint(weights)
    meta = payload.get("meta", {})
    origin = int(meta.get("recipe_origin", meta.get("steps", 0)))
    if "log_csv_gz" not in payload:
        print(f"{weights} carries no training log; pass the OUT.pt this script writes.")
        return 2
    with tempfile.TemporaryDirectory() as d:
        log = Path(d) / "log.csv"
        log.write_bytes(gzip.decompress(payload["log_csv_gz"]))
        legs = budget(log, origin)
    print(f"{weights}: {int(meta.get('steps', 0)) - origin:,} of {RECIPE[-1].until:,} recipe steps "
          f"(from step {origin:,} of its first training)")
    print("| leg | lr | binarizer | crops | steps | taken | hours |\n|---|---|---|---|---:|---:|---:|")
    start = 0
    for i, (leg, taken, hours) in enumerate(legs, 1):
        print(f"| {i} | {leg.lr:g} | {leg.binarizer} | {leg.batch} x {leg.patch}x{leg.patch} "
              f"| {leg.until - start:,} | {taken:,} | {hours:.2f} |")
        start = leg.until
    print(f"| all | | | | {RECIPE[-1].until:,} | {sum(t for _, t, _ in legs):,} | {sum(h for _, _, h in legs):.2f} |")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--report", metavar="OUT.pt", help="print where a run stands, leg by leg, and stop")
    p.add_argument("--init", help="weights to start or continue from")
    p.add_argument("--out", help="run folder (last.pt, log.csv); OUT.pt is the file to commit")
    p.add_argument("--data", default=str(Path(__file__).resolve().parent.parent.parent / "shared/data/train"))
    p.add_argument("--minutes", type=float, help="this session's budget")
    p.add_argument("--seed", type=int, default=29)
    p.add_argument("--no-compile", dest="compile", action="store_false",
                   help="run the network eagerly (torch.compile: minutes to compile each leg, then 1.3x the steps)")
    a = p.parse_args(argv)
    if a.report:
        return report(a.report)
    if not (a.init and a.out and a.minutes):
        p.error("--init, --out and --minutes are needed to train (or --report OUT.pt)")

    out = Path(a.out)
    export = out.with_suffix(".pt")
    init = read_checkpoint(a.init)
    meta = init.get("meta", {})
    origin = int(meta.get("recipe_origin", meta.get("steps", 0)))
    log = out / "log.csv"
    if not log.exists() and "log_csv_gz" in init:  # the log travels inside the committed weights
        out.mkdir(parents=True, exist_ok=True)
        log.write_bytes(gzip.decompress(init["log_csv_gz"]))

    stopped = []
    for sig in (signal.SIGTERM, signal.SIGINT):  # train() takes them over while it runs
        signal.signal(sig, lambda *_: stopped.append(True))
    deadline = time.monotonic() + a.minutes * 60
    resume = (out / "last.pt").exists()
    while not stopped:
        done = int(read_checkpoint(out / "last.pt")["meta"]["steps"]) - origin if resume else int(meta.get("steps", 0)) - origin
        leg = leg_at(done)
        minutes = (deadline - time.monotonic()) / 60
        if leg is None or minutes < 0.5:
            break
        s = TrainSettings(data=a.data, out=str(out), steps=origin + leg.until, minutes=minutes,
                          batch=leg.batch, patch=leg.patch, loss="l1+ms-ssim", msssim_win=leg.msssim_win,
                          binarizer=leg.binarizer, lr=leg.lr, warmup=50, resume=resume,
                          init="" if resume else a.init, seed=a.seed + done, progress=False,
                          compile=a.compile)
        print(f"recipe step {done} of {RECIPE[-1].until}: {leg}", flush=True)
        train(s)
        resume = True
        if int(read_checkpoint(out / "last.pt")["meta"]["steps"]) - origin < leg.until:
            break  # stopped by time or a signal inside the leg
    if resume:
        mid = export_model(out / "last.pt", export, half=True, meta={"recipe_origin": origin})
        payload = read_checkpoint(export)
        payload["log_csv_gz"] = gzip.compress(log.read_bytes())
        tmp = export.with_name(export.name + ".tmp")
        torch.save(payload, tmp)
        tmp.replace(export)
        steps = int(payload["meta"]["steps"]) - origin
        print(f"wrote {export} (id {mid}): {steps} of {RECIPE[-1].until} recipe steps", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
