"""Encode on a GPU, decode on the CPU (and the reverse), and time both: the validation of
`--device` that issue 45 asks for wherever a GPU is at hand. For every image, the picture the
CPU decodes from the GPU's file must be within one level of the GPU's own reconstruction, and
the other way round.

    python scripts/gpu_roundtrip.py ../shared/data/kodak --device cuda [--limit 24] [--encoder fast]

Prints one line per image and a summary (the worst difference in levels, the share of pixels
that differ, mean encode and decode times per device); exits 1 when any picture differs by more
than one level, 2 when the device is not here.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from codec.base.errors import CodecError  # noqa: E402
from codec.imaging.imageio import find_images, load_rgb  # noqa: E402
from codec.lstm.coder import LSTMCodec  # noqa: E402
from codec.lstm.encoders import ENCODERS  # noqa: E402
from codec.lstm.options import LSTMOptions  # noqa: E402


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("images")
    p.add_argument("--device", default="cuda", choices=["cuda", "mps"])
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--iterations", type=int, default=16)
    p.add_argument("--encoder", default="fast", choices=sorted(ENCODERS))
    a = p.parse_args(argv)
    options = LSTMOptions.with_encoder(a.encoder)
    try:
        gpu = LSTMCodec.from_options(options.replace(device=a.device))
    except CodecError as e:
        print(e, file=sys.stderr)
        return 2
    cpu = LSTMCodec.from_options(options.replace(device="cpu"), gpu.model)
    worst, differing, times = 0, [], {"gpu encode": [], "cpu decode": [], "cpu encode": [], "gpu decode": []}
    for path in find_images(a.images)[:a.limit or None]:
        pixels = load_rgb(path).pixels
        for enc, dec, e_name, d_name in ((gpu, cpu, "gpu encode", "cpu decode"), (cpu, gpu, "cpu encode", "gpu decode")):
            (data, own), t_enc = timed(enc.encode, pixels, a.iterations)
            other, t_dec = timed(dec.decode, data)
            diff = np.abs(own.astype(int) - other.astype(int))
            worst = max(worst, int(diff.max()))
            differing.append(float((diff > 0).mean()))
            times[e_name].append(t_enc)
            times[d_name].append(t_dec)
            print(f"{path.name}: {e_name[:3]} -> {d_name[:3]}: {len(data)} bytes, max difference {diff.max()} levels, "
                  f"{100 * (diff > 0).mean():.3f}% of samples differ, encode {t_enc:.2f} s, decode {t_dec:.2f} s",
                  flush=True)
    print(f"worst difference {worst} levels (bar: 1); samples differing {100 * np.mean(differing):.3f}% on average")
    for name, values in times.items():
        print(f"{name}: {np.mean(values):.2f} s per image (median {np.median(values):.2f} s)")
    return 0 if worst <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
