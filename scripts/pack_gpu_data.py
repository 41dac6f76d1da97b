"""Pack the training photos into .gpu/data for a GPU machine that can take 64 MiB along.

    python scripts/pack_gpu_data.py [--src ../shared/data/train] [--out .gpu/data] [--max-side 1024]

BSDS500 train+val as they are (JPEG, ~22 MB) and the 49 large photos downscaled to at most
--max-side pixels (JPEG quality 93, 4:4:4; ~16 MB). The test split of BSDS500 is left out to
stay under the limit with the repository beside it. `.gpu/` is git-ignored.
"""
import argparse
import shutil
from pathlib import Path

from PIL import Image


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--src", default=str(Path(__file__).resolve().parent.parent.parent / "shared/data/train"))
    p.add_argument("--out", default=".gpu/data")
    p.add_argument("--max-side", type=int, default=1024)
    a = p.parse_args()
    src, out = Path(a.src), Path(a.out)
    if not (src / "bsds500").is_dir():
        raise SystemExit(f"{src} has no bsds500 folder; pass --src pointing at the shared training photos.")
    for split in ("train", "val"):
        shutil.copytree(src / "bsds500" / split, out / "bsds500" / split, dirs_exist_ok=True)
    (out / "wiki").mkdir(parents=True, exist_ok=True)
    for f in sorted((src / "wikipedia_photos").glob("*.*")):
        if f.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        im = Image.open(f).convert("RGB")
        s = min(1.0, a.max_side / max(im.size))
        if s < 1:
            im = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
        im.save(out / "wiki" / (f.stem + ".jpg"), quality=93, subsampling=0)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"{out}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
