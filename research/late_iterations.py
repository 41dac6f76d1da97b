"""Which training lever makes the late iterations buy quality people can see (issue 46)?

Short legs from the shipped `proposed` weights, one lever each, on the same batches (one seed),
judged on held-out training photos (the last ten of ../shared/data/train/wikipedia_photos,
centre crops of 512x512; never Kodak) by MS-SSIM, PSNR and SSIMULACRA2 at 8, 12 and 16
iterations and by the MS-SSIM (dB) BD-rate against the shipped weights over all 16. The
network's own bits (the fast encoder) and the paper's plain rate, 0.125 bpp an iteration: the
trials differ only in weights, so equal iterations are equal rates.

    python research/late_iterations.py --trial control --steps 400 --threads 1
    python research/late_iterations.py --trial share0 --steps 400 --threads 1
    python research/late_iterations.py --table

Each trial writes its weights to runs/late-trials/NAME/ (not committed) and its measurements
to research/results/late_iterations/NAME.json; `--shipped` measures the shipped weights.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from codec.imaging.imageio import find_images, load_rgb  # noqa: E402
from codec.lstm.checkpoint import load_model, read_checkpoint  # noqa: E402
from codec.lstm.zoo import resolve_model  # noqa: E402
from codec.quality.metrics import msssim, psnr, ssimulacra2  # noqa: E402
from codec.train.settings import TrainSettings  # noqa: E402

DATA = ROOT.parent / "shared/data/train"
RESULTS = ROOT / "research/results/late_iterations"
HELD_OUT = 10        # the last photos of wikipedia_photos
CROP = 512
JUDGED = (8, 12, 16)

# The last recipe leg's settings (scripts/train_recipe.py) but 64x64 crops, then one lever each.
BASE = dict(loss="l1+ms-ssim", batch=8, patch=64, msssim_win=3, binarizer="deterministic",
            lr=1.25e-5, warmup=50)
TRIALS = {
    "control": {},
    "control-crop128": dict(patch=128, batch=2, msssim_win=7),  # the recipe's last leg as it ran
    "share0": dict(msssim_weight_last=0.0),
    "share0-late1": dict(msssim_weight_last=0.0, late_weight=1.0),
    "share0-crop256": dict(msssim_weight_last=0.0, patch=256, batch=1, msssim_win=7),
    "share0-lr5e-5": dict(msssim_weight_last=0.0, lr=5e-5),
    "share0-crop256-lr5e-5": dict(msssim_weight_last=0.0, patch=256, batch=1, msssim_win=7, lr=5e-5),
}


def split(data: Path = DATA) -> tuple[list[Path], list[Path]]:
    """(training photos, held-out photos): every training photo but the last HELD_OUT of
    wikipedia_photos, which are held out."""
    wiki = find_images(data / "wikipedia_photos")
    held = wiki[-HELD_OUT:]
    return [p for p in find_images(data) if p not in held], held


def linked(paths: list[Path], folder: Path) -> Path:
    """A folder of links to `paths` (the trainer samples a folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, p in enumerate(paths):
        link = folder / f"{i:04d}{p.suffix}"
        if not link.exists():
            link.symlink_to(p)
    return folder


def centre(img: np.ndarray, size: int = CROP) -> np.ndarray:
    h, w = img.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return img[y:y + size, x:x + size]


@torch.no_grad()
def measure(weights: str, held: list[Path]) -> dict:
    """Per iteration, the held-out photos' mean MS-SSIM and PSNR; at JUDGED, SSIMULACRA2; and
    the count of photos whose MS-SSIM fell at each iteration."""
    net = load_model(weights).net
    per = {"ms-ssim": [], "psnr": [], "ssimulacra2": {}}
    falls = [0] * 16
    for p in held:
        img = centre(load_rgb(p).pixels)
        x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255.0 - 0.5
        outs = net(x, stochastic=False)
        recons = [((o[0] + 0.5).clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy() for o in outs]
        m = [msssim(img, r) for r in recons]
        falls = [f + int(t > 0 and m[t] < m[t - 1]) for t, f in enumerate(falls)]
        per["ms-ssim"].append(m)
        per["psnr"].append([psnr(img, r) for r in recons])
        for k in JUDGED:
            per["ssimulacra2"].setdefault(str(k), []).append(ssimulacra2(img, recons[k - 1]))
    return {"weights": str(weights), "photos": [p.name for p in held],
            "ms-ssim": np.mean(per["ms-ssim"], 0).tolist(), "psnr": np.mean(per["psnr"], 0).tolist(),
            "ssimulacra2": {k: float(np.mean(v)) for k, v in per["ssimulacra2"].items()},
            "photos_falling": falls}


def bd_rate_vs(a: dict, b: dict) -> float:
    """BD-rate (%) of measurement `a` against `b` on MS-SSIM dB, pchip, at the plain rates
    (codec/rd/bd.py: an iteration that does not improve is left out of the interpolation)."""
    from codec.rd.bd import bd_rate
    rates = [0.125 * (t + 1) for t in range(16)]
    return bd_rate({"bpp": rates, "ms-ssim-rgb": b["ms-ssim"]}, {"bpp": rates, "ms-ssim-rgb": a["ms-ssim"]},
                   "ms-ssim-rgb-db")


def run_trial(name: str, steps: int, threads: int, seed: int) -> dict:
    from codec.train.trainer import train
    train_paths, held = split()
    out = ROOT / "runs/late-trials" / name
    with tempfile.TemporaryDirectory() as tmp:
        s = TrainSettings(data=str(linked(train_paths, Path(tmp) / "train")), out=str(out),
                          steps=0, minutes=0, init=str(resolve_model("proposed")), seed=seed,
                          threads=threads, progress=False, resume=(out / "last.pt").exists(), **BASE)
        s = replace(s, **TRIALS[name])
        start = int(read_checkpoint(resolve_model("proposed"))["meta"]["steps"])
        s = replace(s, steps=start + steps, init="" if s.resume else s.init)
        train(s)
    result = measure(out / "last.pt", held)
    result.update(trial=name, steps=steps, settings={**BASE, **TRIALS[name]})
    return result


def table() -> None:
    rows = {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))}
    ref = rows.get("shipped")
    print("| trial | steps | BD-rate vs shipped (MS-SSIM dB) | MS-SSIM @8 / 12 / 16 | PSNR @8 / 12 / 16 "
          "| SSIMULACRA2 @8 / 12 / 16 | photos falling at 14-16 |\n|---|---:|---:|---|---|---|---|")
    for name, r in rows.items():
        bd = f"{bd_rate_vs(r, ref):+.2f}%" if ref and name != "shipped" else ""
        ms = " / ".join(f"{r['ms-ssim'][k - 1]:.4f}" for k in JUDGED)
        ps = " / ".join(f"{r['psnr'][k - 1]:.2f}" for k in JUDGED)
        s2 = " / ".join(f"{r['ssimulacra2'][str(k)]:.1f}" for k in JUDGED)
        print(f"| {name} | {r.get('steps', '')} | {bd} | {ms} | {ps} | {s2} | {r['photos_falling'][13:]} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trial", choices=sorted(TRIALS))
    p.add_argument("--shipped", action="store_true", help="measure the shipped proposed weights")
    p.add_argument("--table", action="store_true")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=46)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if a.shipped:
        r = measure(resolve_model("proposed"), split()[1])
        (RESULTS / "shipped.json").write_text(json.dumps(r, indent=1))
    if a.trial:
        r = run_trial(a.trial, a.steps, a.threads, a.seed)
        (RESULTS / f"{a.trial}.json").write_text(json.dumps(r, indent=1))
    if a.table or a.shipped or a.trial:
        table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
