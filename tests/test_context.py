"""The learned context model (codec/lstm/context.py) and the entropy coder's learned mode."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from codec.base.errors import BitstreamError, ModelError
from codec.lstm import bitstream, entropy
from codec.lstm.checkpoint import load_model, with_context
from codec.lstm.coder import LSTMCodec
from codec.lstm.context import ACT_SHIFT, PASSES, IntegerContext, known_masks, pass_masks
from codec.train.context import ContextNet, code_length, quantize


def _codes(rng, t=4, shape=(32, 9, 13), p=0.3):
    return np.where(rng.random((t, *shape)) < p, 1, -1).astype(np.int8)


@pytest.fixture(scope="module")
def context():
    """A randomly initialised context model with non-trivial weights everywhere."""
    torch.manual_seed(1)
    net = ContextNet()
    with torch.no_grad():
        for p in (net.iteration, net.step, net.mid.bias, net.out.bias):
            p.normal_(0, 0.5)
    return quantize(net)


def test_every_bit_is_in_exactly_one_pass_and_passes_see_only_earlier_passes():
    masks = pass_masks((32, 5, 7))
    assert masks.shape == (PASSES, 32, 5, 7)
    assert (masks.sum(0) == 1).all()
    known = known_masks(masks)
    assert not (known & masks).any()
    assert not known[0].any() and known[-1].sum() == masks[:-1].sum()


def _reference_logits(ctx: IntegerContext, prev, here, t, k):
    """The same network in Python integers (np.int64, no BLAS, floor division): what the
    float64 computation must match exactly."""
    w = ctx.tensors
    c, h, wd = here.shape

    def windows(x):
        p = np.pad(x.astype(np.int64), ((0, 0), (1, 1), (1, 1)))
        return np.stack([p[:, dy:dy + h, dx:dx + wd] for dy in range(3) for dx in range(3)], 1).reshape(c * 9, -1)

    prev_x = np.zeros_like(here, np.int64) if prev is None else np.where(prev > 0, 1, -1)
    acc = (w["prev_w"].reshape(len(w["prev_w"]), -1) @ windows(prev_x)
           + w["here_w"].reshape(len(w["here_w"]), -1) @ windows(here)
           + (w["prev_b"] + w["iteration"][min(t, len(w["iteration"]) - 1)] + w["step"][k])[:, None])
    s1, _, s2, s3 = (int(s) for s in w["shifts"])
    a1 = np.maximum(acc // 2 ** (s1 - ACT_SHIFT) if s1 >= ACT_SHIFT else acc * 2 ** (ACT_SHIFT - s1), 0)
    a2 = np.maximum((w["mid_w"].reshape(len(w["mid_w"]), -1) @ a1 + w["mid_b"][:, None]) // 2 ** s2, 0) + a1
    z = (w["out_w"].reshape(len(w["out_w"]), -1) @ a2 + w["out_b"][:, None]) // 2 ** s3
    return z.reshape(c, h, wd)[pass_masks(here.shape)[k]]


def test_the_integer_network_computes_exact_integers(context):
    rng = np.random.default_rng(0)
    codes = _codes(rng)
    masks = pass_masks(codes.shape[1:])
    known = known_masks(masks)
    for t in (0, 2):
        prev = codes[t - 1] if t else None
        for k in range(PASSES):
            here = codes[t] * known[k]
            got = context.pass_logits(prev, here, t, k)
            assert np.array_equal(got, _reference_logits(context, prev, here, t, k))


@pytest.mark.parametrize("t", [0, 3])
def test_the_learned_mode_round_trips_and_its_bits_view_matches_its_size(context, t):
    rng = np.random.default_rng(t)
    codes = _codes(rng)
    prev = codes[t - 1] if t else None
    chunks = entropy.encode_modes(codes[t], prev, context, t)
    chunk = chunks[entropy.LEARNED]
    assert chunk[0] == entropy.LEARNED
    decoded = entropy.decode_iteration(chunk, codes.shape[1:], prev, context, t)
    assert np.array_equal(decoded, codes[t])
    ideal = entropy.block_bits(codes[t], prev, chunk, context, t).sum() / 8
    assert ideal <= len(chunk) - 1 <= ideal + 12  # the range coder's last words
    assert abs(code_length(context, codes[:t + 1])[t] / 8 - ideal) < 1e-6


def test_a_learned_chunk_without_the_context_model_is_refused_in_a_sentence(context):
    codes = _codes(np.random.default_rng(2))
    chunk = entropy.encode_modes(codes[0], None, context, 0)[entropy.LEARNED]
    with pytest.raises(BitstreamError, match="context model"):
        entropy.decode_iteration(chunk, codes.shape[1:], None, None, 0)


def test_weights_too_large_to_compute_exactly_are_refused(context):
    tensors = dict(context.tensors)
    tensors["shifts"] = np.array([-40, -40, 0, 0])  # activations times 2^48
    with pytest.raises(ValueError, match="exactly"):
        IntegerContext(tensors)


def test_a_model_with_a_context_model_names_a_new_id_and_still_decodes_its_weights_old_files(
        tiny_model_path, tmp_path, small_image, context):
    old = load_model(tiny_model_path)
    old_file, _ = LSTMCodec(old).encode(small_image, 3)
    path = tmp_path / "with_context.pt"
    new_id = with_context(tiny_model_path, path, context)
    model = load_model(path)
    assert model.model_id == new_id != old.model_id
    assert model.ids == {new_id, old.model_id}
    assert model.context.context_id == context.context_id

    codec = LSTMCodec(model)
    data, recon = codec.encode(small_image, 3)
    header = bitstream.parse_header(data)
    assert header.version == 3 and header.model_id == new_id
    info = bitstream.file_info(data)
    assert len(info["entropy_modes"]) == 3 and set(info["entropy_modes"]) <= set(entropy.MODE_NAMES.values())
    assert np.array_equal(codec.decode(data), recon)
    # the codes are the same, so the pictures are: only the coding of the bits changed
    assert np.array_equal(LSTMCodec(old).encode(small_image, 3)[1], recon)
    # the weights' old files decode with the new model file, and the old model refuses the new file
    assert np.array_equal(codec.decode(old_file), LSTMCodec(old).decode(old_file))
    with pytest.raises(ModelError, match=new_id):
        LSTMCodec(old).decode(data)


def test_the_encoder_keeps_the_smallest_of_the_modes_the_learned_one_included(context):
    rng = np.random.default_rng(5)
    codes = _codes(rng)
    chunks = entropy.encode_modes(codes[1], codes[0], context, 1)
    chosen = entropy.encode_iteration(codes[1], codes[0], context, 1)
    assert len(chosen) == min(len(c) for c in chunks.values())


def test_the_bits_view_counts_what_learned_chunks_spend(tiny_model_path, tmp_path, sample_pixels, context):
    from codec.rd.session import ImageSession, measure_blocks
    with_context(tiny_model_path, tmp_path / "m.pt", context)
    model = load_model(tmp_path / "m.pt")
    s = ImageSession(np.ascontiguousarray(sample_pixels[:72, :100]), "x", LSTMCodec(model))
    list(s.run_lstm(3))
    for k in (1, 2, 3):
        chunk, codes, prev, before, after, ctx, t = s.block_cost_inputs(k)
        assert ctx is model.context and t == k - 1
        learned = entropy.encode_modes(codes, prev, ctx, t)[entropy.LEARNED]
        spent, _ = measure_blocks(s.original, learned, codes, prev, before, after, ctx, t)
        assert spent.shape == (5, 7)
        assert 8 * (len(learned) - 1) - 96 <= spent.sum() <= 8 * (len(learned) - 1)
