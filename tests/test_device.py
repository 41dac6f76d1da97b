"""The device plumbing (codec/lstm/device.py) as a CPU-only machine can check it: `auto` picks
what is here, a GPU asked for and absent is refused in a sentence, the codec records where it
ran in its spec, and the CLI and the app carry the choice. (Encoding on a GPU and decoding on a
CPU is validated by scripts/gpu_roundtrip.py where a GPU is at hand: docs/performance.md.)"""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from codec.base.errors import CodecError
from codec.lstm import device
from codec.lstm.coder import LSTMCodec
from codec.lstm.options import LSTMOptions
from conftest import ROOT


def test_auto_picks_a_device_that_is_here_and_an_absent_one_is_refused():
    assert device.pick("auto").type in device.available() and device.pick("cpu").type == "cpu"
    with pytest.raises(CodecError, match="the device is one of auto, cpu, cuda, mps"):
        device.pick("tpu")
    for name in ("cuda", "mps"):
        if name not in device.available():
            with pytest.raises(CodecError, match=f"no {name.upper()} device.*--device cpu"):
                device.pick(name)


def test_the_codec_runs_where_its_options_say_and_names_it_in_its_spec(tiny_model, small_image):
    auto = LSTMCodec.from_options(LSTMOptions(device="auto", refine=None), tiny_model)
    cpu = LSTMCodec.from_options(LSTMOptions(device="cpu", refine=None), tiny_model)
    assert auto.spec()["device"] == auto.device.type and cpu.spec()["device"] == "cpu"
    assert auto.options.device == auto.device.type
    data, _ = cpu.encode(small_image, 2)
    assert np.array_equal(cpu.decode(data), auto.decode(data)) or auto.device.type != "cpu"


@pytest.mark.skipif("cuda" in device.available(), reason="this machine has a CUDA GPU")
def test_the_cli_takes_a_device_and_refuses_an_absent_gpu_in_a_sentence(tmp_path, sample_pixels):
    src = tmp_path / "in.png"
    Image.fromarray(np.ascontiguousarray(sample_pixels[:48, :64])).save(src)
    ok = subprocess.run([sys.executable, "-m", "codec.cli", "encode", str(src), str(tmp_path / "a.lstm"), "-k", "1",
                         "--device", "cpu", "--encoder", "fast"], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "codec.cli", "decode", str(tmp_path / "a.lstm"), str(tmp_path / "a.png"),
                          "--device", "cuda"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "no CUDA device" in bad.stderr and "Traceback" not in bad.stderr


def test_the_app_keeps_the_device_choice(tiny_model):
    from gui.state import ViewState
    st = ViewState(tiny_model, ["jpeg"])
    assert st.device == "auto" and st.codec.device.type in device.available()
    st.set_device("cpu")
    assert st.codec.device.type == "cpu" and st.options().device == "cpu"
    with pytest.raises(ValueError, match="the device is one of"):
        st.set_device("tpu")


def test_the_app_keeps_its_precision_when_the_device_cannot_run_another(tiny_model, monkeypatch):
    from codec.base.errors import CodecError
    from gui.state import ViewState
    st = ViewState(tiny_model, ["jpeg"])
    st.set_precision("fp32")
    codec = st.codec

    def refuse(*_):
        raise CodecError("int8 runs on the CPU only; use --device cpu or --precision fp32.")
    monkeypatch.setattr("codec.lstm.coder.check_precision", refuse)
    with pytest.raises(CodecError, match="CPU only"):
        st.set_precision("int8")
    assert st.precision == "fp32" and st.codec is codec


def test_settings_saved_where_a_gpu_was_open_with_the_defaults_here(tiny_model, monkeypatch):
    from gui.state import ViewState

    class Saved:
        values = {"device": "cuda", "precision": "int8"}

        def value(self, key, default=None, type=None):
            return self.values.get(key, default)
    if "cuda" in device.available():
        pytest.skip("this machine has a CUDA device")
    st = ViewState(tiny_model, ["jpeg"])
    st.load(Saved())
    assert st.device == "auto" and st.codec.device.type in device.available()
