"""Two evaluations of the same model in two precisions, image by image (issue 45's check).

    python scripts/compare_precisions.py docs/results/verdicts-proposed-quick docs/results/verdicts-proposed-int8

Reads each folder's per_image.csv (`lstm-codec eval` / scripts/kodak_bars.py) and prints the
LSTM's BD-rate against JPEG in each (from bd_rate.json, MS-SSIM dB), the difference in points,
and every (image, iteration) where MS-SSIM rises in the first and falls in the second.
"""
from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from pathlib import Path


def lstm_msssim(folder: Path) -> dict[str, list[float]]:
    rows = defaultdict(list)
    with open(folder / "per_image.csv") as f:
        for r in csv.DictReader(f):
            if r["codec"] == "lstm":
                rows[r["image"]].append((int(r["setting"]), float(r["ms-ssim-rgb"])))
    return {image: [v for _, v in sorted(points)] for image, points in rows.items()}


def main(argv=None) -> int:
    argv = argv if argv is not None else sys.argv[1:]
    if len(argv) != 2:
        sys.exit(__doc__)
    a, b = map(Path, argv)
    for folder in (a, b):
        bd = json.loads((folder / "bd_rate.json").read_text())["bd_rate_percent_vs"]
        print(f"{folder}: BD-rate against JPEG {bd['jpeg']['ms-ssim-rgb-db']:+.2f}% (MS-SSIM dB), "
              f"{bd['jpeg'].get('ssimulacra2', float('nan')):+.2f}% (SSIMULACRA2), "
              f"{bd['jpeg']['psnr-rgb']:+.2f}% (PSNR)")
    da = json.loads((a / "bd_rate.json").read_text())["bd_rate_percent_vs"]["jpeg"]["ms-ssim-rgb-db"]
    db = json.loads((b / "bd_rate.json").read_text())["bd_rate_percent_vs"]["jpeg"]["ms-ssim-rgb-db"]
    print(f"difference: {db - da:+.2f} points")
    qa, qb = lstm_msssim(a), lstm_msssim(b)
    falls = [(image, i + 1, x[i] - x[i - 1], y[i] - y[i - 1]) for image, x in qa.items() if image in qb
             for y in [qb[image]] for i in range(1, min(len(x), len(y))) if x[i] > x[i - 1] and y[i] < y[i - 1]]
    print(f"iterations where MS-SSIM rises in {a.name} and falls in {b.name}: {len(falls)}")
    for image, k, da_, db_ in falls:
        print(f"  {image} iteration {k}: {da_:+.2e} there, {db_:+.2e} here")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
