"""The int8 precision (codec/lstm/model/int8.py): the same network in integer convolutions."""
import numpy as np
import pytest
import torch

from codec.base.errors import BitstreamError, CodecError
from codec.lstm import bitstream
from codec.lstm.bitstream import file_info
from codec.lstm.coder import LSTMCodec, resolve_precision
from codec.lstm.model import int8

needs_int8 = pytest.mark.skipif(not int8.supported(), reason="this PyTorch has no oneDNN integer convolutions")


def test_a_transposed_convolution_is_a_3x3_convolution_and_a_pixel_shuffle():
    torch.manual_seed(0)
    t = torch.nn.ConvTranspose2d(12, 5, 4, stride=2, padding=1)
    x = torch.randn(1, 12, 7, 9)
    shuffled = int8.ShuffledConv(t, "fp32")
    assert torch.allclose(shuffled(x), t(x), atol=1e-5)
    # and channels last in, the same values out
    assert torch.allclose(shuffled(x.contiguous(memory_format=torch.channels_last)), t(x), atol=1e-5)


@needs_int8
def test_an_int8_convolution_is_close_to_the_float_one():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 24, 3, padding=1)
    x = torch.randn(1, 16, 20, 28) * 0.01  # a late iteration's small residual: its own scale
    q = int8.Int8Conv(conv.weight, conv.bias, 1, 1)
    ref = conv(x)
    assert (q(x) - ref).abs().max() < 0.02 * ref.abs().max()
    relu = int8.Int8Conv(conv.weight, conv.bias, 1, 1, relu=True)
    assert torch.equal(relu(x), q(x).clamp_min(0))


def test_a_quantized_tensors_bytes_are_its_int_repr_without_a_copy():
    x = torch.randn(1, 8, 5, 7).contiguous(memory_format=torch.channels_last)
    q = torch.quantize_per_tensor(x, 0.02, 128, torch.quint8)
    b = int8._bytes_of(q)
    assert b.dtype == torch.uint8 and torch.equal(b, q.int_repr())
    assert b.is_contiguous(memory_format=torch.channels_last) and b.data_ptr() == q.data_ptr()


@needs_int8
def test_the_int8_copy_leaves_the_network_alone_and_follows_its_plan(tiny_model):
    net = tiny_model.net
    names = int8.layer_names(net)
    assert "decoder.tail" in names and "encoder.stem" in names
    before = {k: v.clone() for k, v in net.state_dict().items()}
    q = int8.quantize(net, {"decoder.tail": "fp32", "decoder.head": "bf16"})
    assert q.decoder.tail.dtype == torch.float32 and q.decoder.head.dtype == torch.bfloat16
    assert isinstance(q.encoder.stem, int8.Int8Conv)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    with pytest.raises(ValueError, match="unknown layers"):
        int8.quantize(net, {"decoder.nothing": "fp32"})


@needs_int8
def test_int8_files_say_so_and_decode_to_the_encoders_picture(tiny_model, small_image):
    fast, ref = LSTMCodec(tiny_model, precision="int8", refine=None), LSTMCodec(tiny_model)
    data, rec = fast.encode(small_image, 3)
    assert file_info(data)["precision"] == "int8"
    # whichever codec object decodes it, the file's precision is used: the encoder's image, exactly
    assert np.array_equal(ref.decode(data), rec) and np.array_equal(fast.decode(data), rec)
    assert [r.reconstruction.tobytes() for r in fast.encode_progressive(small_image, 3)][-1] == rec.tobytes()
    assert np.array_equal([p for _, p, _ in ref.decode_progressive(data)][-1], rec)
    # the same codec, to within int8's rounding
    assert np.abs(rec.astype(int) - ref.encode(small_image, 3)[1].astype(int)).mean() < 3


@needs_int8
def test_a_refining_encoder_in_int8_writes_files_that_decode_to_its_picture(tiny_model, small_image, monkeypatch):
    from codec.lstm import refine
    from codec.lstm.encoders import ENCODERS
    codec = LSTMCodec(tiny_model, precision="int8", refine=ENCODERS["quick"])
    data, rec = codec.encode(small_image, 3)
    assert np.array_equal(LSTMCodec(tiny_model).decode(data), rec)
    # the guard's search on every iteration after the first two: its candidates are decoded
    # in int8 (the search itself runs in a float network), and the one sent decodes the same
    offered = []
    real_check, real_offer = refine.Guard.check, refine.Guard.offer
    monkeypatch.setattr(refine.Guard, "check", lambda self, prev, c: real_check(self, prev, c) and False)
    monkeypatch.setattr(refine.Guard, "offer", lambda self, c: offered.append(c) or real_offer(self, c))
    data, rec = codec.encode(small_image, 5)
    assert offered and all(bits.is_contiguous() and set(bits.unique().tolist()) <= {-1.0, 1.0}
                           for bits, _, _ in offered)
    assert np.array_equal(LSTMCodec(tiny_model).decode(data), rec)


def test_auto_precision_is_int8_only_where_it_is_fast():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("int8" if int8.fast_here() else "fp32")
    assert resolve_precision("auto", torch.device("cuda")) == "fp32"
    assert resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(CodecError, match="precision must be auto or one of"):
        resolve_precision("int4", cpu)


def test_a_header_with_both_precision_bits_is_refused():
    h = bitstream.Header(32, 32, 1, 32, 1024, "0" * 16, flags=bitstream.BF16 | bitstream.INT8)
    with pytest.raises(BitstreamError, match="features"):
        h.pack()
    assert bitstream.Header(32, 32, 1, 32, 1024, "0" * 16, flags=bitstream.INT8).precision == "int8"


def test_every_shipped_model_has_its_int8_plan_recorded():
    """An int8 file means the plan of its model's id: a plan added later would change how the
    files written before it decode."""
    from codec.lstm import zoo
    plans = int8._plans()
    for m in zoo.SHIPPED:
        assert m.model_id in plans, f"{m.name} has no int8 plan in {int8.PLANS_FILE.name}"


@needs_int8
def test_the_int8_plans_name_real_layers():
    from codec.lstm import zoo
    from codec.lstm.checkpoint import load_model
    for m in zoo.SHIPPED:
        plan = int8.plan_for(m.model_id)
        assert set(plan) <= set(int8.layer_names(load_model(m.path).net)), m.name


def test_int8_on_a_gpu_is_refused_in_a_sentence(tiny_model):
    from codec.lstm.coder import check_precision
    with pytest.raises(CodecError, match="CPU only"):
        check_precision("int8", torch.device("cuda"))
    with pytest.raises(CodecError, match="decodes on the CPU only"):
        check_precision("int8", torch.device("cuda"), decoding=True)


def test_an_image_one_block_wide_codes_in_every_precision_this_cpu_runs():
    # oneDNN's bf16 strided convolution gave NaN where the encoder's last cell is one column
    # wide (a 16-pixel-wide image or tile) on CPUs with AMX; the default model is the one
    # whose channel counts reached it
    from codec.lstm.checkpoint import load_model
    from codec.lstm.coder import runnable_precisions
    from codec.lstm.zoo import resolve_model
    model = load_model(resolve_model(None))
    rng = np.random.default_rng(0)
    image = (rng.random((48, 16, 3)) * 64 + 96).astype(np.uint8)
    fp32 = LSTMCodec(model).encode(image, 2)[1].astype(int)
    for precision in set(runnable_precisions()) - {"auto"}:
        data, rec = LSTMCodec(model, precision=precision).encode(image, 2)
        assert np.array_equal(LSTMCodec(model).decode(data), rec)
        assert np.abs(rec.astype(int) - fp32).mean() < 2.0, precision
