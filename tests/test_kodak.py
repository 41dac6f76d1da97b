"""Smoke tests on the real benchmark images with the shipped model (skipped without ../shared)."""
import numpy as np

from codec.lstm import bitstream
from codec.lstm.checkpoint import load_model
from codec.lstm.zoo import default_model_path
from codec.cli import main
from codec.lstm.coder import LSTMCodec
from codec.lstm.options import LSTMOptions
from codec.imaging.imageio import load_rgb
from conftest import kodak_dir, needs_shared


@needs_shared
def test_kodak_round_trip_prefix_and_size(tmp_path, capsys):
    src = kodak_dir() / "kodim23.png"
    out = tmp_path / "k.lstm"
    assert main(["encode", str(src), str(out), "-k", "3"]) == 0
    data = out.read_bytes()
    plain = bitstream.HEADER_BYTES + 3 * (32 * (512 // 16) * (768 // 16) // 8 + 4)
    assert 0.6 * plain < len(data) < 0.9 * plain  # entropy-coded: about a quarter below the plain bits
    assert main(["info", str(out)]) == 0
    assert "768" in capsys.readouterr().out
    codec = LSTMCodec.from_options(LSTMOptions(), load_model(default_model_path()))  # the CLI's default
    full = codec.decode(data)
    _, rec = codec.encode(load_rgb(src).pixels, 3)
    assert np.array_equal(full, rec)
    two = codec.decode(bitstream.prefix(data, 2))
    assert two.shape == (512, 768, 3) and not np.array_equal(two, full)
