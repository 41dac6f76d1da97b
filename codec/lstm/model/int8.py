"""The network's convolutions in int8 (`--precision int8`): an inference-only copy of a network.

Each convolution becomes an integer one: weights int8 with one scale per output channel,
the input uint8 with one scale and zero point per call, taken from that input's own range
(the encoder's residual shrinks a hundredfold over the iterations, so a fixed range would
waste most of the 8 bits late), summed exactly in int32 by oneDNN and scaled back to float32.
The LSTM state and the gate arithmetic stay float32, as in bf16. A transposed convolution
(kernel 4, stride 2, padding 1) runs as the 3x3 convolution it equals, with four times the
output channels, followed by a pixel shuffle: oneDNN has no integer transposed convolution.

Which layers run in int8 is a plan per model (PLANS_FILE, chosen on training photos by
scripts/calibrate_int8.py): a layer that costs rate-distortion stays bf16 or fp32. The plan
is part of what an int8 file means, like the weights: a file decodes only with the plan
that encoded it, so a model's plan never changes once files exist (a new plan needs a new
precision flag).
"""
from __future__ import annotations

import copy
import json
import warnings
from functools import lru_cache, partial

import torch
import torch.nn.functional as F
from torch import nn

from codec.base.paths import MODELS_DIR
from codec.lstm.model.cells import ConvLSTMCell
from codec.lstm.model.recovery import ImageRecoveryBlock

LAYER_PRECISIONS = ("int8", "bf16", "fp32")
PLANS_FILE = MODELS_DIR / "int8_plans.json"  # model id -> {layer: precision} where not int8


@lru_cache(maxsize=None)
def _plans() -> dict:
    try:
        return json.loads(PLANS_FILE.read_text())["plans"]
    except FileNotFoundError:
        return {}


def plan_for(model_id: str) -> dict[str, str]:
    """The layers of this model that int8 leaves in bf16 or fp32 (none for a model without a
    plan: every convolution in int8)."""
    return dict(_plans().get(model_id, {}))


def supported() -> bool:
    """Whether this PyTorch has oneDNN's integer convolution (x86 builds do)."""
    return (torch.backends.mkldnn.is_available() and hasattr(torch.ops, "onednn")
            and hasattr(torch.ops.onednn, "qconv2d_pointwise"))


@lru_cache(maxsize=None)
def fast_here() -> bool:
    """Whether this CPU has the dot-product instructions that make int8 fast (AVX-512 VNNI,
    AVX-VNNI or AMX): where int8 is the default precision."""
    if not supported():
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & set(flags))


def _input_quantization(x: torch.Tensor) -> tuple[float, int]:
    """Scale and zero point mapping x's own range [min(x, 0), max(x, 0)] onto 0..255."""
    if x.is_contiguous(memory_format=torch.channels_last):
        x = x.permute(0, 2, 3, 1)  # contiguous: aminmax would copy a channels-last tensor first
    lo, hi = torch.aminmax(x.reshape(-1))
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = (hi - lo) / 255.0 or 1.0
    return scale, int(round(-lo / scale))


def _bytes_of(q: torch.Tensor) -> torch.Tensor:
    """A quint8 tensor's values as a uint8 tensor over the same memory: what int_repr() gives,
    without its copy (a seventh of an int8 decode's time went to it)."""
    return torch.empty(0, dtype=torch.uint8).set_(q.untyped_storage(), q.storage_offset(), q.size(), q.stride())


class Int8Conv(nn.Module):
    """A stride-s 2D convolution in int8, float32 in and out (ReLU fused where `relu`)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, stride: int, padding: int,
                 relu: bool = False):
        super().__init__()
        weight = weight.detach().float()
        w_scale = (weight.abs().amax(dim=(1, 2, 3)) / 127.0).clamp_min(1e-12)
        w_int = torch.round(weight / w_scale[:, None, None, None]).clamp(-127, 127).to(torch.int8)
        self.stride, self.padding = [stride, stride], [padding, padding]
        self.relu = relu
        self.register_buffer("w_scale", w_scale.double(), persistent=False)
        self.register_buffer("w_zero", torch.zeros(len(w_scale), dtype=torch.int64), persistent=False)
        self.bias = None if bias is None else bias.detach().float().clone()
        # the packing's input scale only picks oneDNN's weight layout; each call passes its own
        self.packed = torch.ops.onednn.qconv_prepack(w_int, self.w_scale, 1.0, 0, self.stride, self.padding,
                                                    [1, 1], 1, None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        scale, zero = _input_quantization(x)
        with warnings.catch_warnings():
            # the one fused float -> uint8 kernel (5x a hand-written one); its quantized-tensor
            # result is deprecated, the uint8 bytes it holds are all we use
            warnings.simplefilter("ignore", UserWarning)
            qx = _bytes_of(torch.quantize_per_tensor(x, scale, zero, torch.quint8))
        return torch.ops.onednn.qconv2d_pointwise(
            qx, scale, zero, self.packed, self.w_scale, self.w_zero, self.bias, self.stride, self.padding,
            [1, 1], 1, 1.0, 0, torch.float32, "relu" if self.relu else "none", [], "")


class FloatConv(nn.Module):
    """A convolution in bfloat16 or float32, float32 in and out: where int8 harms a layer."""

    def __init__(self, weight, bias, stride: int, padding: int, relu: bool = False, dtype=torch.float32):
        super().__init__()
        self.dtype = dtype
        self.weight = weight.detach().to(dtype)
        self.bias = None if bias is None else bias.detach().to(dtype)
        self.stride, self.padding, self.relu = stride, padding, relu

    def forward(self, x):
        y = F.conv2d(x.to(self.dtype), self.weight, self.bias, self.stride, self.padding).float()
        return y.relu_() if self.relu else y


_CONVS = {"int8": Int8Conv, "bf16": partial(FloatConv, dtype=torch.bfloat16), "fp32": FloatConv}


def transposed_as_conv(weight: torch.Tensor) -> torch.Tensor:
    """The 3x3 convolution weight (4·out, in, 3, 3) that equals conv_transpose2d(weight (in, out,
    4, 4), stride 2, padding 1) with its output channel (a, b, c) at pixel (2i + a, 2j + b),
    channel c (ShuffledConv puts it there). Output row 2i + a takes input rows i - 1, i, i + 1
    through taps: a = 0 -> (3, 1, -), a = 1 -> (-, 2, 0); columns alike."""
    taps = {0: {0: 3, 1: 1}, 1: {1: 2, 2: 0}}
    cin, cout = weight.shape[:2]
    w = weight.new_zeros(2, 2, cout, cin, 3, 3)
    for a in (0, 1):
        for b in (0, 1):
            for i, ki in taps[a].items():
                for j, kj in taps[b].items():
                    w[a, b, :, :, i, j] = weight[:, :, ki, kj].t()
    return w.reshape(4 * cout, cin, 3, 3)


class ShuffledConv(nn.Module):
    """A transposed convolution (kernel 4, stride 2, padding 1) as a 3x3 convolution and a
    pixel shuffle, channels last (oneDNN's integer layout), so the shuffle copies whole pixels."""

    def __init__(self, t: nn.ConvTranspose2d, precision: str, relu: bool = False):
        super().__init__()
        if t.kernel_size != (4, 4) or t.stride != (2, 2) or t.padding != (1, 1) or t.groups != 1:
            raise ValueError("only kernel 4, stride 2, padding 1 transposed convolutions have a 3x3 equivalent")
        bias = None if t.bias is None else t.bias.detach().repeat(4)
        self.conv = _CONVS[precision](transposed_as_conv(t.weight.detach()), bias, 1, 1, relu)

    def forward(self, x):
        y = self.conv(x)
        n, c4, h, w = y.shape
        y = y.permute(0, 2, 3, 1).reshape(n, h, w, 2, 2, c4 // 4).permute(0, 1, 3, 2, 4, 5)
        return y.reshape(n, 2 * h, 2 * w, c4 // 4).permute(0, 3, 1, 2)


def _conv(m: nn.Conv2d, precision: str, relu: bool = False) -> nn.Module:
    if m.groups != 1 or m.dilation != (1, 1) or m.stride[0] != m.stride[1] or m.padding[0] != m.padding[1]:
        raise ValueError(f"cannot run {m} in {precision}")
    return _CONVS[precision](m.weight, m.bias, m.stride[0], m.padding[0], relu)


def layer_names(net: nn.Module) -> list[str]:
    """The names of the network's layers a plan gives a precision: its convolutions, with each
    decoder cell whose two convolutions run as one listed once (as `<cell>.joint`)."""
    names = []
    for name, m in net.named_modules():
        if isinstance(m, ConvLSTMCell):
            joint = m._joint_weight() is not None
            names += [f"{name}.conv_in", f"{name}.joint" if joint else f"{name}.conv_hidden"]
            continue
        for child_name, child in m.named_children():
            if isinstance(child, (nn.Conv2d, nn.ConvTranspose2d)):
                names.append(f"{name}.{child_name}".lstrip("."))
    return names


def quantize(net: nn.Module, plan: dict[str, str] | None = None) -> nn.Module:
    """An inference-only copy of `net` whose layers run in the precision `plan` gives them by
    name (layer_names), int8 the others. The original is left as it is."""
    plan = dict(plan or {})
    unknown = set(plan) - set(layer_names(net))
    if unknown or not set(plan.values()) <= set(LAYER_PRECISIONS):
        raise ValueError(f"the int8 plan names unknown layers or precisions: {sorted(unknown) or plan}")
    q = copy.deepcopy(net).eval()
    for p in q.parameters():
        p.requires_grad_(False)

    def prec(name):
        return plan.get(name, "int8")

    for name, m in list(q.named_modules()):
        if isinstance(m, ConvLSTMCell):
            joint = m._joint_weight()
            if joint is not None:
                m.joint = _CONVS[prec(f"{name}.joint")](joint, m.conv_in.bias, 1, m.conv_in.padding[0])
            else:
                m.conv_hidden = _conv(m.conv_hidden, prec(f"{name}.conv_hidden"))
            m.conv_in = _conv(m.conv_in, prec(f"{name}.conv_in"))
        elif isinstance(m, ImageRecoveryBlock):
            layers = list(m.main)
            for i, layer in enumerate(layers):
                relu = i + 1 < len(layers) and isinstance(layers[i + 1], nn.ReLU)
                if relu:
                    layers[i + 1] = nn.Identity()
                if isinstance(layer, nn.ConvTranspose2d):
                    layers[i] = ShuffledConv(layer, prec(f"{name}.main.{i}"), relu)
                elif isinstance(layer, nn.Conv2d):
                    layers[i] = _conv(layer, prec(f"{name}.main.{i}"), relu)
            m.main = nn.Sequential(*layers)
            m.skip = ShuffledConv(m.skip, prec(f"{name}.skip"))
    # the plain convolutions left (the stem, binarizer, head and tail; a cell's are done above)
    for parent_name, parent in list(q.named_modules()):
        if isinstance(parent, ConvLSTMCell):
            continue
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.Conv2d):
                setattr(parent, child_name, _conv(child, prec(f"{parent_name}.{child_name}".lstrip("."))))
    return q
