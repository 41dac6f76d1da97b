import pytest
import torch

from codec.lstm.config import ModelConfig
from codec.lstm.model import LSTMCodecNet
from codec.lstm.model.binarizer import Binarizer
from codec.lstm.model.cells import ConvLSTMCell, hard_sigmoid
from codec.lstm.model.recovery import ImageRecoveryBlock


def test_reference_width_matches_the_reference_implementation():
    # 1zb/pytorch-image-comp-rnn: 35.5 M parameters (sigmoid gates, depth-to-space)
    net = LSTMCodecNet(ModelConfig(gate="sigmoid", upsampler="depth_to_space", width=1.0))
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(35.5e6, rel=0.005)


def test_hard_sigmoid_is_the_papers():
    x = torch.tensor([-10.0, -2.5, -1.0, 0.0, 1.0, 2.5, 10.0])
    assert torch.allclose(hard_sigmoid(x), torch.tensor([0.0, 0.0, 0.3, 0.5, 0.7, 1.0, 1.0]))


@pytest.mark.parametrize("gate", ["hard_sigmoid", "sigmoid"])
def test_cell_shapes_and_state(gate):
    cell = ConvLSTMCell(8, 12, 3, 2, 1, gate)
    x = torch.randn(2, 8, 16, 20)
    st = cell.init_state(x.shape, "cpu")
    h, (h2, c) = cell(x, st)
    assert h.shape == (2, 12, 8, 10) and c.shape == h.shape
    assert torch.equal(h, h2)
    assert (h.abs() <= 1).all()


def test_binarizer_codes_are_plus_minus_one_with_straight_through_gradient():
    b = Binarizer(4, 8)
    x = torch.randn(3, 4, 5, 5, requires_grad=True)
    for stochastic in (True, False):
        y = b(x, stochastic)
        assert set(torch.unique(y).tolist()) <= {-1.0, 1.0}
    y = b(x, True)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_stochastic_binarizer_is_unbiased():
    b = Binarizer(1, 1)
    with torch.no_grad():
        b.conv.weight.fill_(1.0)
    x = torch.full((1, 1, 200, 200), 0.5)
    mean = b(x, True).mean().item()
    assert mean == pytest.approx(torch.tanh(torch.tensor(0.5)).item(), abs=0.02)


def test_recovery_block_starts_as_bilinear_upsampler():
    blk = ImageRecoveryBlock(8, 2)
    x = torch.ones(1, 8, 6, 6)
    y = blk(x)
    assert y.shape == (1, 2, 12, 12)
    # a constant input comes out constant away from the border (bilinear, weights sum to 1)
    assert torch.allclose(y[..., 2:-2, 2:-2], torch.ones_like(y[..., 2:-2, 2:-2]))


@pytest.mark.parametrize("upsampler", ["recovery", "depth_to_space"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0])
def test_network_iterates_and_reconstruction_rule(upsampler, gamma):
    cfg = ModelConfig(upsampler=upsampler, gamma=gamma, width=0.0625, iterations=3)
    net = LSTMCodecNet(cfg).eval()
    x = torch.rand(1, 3, 32, 48) - 0.5
    enc, dec = net.init_states(x.shape)
    bits, enc = net.encode_step(x, enc, stochastic=False)
    assert bits.shape == (1, cfg.bits, 2, 3)
    r1, dec = net.decode_step(bits, None, dec)
    out, _ = net.decoder(bits, net.init_states(x.shape)[1])
    assert torch.allclose(r1, out)  # first iteration: x_1 = D(b_1)
    bits2, enc = net.encode_step(x - r1, enc, stochastic=False)
    d2, dec2 = net.decoder(bits2, dec)
    r2, _ = net.decode_step(bits2, r1, dec)
    assert torch.allclose(r2, d2 + gamma * r1)
    outs = net(x)
    assert len(outs) == 3 and outs[0].shape == x.shape


def test_config_validation_and_roundtrip():
    cfg = ModelConfig(gate="sigmoid", gamma=1.0)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError):
        ModelConfig(gate="relu")
    with pytest.raises(ValueError):
        ModelConfig(gamma=2.0)
    with pytest.raises(ValueError):
        ModelConfig.from_dict({**cfg.to_dict(), "colour": 1})


def test_residual_gain_scales_the_encoders_input_and_divides_the_decoders_output():
    cfg = ModelConfig(gate="sigmoid", upsampler="depth_to_space", gamma=1.0, width=0.0625,
                      iterations=3, residual_gain=True)
    net = LSTMCodecNet(cfg).eval()
    plain = LSTMCodecNet(ModelConfig(**{**cfg.to_dict(), "residual_gain": False})).eval()
    plain.load_state_dict({k: v for k, v in net.state_dict().items() if k != "log_gain"})
    x = torch.rand(1, 3, 32, 32) - 0.5
    with torch.no_grad():
        # gains of 1 (the start of training): the same model as without them
        for a, b in zip(net(x), plain(x)):
            assert torch.equal(a, b)
        net.log_gain.copy_(torch.tensor([0.7, 1.4]))
        assert net.gain(0) == 1.0 and net.gain(5) == pytest.approx(torch.tensor(1.4).exp())
        enc, dec = net.init_states(x.shape)
        pe, pd = plain.init_states(x.shape)
        b1, enc = net.encode_step(x, enc, stochastic=False, t=0)
        r1, dec = net.decode_step(b1, None, dec, 0)
        b2, enc = net.encode_step(x - r1, enc, stochastic=False, t=1)
        pb1, pe = plain.encode_step(x, pe, stochastic=False)
        pr1, pd = plain.decode_step(pb1, None, pd)
        pb2, pe = plain.encode_step((x - pr1) * torch.tensor(0.7).exp(), pe, stochastic=False)
        assert torch.equal(b1, pb1) and torch.equal(b2, pb2)
        r2, _ = net.decode_step(b2, r1, dec, 1)
        d2, _ = plain.decoder(b2, pd)
        assert torch.allclose(r2, d2 / torch.tensor(0.7).exp() + r1)


def test_configs_without_residual_gain_keep_their_dict_and_so_their_model_id():
    cfg = ModelConfig(gate="sigmoid", gamma=1.0)
    assert "residual_gain" not in cfg.to_dict()  # ids of models shipped before the option
    gained = ModelConfig(residual_gain=True)
    assert gained.to_dict()["residual_gain"] is True
    assert ModelConfig.from_dict(gained.to_dict()) == gained


@pytest.mark.parametrize("width", [1, 2, 5])
def test_a_strided_cell_gives_the_plain_convolution_on_inputs_a_column_or_two_wide(width):
    # the one-column case is computed on padded input (oneDNN's bf16 kernels get it wrong)
    torch.manual_seed(0)
    cell = ConvLSTMCell(8, 6, 3, 2, 1)
    x = torch.randn(1, 8, 7, width)
    with torch.no_grad():
        expected = torch.nn.functional.conv2d(x, cell.conv_in.weight, cell.conv_in.bias, 2, 1)
        assert torch.allclose(cell._input_conv(x), expected, atol=1e-6)
    h, _ = cell(x, cell.init_state())
    assert h.shape == (1, 6, 4, (width + 1) // 2)
