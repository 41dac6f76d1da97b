"""The .lstm file format: a small header, then the code bits iteration by iteration.

Layout (all integers big-endian; see docs/format.md):

    offset size  field
    0      4     magic b"LSTM"
    4      1     format version (3; versions 1 and 2 are read too)
    5      1     flags: bit 0 (ENTROPY) = iterations are entropy-coded chunks;
                        bit 1 (BF16) = the network ran in bfloat16 (decode in bfloat16 too);
                        bit 2 (INT8) = its convolutions ran in int8 (codec/lstm/model/int8.py)
    6      4     image width in pixels
    10     4     image height in pixels
    14     1     iterations K in the encoding (1..255)
    15     1     bits C per 16x16 block per iteration (1..255)
    16     2     tile size in pixels (multiple of 16; the decoder must tile the same way)
    18     8     model id (first 8 bytes of the SHA-256 weights hash)
    26     4     CRC-32 of bytes 0..25
    30     ...   K iterations. Flags 0: each ceil(C * ceil(H/16) * ceil(W/16) / 8) bytes, the
                 (C, H/16, W/16) array of code bits, row-major, 1 = +1, packed MSB first.
                 ENTROPY: each a 4-byte length, then a chunk of codec/lstm/entropy.py (the bits
                 coded given the previous iteration's). Version 2: each iteration then ends
                 with a 4-byte CRC-32 of its bytes, chained (see `Header.chain_seed`).
                 Version 3: a chunk may be in the learned mode (entropy.LEARNED), coded with
                 the context model of the model the header names.

A prefix of the file cut at an iteration boundary is itself a valid file holding fewer
iterations: one file serves every bitrate.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from codec.lstm import entropy
from codec.base.errors import BitstreamError
from codec.imaging.units import BLOCK, MAX_PIXELS, bpp

MAGIC = b"LSTM"
VERSION = 3  # what this version writes
READABLE = (1, 2, 3)  # version 1: no per-iteration checksums; version 2: no learned chunks
ENTROPY = 0x01  # flags bit: entropy-coded iterations
BF16 = 0x02     # flags bit: the encoder's network ran in bfloat16; the decoder must too
INT8 = 0x04     # flags bit: the encoder's convolutions ran in int8 (its model's plan); the decoder's must too
PRECISION_FLAGS = {"fp32": 0, "bf16": BF16, "int8": INT8}
PRECISIONS = tuple(PRECISION_FLAGS)
_LEN = struct.Struct(">I")
_CRC = struct.Struct(">I")
# An entropy-coded chunk is at least 1/64 of the plain iteration (the encoder pads a smaller
# one with zero words, which the range decoder never reads), so a small file cannot make the
# decoder produce a huge array of bits: each byte stands for at most 512 code bits. Costs at
# most 0.002 bpp per iteration, and only on images far flatter than photos. Version 1
# writers did not pad, but only near-blank images compress that much: such a file is refused.
MAX_EXPANSION = 64
_HEAD = struct.Struct(">4sBBIIBBH8s")
HEADER_BYTES = _HEAD.size + 4  # + CRC-32


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
    def entropy_coded(self) -> bool:
        return bool(self.flags & ENTROPY)

    @property
    def precision(self) -> str:
        return next((p for p, bit in PRECISION_FLAGS.items() if bit and self.flags & bit), "fp32")

    @property
    def checksums(self) -> bool:
        """Whether each iteration ends with a CRC-32 (format version 2 on)."""
        return self.version >= 2

    @property
    def check_bytes(self) -> int:
        return _CRC.size if self.checksums else 0

    @property
    def min_chunk(self) -> int:
        """The smallest entropy-coded chunk this version allows."""
        return -(-self.iteration_bytes // MAX_EXPANSION)

    def chain_seed(self) -> int:
        """Where the iterations' CRC chain starts: the CRC-32 of the header's bytes 0..25 with
        the iteration count K set to 0. Each iteration's CRC covers its own bytes and starts
        from the previous iteration's CRC, so an iteration spliced in from another file or
        place is refused; K is left out so that a file cut short keeps its checksums."""
        return zlib.crc32(self._packed_fields(iterations=0))

    @property
    def code_shape(self) -> tuple[int, int, int]:
        return (self.bits, *self.blocks)

    @property
    def iteration_bytes(self) -> int:
        """Bytes of one uncompressed iteration (what an entropy-coded one is at most, plus 5)."""
        bh, bw = self.blocks
        return -(-self.bits * bh * bw // 8)

    def file_bytes(self, iterations: int) -> int:
        """Size of an uncompressed file of this many iterations (entropy-coded files: the
        sizes are known only once coded; see ParsedFile.file_bytes)."""
        return HEADER_BYTES + iterations * (self.iteration_bytes + self.check_bytes)

    def bpp(self, iterations: int) -> float:
        return bpp(self.file_bytes(iterations), self.height, self.width)

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
        if self.flags & ~(ENTROPY | BF16 | INT8) or (self.flags & BF16 and self.flags & INT8):
            raise BitstreamError(f"the file uses features (flags {self.flags:#04x}) this version does not "
                                 "support; upgrade lstm-compare.")

    def _packed_fields(self, iterations: int) -> bytes:
        return _HEAD.pack(MAGIC, self.version, self.flags, self.width, self.height, iterations,
                          self.bits, self.tile, bytes.fromhex(self.model_id))

    def pack(self) -> bytes:
        self.validate()
        head = self._packed_fields(self.iterations)
        return head + _CRC.pack(zlib.crc32(head))


def parse_header(data: bytes) -> Header:
    if len(data) < 4 or data[:4] != MAGIC:
        raise BitstreamError("this is not an .lstm file (it does not start with the bytes 'LSTM').")
    if len(data) < HEADER_BYTES:
        raise BitstreamError(f"the file is {len(data)} bytes, shorter than the {HEADER_BYTES}-byte header; "
                             "it was cut off.")
    if data[4] not in READABLE:
        newer = "a newer" if data[4] > VERSION else "a matching"
        raise BitstreamError(f"the file is format version {data[4]}, but this lstm-compare reads versions "
                             f"{' and '.join(map(str, READABLE))}; open it with {newer} version of lstm-compare.")
    head = data[:_HEAD.size]
    (crc,) = _CRC.unpack(data[_HEAD.size:HEADER_BYTES])
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


def iteration_segment(header: Header, codes: np.ndarray, prev: np.ndarray | None = None, context=None,
                    t: int = 0) -> bytes:
    """The bytes iteration t (0-based) `codes` adds to a file before its checksum (`prev`: the
    iteration before, if any; `context`: the model's context model, if it has one and the
    format allows it); `assemble` appends the checksums."""
    if not header.entropy_coded:
        return pack_iteration(codes)
    chunk = entropy.encode_iteration(codes, prev, context if header.version >= 3 else None, t)
    if len(chunk) < header.min_chunk:  # zero words after the range coder's: never read
        chunk += bytes(-(-(header.min_chunk - len(chunk)) // 4) * 4)
    return _LEN.pack(len(chunk)) + chunk


def segment_chunk(header: Header, segment: bytes) -> bytes | None:
    """The entropy coder's chunk (mode byte first) of a segment iteration_segment made; None in
    the plain layout."""
    return bytes(segment[_LEN.size:]) if header.entropy_coded else None


def write(header: Header, iterations: list[np.ndarray], context=None) -> bytes:
    if len(iterations) != header.iterations:
        raise ValueError("header iteration count and the codes given differ")
    return assemble(header, [iteration_segment(header, c, iterations[t - 1] if t else None, context, t)
                             for t, c in enumerate(iterations)])


def assemble(header: Header, segments: list[bytes]) -> bytes:
    """A file from iteration segments already made by iteration_segment (the progressive
    encoder makes them once, to know each size; they are not coded again)."""
    if len(segments) != header.iterations:
        raise ValueError("header iteration count and the segments given differ")
    if not header.checksums:
        return header.pack() + b"".join(segments)
    out, crc = [header.pack()], header.chain_seed()
    for segment in segments:
        crc = zlib.crc32(segment, crc)
        out += [segment, _CRC.pack(crc)]
    return b"".join(out)


@dataclass
class ParsedFile:
    header: Header
    payload: memoryview
    available: int  # intact iterations present (<= header.iterations for a cut file)
    ends: list[int] = field(default_factory=list)  # payload offset where each iteration ends
    damage: str = ""  # salvaged files: why the iterations after `available` were dropped
    context: object = None  # the named model's context model, for chunks in the learned mode
    _codes: dict = field(default_factory=dict, repr=False)

    def file_bytes(self, iterations: int) -> int:
        """Size of the file cut after this many iterations."""
        return HEADER_BYTES + self.ends[iterations - 1]

    def _chunk(self, t: int) -> bytes:
        """Iteration t's bytes without its length field and checksum."""
        start = (self.ends[t - 1] if t else 0) + (_LEN.size if self.header.entropy_coded else 0)
        return bytes(self.payload[start:self.ends[t] - self.header.check_bytes])

    def iteration(self, t: int, dtype=np.float32) -> np.ndarray:
        """Codes of iteration t (0-based), +-1 (np.int8: a quarter of the memory, for photos)."""
        if not 0 <= t < self.available:
            raise IndexError(t)
        if not self.header.entropy_coded:
            return unpack_iteration(self._chunk(t), self.header).astype(dtype, copy=False)
        if t not in self._codes:  # each iteration is coded given the one before
            prev = self.iteration(t - 1, np.int8) if t else None
            self._codes[t] = entropy.decode_iteration(self._chunk(t), self.header.code_shape, prev, self.context,
                                                      t).astype(np.int8)
        return self._codes[t].astype(dtype, copy=False)


class _Damage(Exception):
    """Raised inside read(): the file is unusable from iteration `index` (0-based) on."""

    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index


def _iteration_ends(header: Header, body: memoryview, ends: list[int]) -> None:
    """Append the end offset of each iteration, once checked (length, size, checksum), to
    `ends`. Raises _Damage at the first that is cut, malformed or damaged, or at bytes after
    the last; `ends` then holds the intact iterations before it."""
    pos = 0
    crc = header.chain_seed() if header.checksums else 0
    limit = header.iteration_bytes + 1  # a chunk is never larger than raw + its mode byte
    total = header.iterations
    while pos < len(body):
        t = len(ends)
        if t == total:
            raise _Damage(t, f"the file has {len(body) - pos} bytes after its last iteration")
        if header.entropy_coded:
            if len(body) - pos < _LEN.size:
                raise _Damage(t, f"the file is truncated in the length field of iteration {t + 1}")
            (n,) = _LEN.unpack(body[pos:pos + _LEN.size])
            if not header.min_chunk <= n <= limit:
                raise _Damage(t, f"iteration {t + 1} of the file claims {n} bytes (it can hold "
                                 f"{header.min_chunk} to {limit}); it is damaged")
            size = _LEN.size + n
        else:
            size = header.iteration_bytes
        have = len(body) - pos - header.check_bytes
        if have < size:
            raise _Damage(t, f"the file is truncated in the middle of iteration {t + 1} "
                             f"({max(have, 0)} of its {size} bytes)")
        if header.checksums:
            crc = zlib.crc32(body[pos:pos + size], crc)
            (stored,) = _CRC.unpack(body[pos + size:pos + size + _CRC.size])
            if stored != crc:
                raise _Damage(t, f"iteration {t + 1} of {total} is damaged (its checksum does not match)")
        pos += size + header.check_bytes
        ends.append(pos)


def read(data: bytes, salvage: bool = False) -> ParsedFile:
    """Parse and check a whole file; never allocates more than the file's own size.

    `salvage`: instead of refusing a file damaged or cut after some intact iterations, keep
    those (ParsedFile.damage says what was dropped). A file with no intact iteration, or
    whose header is damaged, is refused either way."""
    data = bytes(data)
    header = parse_header(data)
    body = memoryview(data)[HEADER_BYTES:]
    ends: list[int] = []
    damage = ""
    try:
        _iteration_ends(header, body, ends)
    except _Damage as d:
        if not (salvage and d.index > 0):
            what = (f"decode the {d.index} intact iteration{'s' * (d.index > 1)} before it with --salvage, "
                    "or re-encode the image" if d.index else "re-encode the image from the original")
            raise BitstreamError(f"{d}; {what}.") from None
        damage = str(d)
    if not ends:
        raise BitstreamError("the file holds a header but no complete iteration; re-encode the image.")
    return ParsedFile(header, body, len(ends), ends, damage)


def prefix(data: bytes, iterations: int) -> bytes:
    """The first `iterations` iterations of a file: itself a valid file (a lower bitrate)."""
    parsed = read(data)
    if not 1 <= iterations <= parsed.available:
        raise BitstreamError(f"the file holds {parsed.available} iterations; ask for 1 to {parsed.available}.")
    return bytes(data[:parsed.file_bytes(iterations)])


def salvage(data: bytes) -> tuple[bytes, str]:
    """The intact iterations of a damaged or cut file, as a valid file, and what was dropped
    ("" when nothing was). Raises BitstreamError when nothing can be kept."""
    parsed = read(data, salvage=True)
    return bytes(data[:parsed.file_bytes(parsed.available)]), parsed.damage


def file_info(data: bytes) -> dict:
    """What the header says, plus what the body holds; raises BitstreamError if malformed."""
    parsed = read(data)
    h = parsed.header
    ends = [HEADER_BYTES] + [parsed.file_bytes(k) for k in range(1, parsed.available + 1)]
    return {
        "format_version": h.version, "width": h.width, "height": h.height,
        "iterations_encoded": h.iterations, "iterations_present": parsed.available,
        "bits_per_block": h.bits, "tile": h.tile, "model_id": h.model_id,
        "entropy_coded": h.entropy_coded, "precision": h.precision,
        "checksums": "CRC-32 per iteration, all intact" if h.checksums else "none (format version 1)",
        "header_bytes": HEADER_BYTES,
        "bytes_per_iteration": [b - a for a, b in zip(ends, ends[1:])],
        "entropy_modes": [entropy.MODE_NAMES.get(parsed._chunk(t)[0], "unknown") for t in range(parsed.available)]
        if h.entropy_coded else [],
        "file_bytes": len(data), "bpp": round(bpp(len(data), h.height, h.width), 5),
    }
