"""Process settings that make the codec's tensors cheap to allocate.

glibc's malloc hands every block above its mmap threshold (at most 32 MB by default) to the
kernel and back, so each of the decoder's large gate tensors (50 MB for a Kodak image)
costs fresh zeroed pages, hundreds of thousands of page faults per image: measured 14% of
a decode. Raising the threshold keeps such blocks in the heap for reuse; the trim
threshold still returns free memory above it to the system, and blocks larger than the
threshold (tiles of very large photos) are still mapped and unmapped as before. One arena
for all threads: other threads' arenas cannot hold blocks over 64 MB, so the app's worker
thread would otherwise pay the page faults again.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
MMAP_THRESHOLD = 256 << 20
TRIM_THRESHOLD = 512 << 20

_tuned: bool | None = None


def tune_allocator() -> bool:
    """Apply the settings above once per process; False where malloc is not glibc's."""
    global _tuned
    if _tuned is None:
        _tuned = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                _tuned = all(libc.mallopt(opt, value) == 1 for opt, value in (
                    (M_ARENA_MAX, 1), (M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD)))
            except (OSError, AttributeError):  # musl and others: no mallopt, nothing to tune
                pass
    return _tuned


def release_free_memory() -> None:
    """Hand the heap's free memory back to the system now (glibc's malloc_trim): after a
    one-off large allocation, such as decoding a 50-megapixel photo to keep a region of it,
    which the trim threshold above would otherwise keep for reuse."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass
