import numpy as np
import pytest

from codec.lstm import bitstream
from codec.lstm.bitstream import file_info
from codec.lstm.coder import LSTMCodec, bf16_native
from codec.base.errors import BitstreamError, CodecError


def test_encode_decode_roundtrip_is_bit_exact(tiny_model, small_image):
    codec = LSTMCodec(tiny_model)
    data, rec = codec.encode(small_image, 4)
    assert rec.shape == small_image.shape and rec.dtype == np.uint8
    assert np.array_equal(codec.decode(data), rec)


def test_file_size_is_header_plus_32_bits_per_block_per_iteration_plus_checksums(tiny_model, small_image):
    codec = LSTMCodec(tiny_model, entropy=False)  # the paper's plain bits
    h, w = small_image.shape[:2]
    for k in (1, 3):
        data, _ = codec.encode(small_image, k)
        assert len(data) == bitstream.HEADER_BYTES + k * (32 * -(-h // 16) * -(-w // 16) // 8 + 4)


def test_progressive_yields_match_file_prefixes(tiny_model, small_image):
    codec = LSTMCodec(tiny_model)
    results = list(codec.encode_progressive(small_image, 4))
    assert [r.iteration for r in results] == [1, 2, 3, 4]
    data, rec = codec.encode(small_image, 4)
    assert np.array_equal(rec, results[-1].reconstruction)
    for r in results:
        assert r.file_bytes == len(bitstream.prefix(data, r.iteration))
        assert r.bpp == pytest.approx(8 * r.file_bytes / small_image.shape[0] / small_image.shape[1])
        cut = data[:r.file_bytes]  # a prefix cut at an iteration boundary
        assert np.array_equal(codec.decode(cut), r.reconstruction)
        assert np.array_equal(codec.decode(data, r.iteration), r.reconstruction)
    assert [k for k, _, _ in codec.decode_progressive(data)] == [1, 2, 3, 4]


def test_tiles_bound_memory_and_keep_bits_count(tiny_model, sample_pixels):
    img = np.ascontiguousarray(sample_pixels[:100, :130])
    whole = LSTMCodec(tiny_model, tile=1024, entropy=False)
    tiled = LSTMCodec(tiny_model, tile=32, entropy=False)
    d1, r1 = whole.encode(img, 2)
    d2, r2 = tiled.encode(img, 2)
    assert len(d1) == len(d2)
    assert file_info(d2)["tile"] == 32
    # the decoder follows the file's tiling, whatever its own default
    assert np.array_equal(whole.decode(d2), r2)
    # iteration-major and tile-major orders give the same bits
    prog = list(tiled.encode_progressive(img, 2))
    assert np.array_equal(prog[-1].reconstruction, r2)
    # tiles change only seams: the images agree closely
    assert np.abs(r1.astype(int) - r2.astype(int)).mean() < 20


def test_entropy_coding_is_lossless_and_never_much_larger(tiny_model, sample_pixels):
    img = np.ascontiguousarray(sample_pixels[:160, :192])
    coded, plain = LSTMCodec(tiny_model), LSTMCodec(tiny_model, entropy=False)
    d1, r1 = coded.encode(img, 3)
    d0, r0 = plain.encode(img, 3)
    assert np.array_equal(r1, r0) and np.array_equal(coded.decode(d1), r0)
    assert file_info(d1)["entropy_coded"] and not file_info(d0)["entropy_coded"]
    assert len(d1) <= len(d0) + 3 * 5  # at worst raw plus a length and a mode byte per iteration
    assert np.array_equal(plain.decode(d1), r0)  # a reader follows the file's flags


def test_cancellation_stops_between_iterations(tiny_model, small_image):
    codec = LSTMCodec(tiny_model)
    seen = []
    for r in codec.encode_progressive(small_image, 4, should_stop=lambda: len(seen) >= 2):
        seen.append(r.iteration)
    assert seen == [1, 2]


def test_bad_requests(tiny_model, small_image):
    codec = LSTMCodec(tiny_model)
    data, _ = codec.encode(small_image, 2)
    with pytest.raises(BitstreamError, match="holds 2 iterations"):
        codec.decode(data, 3)
    with pytest.raises(CodecError, match="iterations must be"):
        codec.encode(small_image, 0)
    with pytest.raises(CodecError, match="uint8"):
        codec.encode(small_image.astype(np.float32), 1)


def test_odd_and_tiny_images(tiny_model):
    codec = LSTMCodec(tiny_model)
    for shape in [(1, 1, 3), (17, 3, 3), (5, 33, 3)]:
        px = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        data, rec = codec.encode(px, 1)
        assert rec.shape == shape
        assert np.array_equal(codec.decode(data), rec)


def test_checkpoint_id_is_stable_and_config_travels(tiny_model_path, tiny_model):
    from codec.lstm.checkpoint import load_model
    again = load_model(tiny_model_path)
    assert again.model_id == tiny_model.model_id and len(again.model_id) == 16
    assert again.config.width == 0.0625 and again.config.iterations == 4


def test_bad_checkpoints(tmp_path):
    from codec.lstm.checkpoint import load_model
    from codec.base.errors import ModelError
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="not a readable model checkpoint"):
        load_model(bad)
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "missing.pt")


needs_bf16 = pytest.mark.skipif(not bf16_native(), reason="this CPU has no native bfloat16")


@needs_bf16
def test_bf16_files_say_so_and_decode_in_bf16(tiny_model, small_image):
    fast, ref = LSTMCodec(tiny_model, precision="bf16"), LSTMCodec(tiny_model)
    data, rec = fast.encode(small_image, 3)
    assert file_info(data)["precision"] == "bf16" and file_info(ref.encode(small_image, 1)[0])["precision"] == "fp32"
    # whichever codec object decodes it, the file's precision is used: the encoder's image, exactly
    assert np.array_equal(ref.decode(data), rec) and np.array_equal(fast.decode(data), rec)
    assert np.array_equal(fast.decode(data), fast.decode(data))  # two runs, the same pixels
    assert [r.reconstruction.tobytes() for r in fast.encode_progressive(small_image, 3)][-1] == rec.tobytes()
    # and it is the same codec, to within bfloat16's rounding
    assert np.abs(rec.astype(int) - ref.encode(small_image, 3)[1].astype(int)).mean() < 3


def test_unknown_precision_is_refused(tiny_model):
    with pytest.raises(CodecError, match="precision"):
        LSTMCodec(tiny_model, precision="fp8")


def test_a_refining_encoder_searches_large_tiles_in_smaller_ones(tiny_model):
    """The search's autograd graph grows with the tile: above 640x640 pixels of tile the
    refining encoders code in 640-pixel tiles (the header says so, the decoder follows);
    Kodak's 768x512 stays one tile, and the fast encoder keeps the codec's tiles."""
    from codec.lstm.coder import DEFAULT_TILE, REFINE_TILE
    from codec.lstm.encoders import ENCODERS
    quick, fast = LSTMCodec(tiny_model, refine=ENCODERS["quick"]), LSTMCodec(tiny_model)
    assert quick.tile_for(512, 768) == quick.tile_for(768, 512) == DEFAULT_TILE
    assert quick.tile_for(1024, 1024) == quick.tile_for(700, 2000) == REFINE_TILE
    assert fast.tile_for(4096, 6144) == DEFAULT_TILE
    assert LSTMCodec(tiny_model, 512, refine=ENCODERS["quick"]).tile_for(4096, 6144) == 512
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (656, 720, 3), dtype=np.uint8)
    data, rec = quick.encode(pixels, 1)
    assert file_info(data)["tile"] == REFINE_TILE
    assert np.array_equal(quick.decode(data), rec)
