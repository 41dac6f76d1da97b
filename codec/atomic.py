"""Atomic file writes: a file appears under its final name whole, or not at all.

A writer works on a hidden temporary file beside the target (same folder, so the final
rename stays on one file system), which is flushed to disk and then renamed over the
target; if the writer fails the temporary file is removed and the target is untouched. A
process killed mid-write leaves at most a hidden `.NAME-*.tmp.EXT` file, never a partial
file under the final name. The temporary name keeps the target's extension, for writers
that choose the format by it (Pillow, matplotlib, Qt).
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yields the temporary path to write; on a clean exit it becomes `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # on disk before the rename: a crash then leaves old or new
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
