import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codec import bitstream
from codec.bitstream import HEADER_BYTES, Header
from codec.coder import LSTMCodec
from codec.errors import BitstreamError, CodecError, ModelError


def _file(h=40, w=56, k=3, bits=32, mid="0123456789abcdef", flags=0, p_one=0.5):
    header = Header(w, h, k, bits, 1024, mid, flags)
    rng = np.random.default_rng(0)
    codes = [np.where(rng.random((bits, *header.blocks)) < p_one, 1.0, -1.0) for _ in range(k)]
    return header, codes, bitstream.write(header, codes)


def _coded_file(k=3):
    """Entropy-coded, with bits skewed enough that every iteration is stored coded."""
    return _file(h=160, w=192, k=k, flags=bitstream.ENTROPY, p_one=0.1)


def _smooth_file(k=2):
    """Entropy-coded, with codes that repeat across neighbouring blocks (as an LSTM's early
    iterations do on smooth photos), so the spatial modes win."""
    header = Header(192, 160, k, 32, 1024, "0123456789abcdef", bitstream.ENTROPY)
    rng = np.random.default_rng(1)
    bh, bw = header.blocks
    codes = [np.where(rng.random((32, 1 + bh // 4, 1 + bw // 4)) < 0.5, 1.0, -1.0)
             .repeat(4, 1).repeat(4, 2)[:, :bh, :bw] for _ in range(k)]
    return header, codes, bitstream.write(header, codes)


def test_header_roundtrip_and_size_formula():
    header, codes, data = _file()
    assert len(data) == HEADER_BYTES + 3 * 32 * 3 * 4 // 8  # ceil(40/16)=3, ceil(56/16)=4
    parsed = bitstream.read(data)
    assert parsed.header == header and parsed.available == 3
    for t in range(3):
        assert np.array_equal(parsed.iteration(t), codes[t])


def test_prefix_is_a_valid_file_with_fewer_iterations():
    header, codes, data = _file()
    for k in (1, 2):
        cut = bitstream.prefix(data, k)
        assert len(cut) == header.file_bytes(k)
        assert bitstream.read(cut).available == k


def _with_header(**changes):
    h, _, data = _file()
    fields = dict(magic=b"LSTM", version=1, flags=0, w=h.width, h=h.height, k=h.iterations,
                  c=h.bits, tile=h.tile, mid=bytes.fromhex(h.model_id))
    fields.update(changes)
    head = struct.pack(">4sBBIIBBH8s", *fields.values())
    return head + struct.pack(">I", zlib.crc32(head)) + data[HEADER_BYTES:]


@pytest.mark.parametrize("data, message", [
    (b"", "not an .lstm file"),
    (b"GIF89a" + b"\0" * 40, "not an .lstm file"),
    (b"LSTM\x01", "shorter than"),
    (_with_header(version=9), "format version 9"),
    (_with_header(flags=4), "features"),
    (_with_header(w=0), "empty"),
    (_with_header(w=4_000_000_000, h=4_000_000_000), "megapixel"),
    (_with_header(k=0), "iteration count"),
    (_with_header(tile=24), "tile size"),
])
def test_hostile_headers(data, message):
    with pytest.raises(BitstreamError, match=message):
        bitstream.read(data)


def test_damaged_header_checksum():
    _, _, data = _file()
    bad = bytearray(data)
    bad[8] ^= 0x40
    with pytest.raises(BitstreamError, match="checksum"):
        bitstream.read(bytes(bad))


def test_truncated_mid_iteration_and_trailing_bytes():
    h, _, data = _file()
    with pytest.raises(BitstreamError, match="middle of iteration 3"):
        bitstream.read(data[:-5])
    with pytest.raises(BitstreamError, match="after its last iteration"):
        bitstream.read(data + b"x")
    with pytest.raises(BitstreamError, match="no complete iteration"):
        bitstream.read(data[:HEADER_BYTES])


def test_absurd_size_does_not_allocate():
    # 20000 x 20000 pixels is allowed, but the body is missing: refused before any decoding
    data = _with_header(w=20000, h=20000)
    with pytest.raises(BitstreamError, match="middle of iteration 1"):
        bitstream.read(data)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_files_only_raise_codec_errors(tiny_model, data):
    """Thousands of mutated files: every one decodes or raises the codec's own error."""
    codec = _fuzz_codec(tiny_model)
    base = _fuzz_file(tiny_model)
    buf = bytearray(base)
    ops = data.draw(st.lists(st.tuples(st.sampled_from(["flip", "set", "cut", "insert", "delete"]),
                                       st.integers(0, len(base) - 1), st.integers(0, 255)), min_size=1, max_size=4))
    for op, pos, val in ops:
        pos = min(pos, max(0, len(buf) - 1))
        if op == "flip" and buf:
            buf[pos] ^= 1 << (val % 8)
        elif op == "set" and buf:
            buf[pos] = val
        elif op == "cut":
            del buf[pos:]
        elif op == "insert":
            buf[pos:pos] = bytes([val]) * (val % 5 + 1)
        elif op == "delete":
            del buf[pos:pos + val % 7 + 1]
    try:
        img = codec.decode(bytes(buf))
    except CodecError as e:
        assert str(e) and "\n" not in str(e)
    else:
        assert img.dtype == np.uint8 and img.ndim == 3


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(tiny_model, blob):
    with pytest.raises(CodecError):
        _fuzz_codec(tiny_model).decode(blob)


_cache = {}


def _fuzz_codec(model):
    return _cache.setdefault("codec", LSTMCodec(model))


def _fuzz_file(model):
    if "file" not in _cache:
        rng = np.random.default_rng(1)
        px = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
        _cache["file"] = _fuzz_codec(model).encode(px, 2)[0]
    return _cache["file"]


def test_model_mismatch(tiny_model):
    h, _, data = _file(mid="ffffffffffffffff")
    with pytest.raises(ModelError, match="encoded with model ffffffffffffffff"):
        LSTMCodec(tiny_model).decode(data)


def test_entropy_coded_roundtrip_prefix_and_size():
    header, codes, data = _coded_file()
    raw = _file(h=160, w=192, k=3, p_one=0.1)[2]
    assert len(data) < 0.7 * len(raw)  # H(0.1) = 0.47 bits per bit
    parsed = bitstream.read(data)
    assert parsed.header.entropy_coded and parsed.available == 3
    for t in range(3):
        assert np.array_equal(parsed.iteration(t), codes[t])
    for k in (1, 2):
        cut = bitstream.prefix(data, k)
        assert len(cut) == parsed.file_bytes(k) and bitstream.read(cut).available == k
        assert np.array_equal(bitstream.read(cut).iteration(k - 1), codes[k - 1])


def test_entropy_coding_stores_incompressible_iterations_raw():
    from codec import entropy
    header, codes, data = _file(flags=bitstream.ENTROPY)  # fair coin bits, 12 blocks: raw is smaller
    assert len(data) == HEADER_BYTES + 3 * (4 + 1 + header.iteration_bytes)
    assert entropy.encode_iteration(codes[0])[0] == entropy.RAW
    assert np.array_equal(bitstream.read(data).iteration(2), codes[2])


def test_entropy_coded_damage_is_reported():
    header, _, data = _coded_file()
    body = bytearray(data)
    with pytest.raises(BitstreamError, match="middle of iteration 3"):
        bitstream.read(data[:-3])
    two = bitstream.prefix(data, 2)
    with pytest.raises(BitstreamError, match="length field of iteration 3"):
        bitstream.read(data[:len(two) + 2])
    body[HEADER_BYTES:HEADER_BYTES + 4] = struct.pack(">I", 10**9)
    with pytest.raises(BitstreamError, match="claims 1000000000 bytes"):
        bitstream.read(bytes(body))
    body = bytearray(data)
    body[HEADER_BYTES + 4] = 7  # mode byte
    with pytest.raises(BitstreamError, match="unknown mode 7"):
        bitstream.read(bytes(body)).iteration(0)
    body[HEADER_BYTES + 4], body[HEADER_BYTES + 5] = 1, 0  # a zero probability
    with pytest.raises(BitstreamError, match="zero probability"):
        bitstream.read(bytes(body)).iteration(0)


def test_spatial_modes_roundtrip_on_any_shape():
    from codec import entropy
    rng = np.random.default_rng(2)
    for shape in [(1, 1, 1), (3, 1, 5), (3, 5, 1), (32, 3, 7), (32, 10, 12)]:
        prev = np.where(rng.random(shape) < 0.5, 1.0, -1.0)
        codes = np.where(rng.random(shape) < 0.3, -prev, prev)  # mostly repeats prev
        for mode in entropy.SPATIAL_MODES:
            for p in (None, prev):
                chunk = entropy._encode_spatial(mode, codes > 0, p)
                assert chunk[0] == mode
                assert np.array_equal(entropy.decode_iteration(chunk, shape, p), codes)


def test_smooth_codes_are_stored_in_a_spatial_mode_and_much_smaller():
    from codec import entropy
    header, codes, data = _smooth_file()
    chunk = entropy.encode_iteration(codes[0])
    assert chunk[0] in entropy.SPATIAL_MODES
    assert len(chunk) < 0.3 * header.iteration_bytes  # 1 in 16 blocks carries new bits
    parsed = bitstream.read(data)
    for t in range(2):
        assert np.array_equal(parsed.iteration(t), codes[t])


@settings(max_examples=300, deadline=None)
@given(st.data(), st.sampled_from(["table", "spatial"]))
def test_fuzz_entropy_coded_chunks(data, kind):
    """Mutated entropy-coded files: every iteration decodes to +-1 codes or raises BitstreamError."""
    _, _, base = (_coded_file if kind == "table" else _smooth_file)(k=2)
    buf = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(HEADER_BYTES, len(buf) - 1))
        buf[pos] = data.draw(st.integers(0, 255))
    try:
        parsed = bitstream.read(bytes(buf))
        for t in range(parsed.available):
            c = parsed.iteration(t)
            assert c.shape == parsed.header.code_shape and set(np.unique(c)) <= {-1.0, 1.0}
    except BitstreamError as e:
        assert str(e) and "\n" not in str(e)


def test_block_bits_add_up_to_the_coded_size(tiny_model, sample_pixels):
    """Per-block costs (for the rate-distortion studies and the bits view) must account for
    what the coder really spends: within the range coder's few bytes of overhead."""
    from codec.coder import LSTMCodec
    from codec.entropy import block_bits, encode_iteration
    img = np.ascontiguousarray(sample_pixels[:160, :192])
    prev = None
    for r in LSTMCodec(tiny_model).encode_progressive(img, 3):
        per_block = block_bits(r.codes, prev)
        assert per_block.shape == r.codes.shape[1:] and (per_block > 0).all()
        coded = 8 * (len(encode_iteration(r.codes, prev)) - 1)  # less the mode byte
        # the table mode also sends its 64 probability bytes; the range coder ends on a word
        assert coded - 8 * (64 + 8) <= per_block.sum() <= coded + 1e-6
        prev = r.codes
