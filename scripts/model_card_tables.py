"""Markdown tables for docs/model.md from `scripts/kodak_bars.py` output folders: per-iteration
Kodak means side by side, BD-rates against each classical codec, and the issue-3 bars.

    python scripts/model_card_tables.py baseline=docs/results/kodak-baseline proposed=docs/results/kodak-proposed
"""
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codec.rd.points import not_progressive  # noqa: E402

LABELS = {"jpeg": "JPEG 4:2:0 (Pillow, libjpeg-turbo)", "webp": "WebP", "jpeg2000": "JPEG 2000 (OpenJPEG)",
          "avif": "AVIF (libavif, speed 6)"}


def load(folder):
    f = Path(folder)
    bd = json.loads((f / "bd_rate.json").read_text())
    lstm = json.loads((f / "lstm.json").read_text())["results"]
    per = defaultdict(dict)
    with open(f / "per_image.csv") as fh:
        for r in csv.DictReader(fh):
            if r["codec"] == "lstm":
                per[r["image"]][int(float(r["setting"]))] = float(r.get("ms-ssim-rgb") or r["ms_ssim_rgb"])
    return bd, lstm, not_progressive(per)


def scale(bd: dict, scale_id: str) -> float:
    """A BD-rate by scale id, from bd_rate.json files of before the metric registry too (the
    files in docs/results keep their short names: ms-ssim-db, psnr)."""
    return bd[scale_id] if scale_id in bd else bd[OLD_NAMES[scale_id]]


OLD_NAMES = {"ms-ssim-rgb-db": "ms-ssim-db", "psnr-rgb": "psnr"}


def main(args):
    runs = dict(a.split("=", 1) for a in args)
    data = {name: load(folder) for name, folder in runs.items()}
    names = list(data)
    # bpp per model: entropy-coded sizes differ between models and from the plain 0.125 k
    print("| iterations | " + " | ".join(f"{n} bpp | {n} MS-SSIM | {n} PSNR (dB)" for n in names) + " |")
    print("|---:|" + "---:|---:|---:|" * len(names))
    first = data[names[0]][1]
    for i, k in enumerate(first["setting"]):
        cells = []
        for n in names:
            r = data[n][1]
            cells.append(f"{r['bpp'][i]:.3f} | {r['ms-ssim-rgb'][i]:.4f} | {r['psnr-rgb'][i]:.2f}")
        print(f"| {int(k)} | " + " | ".join(cells) + " |")
    print()
    print("| BD-rate of the LSTM against | " + " | ".join(f"{n}: MS-SSIM (dB) | {n}: PSNR" for n in names) + " |")
    print("|---|" + "---:|---:|" * len(names))
    for key, label in LABELS.items():
        cells = []
        for n in names:
            b = data[n][0]["bd_rate_percent_vs"].get(key)
            cells.append(f"{scale(b, 'ms-ssim-rgb-db'):+.1f}% | {scale(b, 'psnr-rgb'):+.1f}%" if b else "– | –")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    print("| bar (issue 3) | target | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    row = lambda label, target, f: print(f"| {label} | {target} | " + " | ".join(f(n) for n in names) + " |")  # noqa: E731
    row("BD-rate vs JPEG (MS-SSIM dB)", "−15% or better",
        lambda n: f"{scale(data[n][0]['bd_rate_percent_vs']['jpeg'], 'ms-ssim-rgb-db'):+.1f}%")
    row("MS-SSIM at 2 iterations", "≥ 0.88", lambda n: f"{data[n][1]['ms-ssim-rgb'][1]:.5f}")
    row("MS-SSIM at 16 iterations", "≥ 0.985", lambda n: f"{data[n][1]['ms-ssim-rgb'][15]:.5f}")
    row("progressive on every image", "yes", lambda n: "yes" if not data[n][2] else
        f"no: {len(data[n][2])} of {data[n][0]['images']} images have a step that does not improve")
    row("encode all 16 iterations, s per image", "", lambda n: f"{data[n][1]['encoding_time'][-1]:.1f}")
    row("decode all 16 iterations, s per image", "", lambda n: f"{data[n][1]['decoding_time'][-1]:.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
