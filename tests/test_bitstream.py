import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codec.lstm import bitstream
from codec.lstm.bitstream import HEADER_BYTES, Header
from codec.lstm.coder import LSTMCodec
from codec.base.errors import BitstreamError, CodecError, ModelError

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))
from targets import with_checksums  # noqa: E402  (a file with its CRCs recomputed, as the fuzzer makes)


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
    assert len(data) == HEADER_BYTES + 3 * (32 * 3 * 4 // 8 + 4)  # ceil(40/16)=3, ceil(56/16)=4, CRC
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
    fields = dict(magic=b"LSTM", version=2, flags=0, w=h.width, h=h.height, k=h.iterations,
                  c=h.bits, tile=h.tile, mid=bytes.fromhex(h.model_id))
    fields.update(changes)
    head = struct.pack(">4sBBIIBBH8s", *fields.values())
    return head + struct.pack(">I", zlib.crc32(head)) + data[HEADER_BYTES:]


@pytest.mark.parametrize("data, message", [
    (b"", "not an .lstm file"),
    (b"GIF89a" + b"\0" * 40, "not an .lstm file"),
    (b"LSTM\x01", "shorter than"),
    (_with_header(version=9), "format version 9"),
    (_with_header(flags=8), "features"),
    (_with_header(flags=6), "features"),  # bf16 and int8 at once
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


@pytest.mark.slow
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
    from codec.lstm import entropy
    header, codes, data = _file(flags=bitstream.ENTROPY)  # fair coin bits, 12 blocks: raw is smaller
    assert len(data) == HEADER_BYTES + 3 * (4 + 1 + header.iteration_bytes + 4)
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
    with pytest.raises(BitstreamError, match="iteration 1 of 3 is damaged"):
        bitstream.read(bytes(body))
    # the same edits in a file whose checksums were recomputed (a buggy writer): the chunk
    # itself is checked too
    with pytest.raises(BitstreamError, match="unknown mode 7"):
        bitstream.read(with_checksums(body)).iteration(0)
    body[HEADER_BYTES + 4], body[HEADER_BYTES + 5] = 1, 0  # a zero probability
    with pytest.raises(BitstreamError, match="zero probability"):
        bitstream.read(with_checksums(body)).iteration(0)


@pytest.mark.parametrize("maker", [_file, _coded_file], ids=["plain", "entropy-coded"])
def test_a_damaged_iteration_is_refused_with_its_number_and_salvaged(maker):
    header, codes, data = maker()
    second = bitstream.read(data).file_bytes(1) + 7  # a byte inside iteration 2
    bad = bytearray(data)
    bad[second] ^= 0x10
    with pytest.raises(BitstreamError, match="iteration 2 of 3 is damaged.*1 intact iteration before it with --salvage"):
        bitstream.read(bytes(bad))
    parsed = bitstream.read(bytes(bad), salvage=True)
    assert parsed.available == 1 and "iteration 2 of 3 is damaged" in parsed.damage
    assert np.array_equal(parsed.iteration(0), codes[0])
    kept, why = bitstream.salvage(bytes(bad))
    assert kept == bitstream.prefix(data, 1) and why == parsed.damage
    assert bitstream.salvage(data) == (data, "")
    # damage in the first iteration leaves nothing to keep: refused even when salvaging
    bad = bytearray(data)
    bad[HEADER_BYTES + 5] ^= 0x01
    with pytest.raises(BitstreamError, match=r"iteration 1 of 3 is damaged \(its checksum does not match\); re-encode"):
        bitstream.read(bytes(bad), salvage=True)


def test_salvage_keeps_what_precedes_a_cut_or_trailing_bytes():
    _, _, data = _coded_file()
    parsed = bitstream.read(data[:-3], salvage=True)
    assert parsed.available == 2 and "middle of iteration 3" in parsed.damage
    parsed = bitstream.read(data + b"junk", salvage=True)
    assert parsed.available == 3 and "after its last iteration" in parsed.damage


def test_an_iteration_spliced_from_another_file_is_refused():
    header, codes, data = _coded_file()
    other = bitstream.write(header, [-c for c in codes])  # same header, other bits
    one = bitstream.read(data).file_bytes(1)
    two = bitstream.read(other).file_bytes(2)
    spliced = data[:one] + other[bitstream.read(other).file_bytes(1):two]
    with pytest.raises(BitstreamError, match="iteration 2 of 3 is damaged"):
        bitstream.read(spliced)
    swapped = data[:HEADER_BYTES] + other[HEADER_BYTES:one] + data[one:]  # iteration 1 from `other`: the chain breaks at 2
    with pytest.raises(BitstreamError, match="is damaged"):
        bitstream.read(swapped)


def test_version_1_files_still_read_and_say_they_carry_no_checksums():
    for flags in (0, bitstream.ENTROPY):
        header = Header(56, 40, 2, 32, 1024, "0123456789abcdef", flags, version=1)
        rng = np.random.default_rng(3)
        codes = [np.where(rng.random((32, *header.blocks)) < 0.2, 1.0, -1.0) for _ in range(2)]
        data = bitstream.write(header, codes)
        parsed = bitstream.read(data)
        assert parsed.header.version == 1 and not parsed.header.checksums
        assert [np.array_equal(parsed.iteration(t), codes[t]) for t in range(2)] == [True, True]
        assert bitstream.file_info(data)["checksums"] == "none (format version 1)"
        if not flags:
            assert len(data) == HEADER_BYTES + 2 * header.iteration_bytes
    assert "all intact" in bitstream.file_info(_file()[2])["checksums"]


def test_tiny_chunks_are_padded_and_smaller_ones_refused():
    """A flat image codes to almost nothing; version 2 pads each chunk to 1/64 of the plain
    iteration, so a small file cannot claim a huge array of bits."""
    header = Header(1600, 1600, 2, 32, 1024, "0123456789abcdef", bitstream.ENTROPY)
    codes = [np.ones(header.code_shape, np.float32)] * 2
    data = bitstream.write(header, codes)
    parsed = bitstream.read(data)
    assert header.min_chunk == -(-header.iteration_bytes // 64)
    for t in range(2):
        assert header.min_chunk <= parsed.file_bytes(t + 1) - (parsed.file_bytes(t) if t else HEADER_BYTES) - 8 < header.min_chunk + 4
        assert np.array_equal(parsed.iteration(t), codes[t])
    n = parsed.file_bytes(1) - HEADER_BYTES - 8
    short = bytearray(data[:HEADER_BYTES + 4 + n - 4])  # one word less, length and CRC redone
    short[HEADER_BYTES:HEADER_BYTES + 4] = struct.pack(">I", n - 4)
    with pytest.raises(BitstreamError, match=f"claims {n - 4} bytes"):
        bitstream.read(with_checksums(bytes(short)))


def test_spatial_modes_roundtrip_on_any_shape():
    from codec.lstm import entropy
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
    from codec.lstm import entropy
    header, codes, data = _smooth_file()
    chunk = entropy.encode_iteration(codes[0])
    assert chunk[0] in entropy.SPATIAL_MODES
    assert len(chunk) < 0.3 * header.iteration_bytes  # 1 in 16 blocks carries new bits
    parsed = bitstream.read(data)
    for t in range(2):
        assert np.array_equal(parsed.iteration(t), codes[t])


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.data(), st.sampled_from(["table", "spatial"]))
def test_fuzz_entropy_coded_chunks(data, kind):
    """Mutated entropy-coded files: every iteration decodes to +-1 codes or raises BitstreamError."""
    _, _, base = (_coded_file if kind == "table" else _smooth_file)(k=2)
    buf = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(HEADER_BYTES, len(buf) - 1))
        buf[pos] = data.draw(st.integers(0, 255))
    try:  # checksums recomputed, so that the chunks themselves are exercised
        parsed = bitstream.read(with_checksums(buf) if data.draw(st.booleans()) else bytes(buf))
        for t in range(parsed.available):
            c = parsed.iteration(t)
            assert c.shape == parsed.header.code_shape and set(np.unique(c)) <= {-1.0, 1.0}
    except BitstreamError as e:
        assert str(e) and "\n" not in str(e)


def test_block_bits_add_up_to_the_coded_size(tiny_model, sample_pixels):
    """Per-block costs (for the rate-distortion studies and the bits view) must account for
    what the coder really spends: within the range coder's few bytes of overhead."""
    from codec.lstm.coder import LSTMCodec
    from codec.lstm.entropy import block_bits, encode_iteration
    img = np.ascontiguousarray(sample_pixels[:160, :192])
    prev, codec = None, LSTMCodec(tiny_model)
    header = codec.header(160, 192, 3)
    for r in codec.encode_progressive(img, 3):
        per_block = block_bits(r.codes, prev)
        assert per_block.shape == r.codes.shape[1:] and (per_block > 0).all()
        coded = 8 * (len(encode_iteration(r.codes, prev)) - 1)  # less the mode byte
        # the table mode also sends its 64 probability bytes; the range coder ends on a word
        assert coded - 8 * (64 + 8) <= per_block.sum() <= coded + 1e-6
        # the chunk the encoder wrote into the file gives the same costs, without coding again
        chunk = bitstream.segment_chunk(header, r.segment)
        assert np.array_equal(block_bits(r.codes, prev, chunk), per_block)
        prev = r.codes
