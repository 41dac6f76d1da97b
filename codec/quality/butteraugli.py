"""Butteraugli, libjxl's psychovisual distance (0: identical; about 1: just noticeable; lower is
better), through libjxl's own tool `butteraugli_main` (Debian's libjxl-devtools) where it is
installed: the reference implementation, not a port. The metric table (registry.py) lists it
only where the tool is found."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

TOOL = "butteraugli_main"


def available() -> bool:
    return shutil.which(TOOL) is not None


def butteraugli(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """The max-norm distance the tool prints first (its headline number), on 8-bit sRGB."""
    with tempfile.TemporaryDirectory(prefix="butteraugli-") as d:
        a, b = Path(d) / "a.png", Path(d) / "b.png"
        Image.fromarray(original).save(a, compress_level=0)
        Image.fromarray(reconstruction).save(b, compress_level=0)
        r = subprocess.run([TOOL, str(a), str(b)], capture_output=True, text=True, timeout=600)
    if r.returncode != 0 or not r.stdout.strip():
        raise RuntimeError(f"{TOOL} failed ({r.returncode}): {r.stderr.strip().splitlines()[-1:] or ''}")
    return float(r.stdout.split()[0])
