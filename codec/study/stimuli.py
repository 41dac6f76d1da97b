"""Making a study: each image cropped once (the same crop for every condition, shown at 1:1),
the LSTM at the chosen iterations, each classical codec matched to the LSTM's real bpp within
a stated tolerance, and the pairs that connect them all on one scale: every codec against every
other at the same bitrate, and each codec's neighbouring bitrates.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from codec.base.errors import CodecError
from codec.classical import get_codec, match_bpp
from codec.imaging.imageio import load_rgb
from codec.imaging.units import bpp as bits_per_pixel
from codec.study.folder import Condition, Study, StudyFolderError, new_id

CROP = 512              # three panels side by side at 1:1 fit a 1920-pixel screen
TOLERANCE_BPP = 0.02    # a classical codec farther than this from the LSTM's bpp is left out, and said
TRAP_QUALITY = 5        # JPEG quality of the trap: plainly worse than every condition


def centre_crop(pixels: np.ndarray, size: int = CROP) -> tuple[np.ndarray, list[int]]:
    """The centre `size` x `size` (the whole where smaller), and where it is: [y, x, h, w]."""
    h, w = pixels.shape[:2]
    ch, cw = min(h, size), min(w, size)
    y, x = (h - ch) // 2, (w - cw) // 2
    return np.ascontiguousarray(pixels[y:y + ch, x:x + cw]), [y, x, ch, cw]


def _png(pixels: np.ndarray, path: Path) -> None:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    path.write_bytes(buf.getvalue())


def create_study(folder, images: list, lstm, codecs: list[str], iterations: list[int] | None = None,
                 tolerance: float = TOLERANCE_BPP, check_every: int = 10,
                 progress: Callable[[str], None] | None = None, bpp: list[float] | None = None) -> Study:
    """A new study in `folder` (which must not hold one: nothing is overwritten): `images` are
    paths, `lstm` an LSTMCodec, `codecs` classical codec keys; the bitrates are the LSTM's
    `iterations`, or on each image the iterations whose real bpp is nearest each of `bpp`."""
    folder = Path(folder)
    if (folder / "manifest.json").exists():
        raise StudyFolderError(f"{folder} holds a study already; choose an empty folder (nothing is overwritten).")
    if not images or not (iterations or bpp):
        raise StudyFolderError("a study needs at least one image, and LSTM iteration counts or bpp targets.")
    folder.mkdir(parents=True, exist_ok=True)
    study = Study(new_id(), {}, [], [], check_every=check_every, folder=folder)
    names = set()
    for path in map(Path, images):
        name = path.stem if path.stem not in names else f"{path.stem}-{len(names)}"
        names.add(name)
        if progress:
            progress(f"coding {path.name}")
        _add_image(study, name, path, lstm, codecs, sorted(set(iterations or [])), tolerance, bpp)
    study.save()
    return study


def _add_image(study: Study, name: str, path: Path, lstm, codecs, iterations, tolerance, bpp=None) -> None:
    pixels, crop = centre_crop(load_rgb(path).pixels)
    h, w = pixels.shape[:2]
    where = study.folder / "stimuli" / name
    where.mkdir(parents=True, exist_ok=True)
    _png(pixels, where / "original.png")
    trap = get_codec("jpeg").encode(pixels, TRAP_QUALITY)
    _png(trap.reconstruction, where / "trap.png")
    study.images[name] = {"source": path.name, "crop": crop, "original": f"stimuli/{name}/original.png",
                          "trap": f"stimuli/{name}/trap.png", "trap_bpp": trap.bpp}
    # codec -> bitrate rank (the LSTM iteration's place in `iterations`) -> condition
    by_codec: dict[str, dict[int, Condition]] = {"lstm": {}}
    results = list(lstm.encode_progressive(pixels, max(iterations) if iterations else None))
    if bpp:  # the iterations nearest the targets on this image
        iterations = sorted({min(results, key=lambda r: abs(r.bpp - b)).iteration for b in bpp})
    for r in results:
        if r.iteration in iterations:
            by_codec["lstm"][iterations.index(r.iteration)] = _condition(study, name, "lstm", r.bpp, r.iteration,
                                                                         r.reconstruction)
    for key in codecs:
        by_codec[key] = {}
        for rank, target in by_codec["lstm"].items():
            try:
                best = match_bpp(key, pixels, target.bpp).best
            except CodecError as e:
                study.notes.append(f"{name}: {get_codec(key).label} failed ({e}); left out.")
                break
            if abs(best.bpp - target.bpp) > tolerance:
                study.notes.append(f"{name}: {get_codec(key).label} came no closer than {best.bpp:.3f} bpp to the "
                                   f"LSTM's {target.bpp:.3f} (tolerance {tolerance}); that condition is left out.")
                continue
            by_codec[key][rank] = _condition(study, name, key, bits_per_pixel(best.num_bytes, h, w), best.setting,
                                             best.reconstruction)
    study.pairs += _pairs(name, by_codec)


def _condition(study: Study, image: str, codec: str, bpp: float, setting, pixels: np.ndarray) -> Condition:
    c = Condition(image, codec, round(float(bpp), 3), float(setting), "")
    c = Condition(image, codec, c.bpp, c.setting, f"stimuli/{image}/{c.name}.png")
    if any(o.image == image and o.name == c.name for o in study.conditions):
        return next(o for o in study.conditions if o.image == image and o.name == c.name)
    _png(pixels, study.path(c.file))
    study.conditions.append(c)
    return c


def _pairs(image: str, by_codec: dict[str, dict[int, Condition]]) -> list[tuple[str, str, str]]:
    """Every codec against every other at the same rank of bitrate, and each codec's
    neighbouring bitrates: one connected scale."""
    out = set()
    keys = [k for k, v in by_codec.items() if v]
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            for rank in sorted(set(by_codec[a]) & set(by_codec[b])):
                out.add((image, by_codec[a][rank].name, by_codec[b][rank].name))
        ranks = sorted(by_codec[a])
        for lo, hi in zip(ranks, ranks[1:]):
            out.add((image, by_codec[a][lo].name, by_codec[a][hi].name))
    return sorted(out)
