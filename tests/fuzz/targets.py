"""What the fuzzers feed: bytes into the .lstm reader and entropy decoder, and into the image
loader. A target may raise only the codec's own errors (a sentence for the user); anything
else, or an allocation beyond the bound, is a bug.

Used by tests/test_fuzz.py (the seed corpus, the regression files, a time-bounded atheris
run) and by `python tests/fuzz/atheris_main.py` for longer runs."""
from __future__ import annotations

import struct
import tracemalloc
import zlib

import numpy as np

from codec.lstm import bitstream
from codec.lstm.context import PASSES, IntegerContext, probability_table
from codec.base.errors import BitstreamError, ImageReadError
from codec.imaging.imageio import load_rgb

# Each byte of an entropy-coded chunk may stand for up to 512 code bits
# (bitstream.MAX_EXPANSION), which the decoder holds as float32 with an int8 working copy:
# about 2.5 KB per input byte at most; the rest is a fixed overhead.
LSTM_BYTES_PER_INPUT_BYTE = 4096
LSTM_OVERHEAD = 1 << 20


def fuzz_context() -> IntegerContext:
    """A small fixed context model (random integers) for the learned mode's chunks."""
    rng = np.random.default_rng(30)
    w = lambda *shape: rng.integers(-64, 65, shape)  # noqa: E731
    return IntegerContext({"prev_w": w(16, 32, 3, 3), "here_w": w(16, 32, 3, 3), "prev_b": w(16),
                           "iteration": w(16, 16), "step": w(PASSES, 16), "mid_w": w(16, 16, 1, 1), "mid_b": w(16),
                           "out_w": w(32, 16, 1, 1), "out_b": w(32), "shifts": np.array([8, 8, 8, 8]),
                           "table": probability_table()})


CONTEXT = fuzz_context()


def lstm(data: bytes) -> None:
    """Parse a file and entropy-decode every iteration it holds (what a decoder does before
    running the network), with and without salvage; learned chunks with CONTEXT."""
    tracemalloc.start()
    try:
        for salvage in (False, True):
            try:
                parsed = bitstream.read(data, salvage=salvage)
                parsed.context = CONTEXT
                for t in range(parsed.available):
                    codes = parsed.iteration(t)
                    if codes.shape != parsed.header.code_shape:
                        raise AssertionError(f"iteration {t} decoded to {codes.shape}")
            except BitstreamError as e:
                if not str(e) or "\n" in str(e):
                    raise AssertionError(f"not a one-line message: {e!r}") from None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    bound = LSTM_BYTES_PER_INPUT_BYTE * len(data) + LSTM_OVERHEAD
    if peak > bound:
        raise AssertionError(f"{len(data)} input bytes made the reader allocate {peak} bytes (bound {bound})")


def image(data: bytes) -> None:
    """Load bytes as an image; libFuzzer's -rss_limit_mb bounds the memory (Pillow's own
    allocations are not traced)."""
    try:
        img = load_rgb(data)
    except ImageReadError as e:
        if not str(e) or "\n" in str(e):
            raise AssertionError(f"not a one-line message: {e!r}") from None
        return
    if img.pixels.ndim != 3 or img.pixels.shape[2] != 3 or img.pixels.dtype.name != "uint8":
        raise AssertionError(f"load_rgb returned {img.pixels.shape} {img.pixels.dtype}")


TARGETS = {"lstm": lstm, "image": image}


def with_checksums(data: bytes) -> bytes:
    """The same bytes with the header CRC and every version-2 iteration CRC recomputed, so a
    mutation reaches the code behind the checksums (what a buggy writer could produce)."""
    if len(data) < bitstream.HEADER_BYTES or data[:4] != bitstream.MAGIC:
        return data
    head = data[:26]
    out = bytearray(head + struct.pack(">I", zlib.crc32(head)))
    try:
        header = bitstream.parse_header(bytes(out))
    except BitstreamError:
        return bytes(out) + data[bitstream.HEADER_BYTES:]
    pos, crc = bitstream.HEADER_BYTES, header.chain_seed()
    while pos < len(data):
        if header.entropy_coded:
            if pos + 4 > len(data):
                break
            n = 4 + struct.unpack(">I", data[pos:pos + 4])[0]
        else:
            n = header.iteration_bytes
        block = data[pos:pos + n]
        out += block
        if not header.checksums or len(block) < n:
            pos += n
            continue
        crc = zlib.crc32(block, crc)
        out += struct.pack(">I", crc)
        pos += n + 4
    return bytes(out)
