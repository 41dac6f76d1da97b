"""The .lstm file format: a small header, then the code bits iteration by iteration.

Layout (all integers big-endian; see docs/format.md):

    offset size  field
    0      4     magic b"LSTM"
    4      1     format version (1)
    5      1     flags (0; reserved for entropy coding)
    6      4     image width in pixels
    10     4     image height in pixels
    14     1     iterations K in the encoding (1..255)
    15     1     bits C per 16x16 block per iteration (1..255)
    16     2     tile size in pixels (multiple of 16; the decoder must tile the same way)
    18     8     model id (first 8 bytes of the SHA-256 weights hash)
    26     4     CRC-32 of bytes 0..25
    30     ...   K iterations, each ceil(C * ceil(H/16) * ceil(W/16) / 8) bytes: the
                 (C, H/16, W/16) array of code bits, row-major, 1 = +1, packed MSB first

A prefix of the file cut at an iteration boundary is itself a valid file holding fewer
iterations: one file serves every bitrate.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

from .errors import BitstreamError

MAGIC = b"LSTM"
VERSION = 1
_HEAD = struct.Struct(">4sBBIIBBH8s")
HEADER_BYTES = _HEAD.size + 4  # + CRC-32
BLOCK = 16
MAX_PIXELS = 400_000_000  # same bound as for input images: no photo is larger


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    iterations: int
    bits: int
    tile: int
    model_id: str  # 16 hex digits
    flags: int = 0
    version: int = VERSION

    @property
    def blocks(self) -> tuple[int, int]:
        return -(-self.height // BLOCK), -(-self.width // BLOCK)

    @property
    def iteration_bytes(self) -> int:
        bh, bw = self.blocks
        return -(-self.bits * bh * bw // 8)

    def file_bytes(self, iterations: int) -> int:
        return HEADER_BYTES + iterations * self.iteration_bytes

    def bpp(self, iterations: int) -> float:
        return 8.0 * self.file_bytes(iterations) / (self.width * self.height)

    def validate(self) -> None:
        if not (1 <= self.width and 1 <= self.height):
            raise BitstreamError(f"the file says the image is {self.width}x{self.height} pixels, which is empty.")
        if self.width * self.height > MAX_PIXELS:
            raise BitstreamError(f"the file says the image is {self.width}x{self.height} pixels, "
                                 f"beyond the {MAX_PIXELS // 1_000_000}-megapixel limit; the file is corrupt.")
        if not 1 <= self.iterations <= 255 or not 1 <= self.bits <= 255:
            raise BitstreamError("the file's iteration count or bits per block is zero; the file is corrupt.")
        if self.tile < BLOCK or self.tile % BLOCK:
            raise BitstreamError(f"the file's tile size {self.tile} is not a positive multiple of {BLOCK}; "
                                 "the file is corrupt.")
        if self.flags != 0:
            raise BitstreamError(f"the file uses features (flags {self.flags:#04x}) this version does not "
                                 "support; upgrade lstm-compare.")

    def pack(self) -> bytes:
        self.validate()
        head = _HEAD.pack(MAGIC, self.version, self.flags, self.width, self.height, self.iterations,
                          self.bits, self.tile, bytes.fromhex(self.model_id))
        return head + struct.pack(">I", zlib.crc32(head))


def parse_header(data: bytes) -> Header:
    if len(data) < 4 or data[:4] != MAGIC:
        raise BitstreamError("this is not an .lstm file (it does not start with the bytes 'LSTM').")
    if len(data) < HEADER_BYTES:
        raise BitstreamError(f"the file is {len(data)} bytes, shorter than the {HEADER_BYTES}-byte header; "
                             "it was cut off.")
    if data[4] != VERSION:
        raise BitstreamError(f"the file is format version {data[4]}, but this lstm-compare reads version "
                             f"{VERSION}; use a matching version of lstm-compare.")
    head = data[:_HEAD.size]
    (crc,) = struct.unpack(">I", data[_HEAD.size:HEADER_BYTES])
    if zlib.crc32(head) != crc:
        raise BitstreamError("the file's header is damaged (checksum mismatch); the file is corrupt.")
    _, version, flags, w, h, k, c, tile, mid = _HEAD.unpack(head)
    header = Header(w, h, k, c, tile, mid.hex(), flags, version)
    header.validate()
    return header


def pack_iteration(codes: np.ndarray) -> bytes:
    """(C, Bh, Bw) array of +-1 (or bool, True = +1) -> bytes."""
    return np.packbits(np.asarray(codes).reshape(-1) > 0).tobytes()


def unpack_iteration(payload: bytes, header: Header) -> np.ndarray:
    """bytes -> (C, Bh, Bw) float32 array of +-1."""
    bh, bw = header.blocks
    n = header.bits * bh * bw
    bits = np.unpackbits(np.frombuffer(payload, np.uint8), count=n)
    return (bits.astype(np.float32) * 2 - 1).reshape(header.bits, bh, bw)


def write(header: Header, iterations: list[np.ndarray]) -> bytes:
    if len(iterations) != header.iterations:
        raise ValueError("header iteration count and the codes given differ")
    return header.pack() + b"".join(pack_iteration(c) for c in iterations)


@dataclass
class ParsedFile:
    header: Header
    payload: memoryview
    available: int  # complete iterations present (<= header.iterations for a cut file)

    def iteration(self, t: int) -> np.ndarray:
        """Codes of iteration t (0-based)."""
        if not 0 <= t < self.available:
            raise IndexError(t)
        n = self.header.iteration_bytes
        return unpack_iteration(bytes(self.payload[t * n:(t + 1) * n]), self.header)


def read(data: bytes) -> ParsedFile:
    """Parse and check a whole file; never allocates more than the file's own size."""
    data = bytes(data)
    header = parse_header(data)
    body = len(data) - HEADER_BYTES
    n = header.iteration_bytes
    complete, rest = divmod(body, n)
    if complete > header.iterations or (complete == header.iterations and rest):
        raise BitstreamError(f"the file has {body - header.iterations * n} bytes after its last "
                             f"iteration; the file is corrupt.")
    if rest:
        raise BitstreamError(f"the file is truncated in the middle of iteration {complete + 1} "
                             f"({rest} of its {n} bytes); cut files only at iteration boundaries, "
                             f"or re-encode.")
    if complete == 0:
        raise BitstreamError("the file holds a header but no complete iteration; re-encode the image.")
    return ParsedFile(header, memoryview(data)[HEADER_BYTES:], complete)


def prefix(data: bytes, iterations: int) -> bytes:
    """The first `iterations` iterations of a file: itself a valid file (a lower bitrate)."""
    parsed = read(data)
    if not 1 <= iterations <= parsed.available:
        raise BitstreamError(f"the file holds {parsed.available} iterations; ask for 1 to {parsed.available}.")
    return bytes(data[:parsed.header.file_bytes(iterations)])
