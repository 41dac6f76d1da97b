"""The progressive LSTM codec: images in, .lstm bytes and reconstructions out.

Two traversal orders over the same per-tile computation, so both give identical bits:
- iteration-major (`encode_progressive`): every tile advances one iteration, then the
  caller gets that iteration's codes and reconstruction (what the GUI shows live);
- tile-major (`encode`, `decode`): each tile runs all its iterations before the next tile
  starts, so memory holds one tile's LSTM state however large the photo.

Encoder and decoder run the same fp32 operations on the same tiles, so decoding a file
reproduces the encoder's reconstruction bit-exactly on the same machine and build
(tests/test_coder.py checks it).
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from codec.lstm import bitstream
from codec.lstm.bitstream import Header
from codec.lstm.checkpoint import LoadedModel
from codec.base.errors import BitstreamError, CodecError, ModelError
from codec.imaging.imageio import pad_to_multiple, tile_grid
from codec.lstm.encoders import RefineSettings
from codec.lstm.device import pick as pick_device
from codec.lstm.options import DEFAULT_TILE, LSTMOptions
from codec.imaging.pixels import to_tensor, to_uint8
from codec.base.runtime import tune_allocator
from codec.imaging.units import bpp

# A refining encoder's search holds one tile's autograd graph: about 1.4 GB per megapixel of
# tile (2.4 GB peak for a 1024x1024 tile). Tiles of at most 640x640 (Kodak's 768x512 still
# fits in one) keep a photo of any size within 2 GB.
REFINE_TILE = 640


@dataclass
class IterationResult:
    iteration: int             # 1-based
    codes: np.ndarray          # (C, H/16, W/16) of +-1 for this iteration
    reconstruction: np.ndarray  # (H, W, 3) uint8, cropped to the image
    file_bytes: int            # size of a file holding iterations 1..iteration
    bpp: float                 # from those real bytes
    seconds: float             # wall time of this iteration
    segment: bytes = b""       # the bytes this iteration adds to the file, less its checksum (bitstream.assemble)


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision `precision` names here: "auto" is int8 on a CPU with the instructions that
    make it fast (codec/lstm/model/int8.py), fp32 elsewhere."""
    if precision == "auto":
        from codec.lstm.model import int8
        return "int8" if device.type == "cpu" and int8.fast_here() else "fp32"
    if precision not in bitstream.PRECISIONS:
        raise CodecError(f"precision must be auto or one of {', '.join(bitstream.PRECISIONS)}, not {precision!r}.")
    return precision


def runnable_precisions() -> tuple[str, ...]:
    """The precisions (codec/lstm/options.py's choices) this machine's CPU can run."""
    from codec.lstm.model import int8
    from codec.lstm.options import PRECISION_CHOICES
    ok = {"auto", "fp32"} | ({"int8"} if int8.supported() else set()) | ({"bf16"} if bf16_native() else set())
    return tuple(p for p in PRECISION_CHOICES if p in ok)


def check_precision(precision: str, device: torch.device, decoding: bool = False) -> None:
    """Refuse, in a sentence, a precision this machine cannot run (`decoding`: a file's)."""
    if precision == "bf16":
        check_bf16("the file was encoded in bfloat16 and decodes only in bfloat16" if decoding
                   else "--precision bf16 needs it")
    elif precision == "int8":
        from codec.lstm.model import int8
        if device.type != "cpu":
            raise CodecError(("the file was encoded in int8, which decodes" if decoding else "int8 runs")
                             + " on the CPU only; use --device cpu" + ("." if decoding else " or --precision fp32."))
        if not int8.supported():
            raise CodecError("this PyTorch build has no oneDNN integer convolutions (x86 builds do)"
                             + ("; the file was encoded in int8 and decodes only in int8." if decoding
                                else "; encode with --precision fp32."))


def search_precision(precision: str) -> str:
    """The refining encoders' search arithmetic (gradient steps, float only) for a codec in
    `precision`: bf16 for bf16, and for int8 where the CPU computes bf16 natively (the same
    BD-rate on training photos at 0.8x float32's time, research/search_precision.py); fp32
    otherwise. The decoder never sees it: the bits found go through the codec's own network."""
    return "bf16" if precision == "bf16" or (precision == "int8" and bf16_native()) else "fp32"


def bf16_native() -> bool:
    """Whether oneDNN computes bfloat16 natively here (AVX-512 with BF16, or AMX, on x86)."""
    supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return torch.backends.mkldnn.is_available() and supported is not None and bool(supported())


def check_bf16(why: str = "--precision bf16 needs it") -> None:
    """Refuse bfloat16 where oneDNN cannot compute it natively: its fallback would be slow and
    need not reproduce the encoder's pixels."""
    if not bf16_native():
        raise CodecError(f"this CPU cannot compute in bfloat16 ({why}); encode with --precision fp32, "
                         "or decode on a CPU with AVX-512 BF16 or AMX.")


class _TileState:
    """One tile's encoder/decoder LSTM state and running reconstruction."""

    def __init__(self, net, x: torch.Tensor | None, shape, device: torch.device):
        self.x = x
        self.enc, self.dec = net.init_states(shape, device)
        self.recon = None
        self.t = 0  # iterations done
        self.guard = None  # the encoder's check of its own bits (codec/lstm/refine.py's Guard), made on first use


class LSTMCodec:
    """`entropy`: entropy-code the bits (codec/lstm/entropy.py; lossless; on Kodak 17% smaller at
    one iteration, 9% at sixteen). False writes the paper's plain bits, whose size is known
    before encoding. `refine`: search for better bits while encoding (codec/lstm/refine.py;
    slower encoding, same decoder)."""

    def __init__(self, model: LoadedModel, tile: int = DEFAULT_TILE, entropy: bool = True,
                 refine: RefineSettings | None = None, precision: str = "fp32", device: str = "cpu"):
        if tile % 16:
            raise ValueError("tile size must be a multiple of 16")
        self.device = pick_device(device)
        precision = resolve_precision(precision, self.device)
        check_precision(precision, self.device)
        self.precision = precision
        tune_allocator()
        self.model = model
        # the loaded model stays on the CPU for everything else that uses it; a GPU gets a copy
        self.net = model.net.eval() if self.device.type == "cpu" else copy.deepcopy(model.net).eval().to(self.device)
        self.cfg = model.config
        self.tile = tile
        self.entropy = entropy
        self.refine = refine
        self._nets = {}  # precision -> the network that computes in it (net_for)
        self.search_precision = search_precision(precision)

    @classmethod
    def from_options(cls, options: LSTMOptions, model: LoadedModel | None = None) -> "LSTMCodec":
        """The codec `options` describe, of `model` (loaded from options.model if not given): the
        one place the command line, eval, the cluster's workers and the app make their codec."""
        if model is None:
            from codec.lstm.checkpoint import load_model
            from codec.lstm.zoo import resolve_model
            model = load_model(resolve_model(options.model))
        return cls(model, options.tile, entropy=options.entropy, refine=options.refine, precision=options.precision,
                   device=options.device)

    @property
    def options(self) -> LSTMOptions:
        """This codec's options (codec/lstm/options.py), its model by path."""
        return LSTMOptions(self.model.path, self.refine, self.entropy, self.precision, self.tile, self.device.type)

    def spec(self) -> dict:
        """What decides this codec's bits and pictures, for fingerprints (LSTMOptions.spec)."""
        return self.options.spec(self.model.model_id)

    # -- helpers --------------------------------------------------------------------
    def net_for(self, precision: str):
        """The network that runs `precision`'s arithmetic: the model's own for fp32 and bf16
        (autocast does bf16), an int8 copy made on first use with the model's plan."""
        if precision != "int8":
            return self.net
        if "int8" not in self._nets:
            from codec.lstm.model import int8
            self._nets["int8"] = int8.quantize(self.net, int8.plan_for(self.model.model_id))
        return self._nets["int8"]

    def tile_for(self, height: int, width: int) -> int:
        """The tile size this image is coded in: the codec's, or REFINE_TILE where a refining
        encoder's search over a larger tile would not fit the memory bound."""
        h, w = -(-height // 16) * 16, -(-width // 16) * 16
        if self.refine and self.tile > REFINE_TILE and min(self.tile, h) * min(self.tile, w) > REFINE_TILE ** 2:
            return REFINE_TILE
        return self.tile

    def header(self, height: int, width: int, iterations: int) -> Header:
        flags = (bitstream.ENTROPY if self.entropy else 0) | bitstream.PRECISION_FLAGS[self.precision]
        return Header(width, height, iterations, self.cfg.bits, self.tile_for(height, width), self.model.model_id,
                      flags=flags)

    def _check_iterations(self, iterations: int | None) -> int:
        k = self.cfg.iterations if iterations is None else int(iterations)
        if not 1 <= k <= 255:
            raise CodecError(f"iterations must be between 1 and 255 (the model was trained for "
                             f"{self.cfg.iterations}), not {k}.")
        return k

    def _tiles(self, pixels: np.ndarray):
        """The image padded to whole blocks (still uint8: a float copy of a 50 MP photo would
        be 600 MB) and its tiles."""
        if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
            raise CodecError("the codec takes (H, W, 3) uint8 RGB pixels; load images with codec.imaging.imageio.load_rgb.")
        padded = pad_to_multiple(pixels, 16)
        return padded, tile_grid(padded.shape[0], padded.shape[1], self.tile_for(*pixels.shape[:2]))

    def _tile_input(self, padded: np.ndarray, y: int, x: int, th: int, tw: int) -> torch.Tensor:
        """One tile as the network's input: (1, 3, th, tw) in [-0.5, 0.5], on the codec's device."""
        return to_tensor(padded[y:y + th, x:x + tw]).to(self.device)

    # no_grad, not inference_mode: refinement differentiates through the states it makes
    @torch.no_grad()
    def _step(self, st: _TileState, codes: torch.Tensor | None = None, iterations: int = 0,
              should_stop: Callable[[], bool] | None = None, precision: str | None = None,
              values: torch.Tensor | None = None) -> torch.Tensor:
        """Advance one tile by one iteration; encodes if codes is None (`iterations`: how
        many the file will hold, for refinement's lookahead). Returns the codes.
        `precision`: the file's, when decoding (the encoder's own otherwise). `values`: the
        encoder's values for this iteration if _draft computed them already."""
        precision = precision or self.precision
        net = self.net_for(precision)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            if codes is None:
                y = self._values(st) if values is None else values
                if self.refine and self.refine.refines(st.t):
                    from codec.lstm.refine import refine_bits  # here: decoding need not import MS-SSIM and scipy
                    # the search differentiates, so it runs the float network; the bits it picks
                    # then go through `net`, as the decoder will run them
                    with torch.autocast(self.device.type, dtype=torch.bfloat16,
                                        enabled=self.search_precision == "bf16"):
                        codes = refine_bits(self.net, st.x, y, st.recon, st.enc, st.dec, st.t,
                                            iterations - 1 - st.t, self.refine, should_stop)
                else:
                    codes = net.binarizer.binarize(y, stochastic=False)
                    if self.refine and self.refine.guards(st.t):
                        return self._guarded(st, net, y, codes, iterations, should_stop)
            st.recon, st.dec = net.decode_step(codes, st.recon, st.dec, st.t)
            st.t += 1
            return codes

    def _guarded(self, st: _TileState, net, y: torch.Tensor, codes: torch.Tensor, iterations: int,
                 should_stop: Callable[[], bool] | None) -> torch.Tensor:
        """Advance the tile with the encoder's own bits `codes`, unless the decoder's picture
        with them would be worse than the iteration before: then with the best of the bits a
        short search meets, as the decoder computes them (RefineSettings.guard;
        codec/lstm/refine.py's Guard)."""
        from codec.lstm.refine import Guard, refine_bits
        if st.guard is None:
            st.guard = Guard(st.x)

        def decoded(bits):  # in the codec's own arithmetic and layout, also when the search asks
            bits = bits.contiguous()
            with torch.no_grad(), torch.autocast(self.device.type, dtype=torch.bfloat16,
                                                 enabled=self.precision == "bf16"):
                return (bits, *net.decode_step(bits, st.recon, st.dec, st.t))

        if not st.guard.check(st.recon, decoded(codes)):
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.search_precision == "bf16"):
                refine_bits(self.net, st.x, y, st.recon, st.enc, st.dec, st.t, iterations - 1 - st.t,
                            self.refine.until_better(), should_stop, score=st.guard.score,
                            confirm=lambda bits: st.guard.offer(decoded(bits)))
        codes, st.recon, st.dec = st.guard.done()
        st.t += 1
        return codes

    def _values(self, st: _TileState) -> torch.Tensor:
        """The encoder's values for the tile's next iteration (its state moves on)."""
        residual = st.x if st.recon is None else st.x - st.recon
        y, st.enc = self.net_for(self.precision).code_values(residual, st.enc, t=st.t)
        return y

    @torch.no_grad()
    def _draft(self, st: _TileState) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's values for the tile's next iteration and the reconstruction its own
        bits would give (the decoder's state stays): what a viewer shows while refinement
        searches. _step(values=...) then carries on from the same values."""
        net = self.net_for(self.precision)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            y = self._values(st)
            return y, net.decode_step(net.binarizer.binarize(y, stochastic=False), st.recon, st.dec, st.t)[0]

    # -- encoding -------------------------------------------------------------------
    def encode_progressive(self, pixels: np.ndarray, iterations: int | None = None,
                           should_stop: Callable[[], bool] | None = None,
                           draft: Callable[[int, np.ndarray], None] | None = None) -> Iterator[IterationResult]:
        """Yield after each iteration: its codes and the reconstruction so far.

        Stops early (between iterations, or between tiles of a large image) when
        should_stop() returns True; the caller keeps whatever was yielded. `draft(k, image)`:
        before refinement searches iteration k, the reconstruction of the encoder network's
        own bits (a viewer can show it meanwhile)."""
        k = self._check_iterations(iterations)
        h, w = pixels.shape[:2]
        padded, tiles = self._tiles(pixels)
        header = self.header(h, w, k)
        states = [_TileState(self.net, self._tile_input(padded, *tile), (1, 3, tile[2], tile[3]), self.device)
                  for tile in tiles]
        bh, bw = header.blocks
        size, prev = bitstream.HEADER_BYTES, None
        for t in range(k):
            t0 = time.perf_counter()
            codes = np.empty((self.cfg.bits, bh, bw), np.float32)
            recon = np.empty(padded.shape, np.uint8)
            values = [None] * len(tiles)
            if draft is not None and self.refine and self.refine.refines(t):
                for i, ((y, xx, th, tw), st) in enumerate(zip(tiles, states)):
                    if should_stop and should_stop():
                        return
                    values[i], own = self._draft(st)
                    recon[y:y + th, xx:xx + tw] = to_uint8(own)
                draft(t + 1, recon[:h, :w].copy())
            for (y, xx, th, tw), st, v in zip(tiles, states, values):
                if should_stop and should_stop():
                    return
                c = self._step(st, iterations=k, should_stop=should_stop, values=v)
                codes[:, y // 16:(y + th) // 16, xx // 16:(xx + tw) // 16] = c[0].cpu().numpy()
                recon[y:y + th, xx:xx + tw] = to_uint8(st.recon)
            segment = bitstream.iteration_segment(header, codes, prev, self.model.context, t)
            size += len(segment) + header.check_bytes
            prev = codes
            yield IterationResult(t + 1, codes, recon[:h, :w], size, bpp(size, h, w),
                                  time.perf_counter() - t0, segment)

    def encode(self, pixels: np.ndarray, iterations: int | None = None,
               progress: Callable[[int, int], None] | None = None) -> tuple[bytes, np.ndarray]:
        """Tile-major encoding with bounded memory. Returns (file bytes, final reconstruction)."""
        k = self._check_iterations(iterations)
        h, w = pixels.shape[:2]
        padded, tiles = self._tiles(pixels)
        header = self.header(h, w, k)
        bh, bw = header.blocks
        codes = np.empty((k, self.cfg.bits, bh, bw), np.int8)  # +-1: a quarter of float32's memory
        recon = np.empty(padded.shape, np.uint8)
        for i, (y, xx, th, tw) in enumerate(tiles):
            st = _TileState(self.net, self._tile_input(padded, y, xx, th, tw), (1, 3, th, tw), self.device)
            for t in range(k):
                codes[t, :, y // 16:(y + th) // 16, xx // 16:(xx + tw) // 16] = self._step(st, iterations=k)[0].cpu().numpy()
            recon[y:y + th, xx:xx + tw] = to_uint8(st.recon)
            if progress:
                progress(i + 1, len(tiles))
        return bitstream.write(header, list(codes), self.model.context), recon[:h, :w]

    # -- decoding -------------------------------------------------------------------
    def _parse(self, data: bytes) -> bitstream.ParsedFile:
        parsed = bitstream.read(data)
        hd = parsed.header
        if hd.model_id not in self.model.ids:
            raise ModelError(f"the file was encoded with model {hd.model_id}, but the loaded model is "
                             f"{self.model.model_id}; decode it with the model that encoded it (--model).")
        if hd.bits != self.cfg.bits:
            raise BitstreamError(f"the file has {hd.bits} bits per block, the model {self.cfg.bits}.")
        parsed.context = self.model.context
        check_precision(hd.precision, self.device, decoding=True)
        return parsed

    def decode(self, data: bytes, iterations: int | None = None,
               progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Reconstruction from the first `iterations` (default: all present) of a file."""
        parsed = self._parse(data)
        hd = parsed.header
        k = parsed.available if iterations is None else int(iterations)
        if not 1 <= k <= parsed.available:
            raise BitstreamError(f"the file holds {parsed.available} iterations; ask for 1 to {parsed.available}.")
        codes = [parsed.iteration(t, np.int8) for t in range(k)]  # a tile's slice becomes float
        # the file's tile size, not ours: tiling changes the reconstruction at tile seams
        tiles = tile_grid(hd.blocks[0] * 16, hd.blocks[1] * 16, hd.tile)
        recon = np.empty((hd.blocks[0] * 16, hd.blocks[1] * 16, 3), np.uint8)
        for i, (y, xx, th, tw) in enumerate(tiles):
            st = _TileState(self.net, None, (1, 3, th, tw), self.device)
            for t in range(k):
                c = codes[t][:, y // 16:(y + th) // 16, xx // 16:(xx + tw) // 16]
                self._step(st, torch.from_numpy(c.astype(np.float32))[None].to(self.device), precision=hd.precision)
            recon[y:y + th, xx:xx + tw] = to_uint8(st.recon)
            if progress:
                progress(i + 1, len(tiles))
        return recon[:hd.height, :hd.width]

    def decode_progressive(self, data: bytes, iterations: int | None = None) -> Iterator[tuple[int, np.ndarray, float]]:
        """Yield (iteration, reconstruction, seconds so far) after each iteration of a file.

        Iteration-major like encode_progressive (all tiles' state is held), so the same
        images the encoder yielded come out one by one."""
        parsed = self._parse(data)
        hd = parsed.header
        k = parsed.available if iterations is None else min(int(iterations), parsed.available)
        tiles = tile_grid(hd.blocks[0] * 16, hd.blocks[1] * 16, hd.tile)
        states = [_TileState(self.net, None, (1, 3, th, tw), self.device) for _, _, th, tw in tiles]
        recon = np.empty((hd.blocks[0] * 16, hd.blocks[1] * 16, 3), np.uint8)
        t0 = time.perf_counter()
        for t in range(k):
            codes = torch.from_numpy(parsed.iteration(t))[None].to(self.device)
            for (y, xx, th, tw), st in zip(tiles, states):
                self._step(st, codes[..., y // 16:(y + th) // 16, xx // 16:(xx + tw) // 16],
                           precision=hd.precision)
                recon[y:y + th, xx:xx + tw] = to_uint8(st.recon)
            yield t + 1, recon[:hd.height, :hd.width].copy(), time.perf_counter() - t0
