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

# mkstemp makes 0600 files; the result should have the mode any other new file would get
# (read once, at import: reading the umask means setting it, which is not thread-safe)
_UMASK = os.umask(0o022)
os.umask(_UMASK)


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
        # an overwritten file keeps its mode; a new one gets the usual 0666 less the umask
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_UMASK)
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
