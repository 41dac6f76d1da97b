"""Choose which layers of a model run in int8 (issue 45), on training photos, by rate-distortion.

Weight-error calibration is the wrong target for a codec (RDO-PTQ, arXiv 2211.02854); this
measures what a user gets instead, on centre crops of training photos (never Kodak), with the
encoder network's own bits (the fast encoder):

1. Each decoder layer's share of int8's loss: the photos' float32 bits decoded by an int8
   decoder, that layer alone in the fallback precision, against the float32 decoder (MS-SSIM
   in dB over every iteration; the same bits each time, so no bit-flip noise, unlike a whole
   encode, whose BD-rate moves by 0.1 points between layers that change nothing).
2. The plan: every decoder layer whose share is at least --share of the whole loss in the
   fallback precision, and the encoder's layers in --encoder-precision. The encoder only
   chooses the bits (the decoder reproduces whatever it sends), but its int8 choices are worse:
   on eight training photos with the proposed model, +0.26 BD-rate points against an fp32
   encoder with the same decoder, for about a sixth of an encode's arithmetic.
3. The check: the whole codec with the plan against float32, real entropy-coded bytes: the
   BD-rate on MS-SSIM (dB), the mean over the photos, and the iterations where float32
   improves a photo and the plan makes it worse ("falls").

It prints the plan (--write: into resources/models/int8_plans.json, which a shipped model's int8
files depend on: a model's plan is written once, before its int8 files exist).

    python scripts/calibrate_int8.py --model proposed --images 8
    python scripts/calibrate_int8.py --model proposed --plan '{"decoder.tail": "fp32"}'
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from codec.imaging.imageio import find_images, load_rgb  # noqa: E402
from codec.lstm.checkpoint import load_model  # noqa: E402
from codec.lstm.coder import LSTMCodec  # noqa: E402
from codec.lstm.model import int8  # noqa: E402
from codec.lstm.zoo import resolve_model  # noqa: E402
from codec.imaging.pixels import to_tensor, to_uint8  # noqa: E402
from codec.quality.metrics import msssim, msssim_db  # noqa: E402
from codec.rd.bd import bd_rate  # noqa: E402

DATA = ROOT.parent / "shared/data/train/bsds500/train"
CROP = (320, 480)  # BSDS500's 321x481 photos, to whole blocks


def photos(count: int) -> list[np.ndarray]:
    if not DATA.is_dir():
        sys.exit(f"the training photos are not at {DATA}; this script needs ../shared beside the repository.")
    out = []
    for path in find_images(DATA)[:count]:
        px = load_rgb(path).pixels
        if px.shape[0] > px.shape[1]:
            px = px.transpose(1, 0, 2)
        h, w = CROP
        y, x = (px.shape[0] - h) // 2, (px.shape[1] - w) // 2
        out.append(np.ascontiguousarray(px[y:y + h, x:x + w]))
    return out


def curve(codec: LSTMCodec, px: np.ndarray) -> dict:
    bpp, quality = [], []
    for r in codec.encode_progressive(px):
        bpp.append(r.bpp)
        quality.append(msssim(r.reconstruction, px))
    return {"bpp": bpp, "ms-ssim-rgb": quality}


def compare(reference: list[dict], test: list[dict]) -> tuple[float, int]:
    """Mean BD-rate (%) of `test` against `reference` on MS-SSIM dB, and how many iterations fall
    in `test` where they rise in `reference`."""
    rates, falls = [], 0
    for a, t in zip(reference, test):
        da = {"bpp": a["bpp"], "ms-ssim-rgb-db": [msssim_db(v) for v in a["ms-ssim-rgb"]]}
        dt = {"bpp": t["bpp"], "ms-ssim-rgb-db": [msssim_db(v) for v in t["ms-ssim-rgb"]]}
        rates.append(bd_rate(da, dt, "ms-ssim-rgb-db"))
        qa, qt = a["ms-ssim-rgb"], t["ms-ssim-rgb"]
        falls += sum(qa[i] > qa[i - 1] and qt[i] < qt[i - 1] for i in range(1, len(qa)))
    return float(np.mean(rates)), falls


class Bench:
    def __init__(self, model: str, images: int):
        self.model = load_model(resolve_model(model))
        self.net = self.model.net.eval()
        self.photos = photos(images)
        self.codec = LSTMCodec(self.model, refine=None, precision="int8", device="cpu")
        fp32 = LSTMCodec(self.model, refine=None, precision="fp32", device="cpu")
        self.reference = [curve(fp32, px) for px in self.photos]
        self.bits = [self._own_bits(px) for px in self.photos]
        self.decoded = self.decode_db(self.net)

    @torch.no_grad()
    def _own_bits(self, px) -> list[torch.Tensor]:
        net, x = self.net, to_tensor(px)
        enc, dec = net.init_states(x.shape)
        recon, out = None, []
        for t in range(self.model.config.iterations):
            bits, enc = net.encode_step(x if recon is None else x - recon, enc, False, t)
            recon, dec = net.decode_step(bits, recon, dec, t)
            out.append(bits)
        return out

    @torch.no_grad()
    def decode_db(self, net) -> np.ndarray:
        """MS-SSIM (dB) of the float32 bits decoded by `net`: photos x iterations."""
        out = []
        for px, bits in zip(self.photos, self.bits):
            dec, recon, row = net.decoder.init_state(), None, []
            for t, b in enumerate(bits):
                recon, dec = net.decode_step(b, recon, dec, t)
                row.append(msssim_db(msssim(to_uint8(recon), px)))
            out.append(row)
        return np.array(out)

    def decoder_loss(self, plan: dict[str, str]) -> float:
        """The mean MS-SSIM (dB) the plan's decoder loses against float32's."""
        return float((self.decoded - self.decode_db(int8.quantize(self.net, plan))).mean())

    def measure(self, plan: dict[str, str]) -> tuple[float, int]:
        # a plan on trial: files written this way would decode only with it, so none are written
        self.codec._nets["int8"] = int8.quantize(self.net, plan)
        return compare(self.reference, [curve(self.codec, px) for px in self.photos])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="proposed")
    p.add_argument("--images", type=int, default=8, help="training photos (BSDS500 train, centre crops)")
    p.add_argument("--encoder-precision", choices=["int8", "bf16", "fp32"], default="bf16",
                   help="the encoder's layers (default bf16)")
    p.add_argument("--share", type=float, default=0.1,
                   help="a decoder layer with at least this share of int8's loss runs in the fallback precision")
    p.add_argument("--fallback", choices=["bf16", "fp32"], default="bf16")
    p.add_argument("--plan", help="measure this plan (JSON {layer: precision}) and stop")
    p.add_argument("--write", action="store_true", help="record the chosen plan for the model")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    bench = Bench(a.model, a.images)
    if a.plan is not None:
        plan = json.loads(a.plan)
        rate, falls = bench.measure(plan)
        print(f"plan {a.plan}: decoder loss {bench.decoder_loss(plan):.4f} dB; "
              f"BD-rate {rate:+.3f}% against fp32, {falls} falls")
        return 0
    whole = bench.decoder_loss({})
    print(f"every layer int8: the decoder loses {whole:.4f} dB of MS-SSIM against fp32's, on fp32's bits")
    shares = {}
    for name in (n for n in int8.layer_names(bench.net) if n.startswith("decoder.")):
        shares[name] = (whole - bench.decoder_loss({name: a.fallback})) / whole
        print(f"  {name} in {a.fallback}: {shares[name]:+.1%} of it ({time.perf_counter() - t0:.0f} s)", flush=True)
    plan = {name: a.fallback for name, share in shares.items() if share >= a.share}
    plan |= {name: a.encoder_precision for name in int8.layer_names(bench.net)
             if not name.startswith("decoder.") and a.encoder_precision != "int8"}
    loss = bench.decoder_loss(plan)
    rate, falls = bench.measure(plan)
    everything = bench.measure({})
    print(f"every layer int8: BD-rate {everything[0]:+.3f}% against fp32, {everything[1]} falls")
    print(json.dumps({"model": bench.model.model_id, "plan": plan, "decoder_loss_db": round(loss, 4),
                      "bd_rate_vs_fp32": round(rate, 3), "falls": falls, "images": a.images}, indent=1))
    if a.write:
        record = json.loads(int8.PLANS_FILE.read_text()) if int8.PLANS_FILE.exists() else {"plans": {}}
        if bench.model.model_id in record["plans"]:
            sys.exit(f"{bench.model.model_id} has a plan already; its int8 files depend on it. Not overwritten.")
        record["plans"][bench.model.model_id] = plan
        int8.PLANS_FILE.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
        print(f"written to {int8.PLANS_FILE}")
    print(f"{time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
