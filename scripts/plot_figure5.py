"""The paper's Figure 5 for our models: MS-SSIM (and PSNR) vs bpp on Kodak for JPEG, the
baseline LSTM and the proposed LSTM (plus the other classical codecs), from the
CompressAI-style JSON that `scripts/kodak_bars.py` writes for each model.

    python scripts/plot_figure5.py --baseline docs/results/kodak-baseline \\
        --proposed docs/results/kodak-proposed --out docs/img/kodak_rd.png \\
        [--baseline-plain docs/results/kodak-baseline-plain] [--proposed-plain ...] \\
        [--msssim docs/results/kodak-baseline-msssim] [--msssim-plain ...] [--msssim-refined ...]

--msssim adds the baseline fine-tuned on L1 + MS-SSIM (not in the paper's figure);
--msssim-refined the same model with encoder-side refinement (kodak_bars.py --refine 10).
The --*-plain folders (evaluations with --no-entropy, the paper's plain bits) add dotted
curves: the same reconstructions, at the sizes without entropy coding.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codec.rd.evaluate import FIGURE_CODECS  # noqa: E402
from codec.rd.figures import rd_plot  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--baseline", default="", help="kodak_bars output folder of the baseline model")
    p.add_argument("--proposed", default="", help="kodak_bars output folder of the proposed model")
    p.add_argument("--baseline-plain", default="", help="the baseline evaluated with --no-entropy (optional)")
    p.add_argument("--proposed-plain", default="", help="the proposed model evaluated with --no-entropy (optional)")
    p.add_argument("--msssim", default="", help="the baseline tuned for MS-SSIM (optional)")
    p.add_argument("--msssim-plain", default="", help="the same with --no-entropy (optional)")
    p.add_argument("--msssim-quick", default="", help="the same with --encoder quick (optional)")
    p.add_argument("--msssim-refined", default="", help="the same with --encoder thorough (optional)")
    p.add_argument("--classical", default=",".join(FIGURE_CODECS))
    p.add_argument("--classical-dir", default="docs/results/classical", help="folder of the classical codecs' JSON")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    curves = {}
    for key in filter(None, a.classical.split(",")):
        f = Path(a.classical_dir) / f"{key}.json"
        if f.exists():
            curves[key] = json.loads(f.read_text())["results"]
    for name, folder in (("lstm-baseline", a.baseline), ("lstm-proposed", a.proposed),
                         ("lstm-baseline-plain", a.baseline_plain), ("lstm-proposed-plain", a.proposed_plain),
                         ("lstm-baseline-msssim", a.msssim), ("lstm-baseline-msssim-plain", a.msssim_plain),
                         ("lstm-baseline-msssim-quick", a.msssim_quick),
                         ("lstm-baseline-msssim-refined", a.msssim_refined)):
        if folder:
            curves[name] = json.loads((Path(folder) / "lstm.json").read_text())["results"]
    rd_plot(curves, a.out, title="Kodak, 24 images (bpp from real file bytes)")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
