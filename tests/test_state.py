"""The window's view state (gui/state.py), driven without Qt."""
from pathlib import Path

import numpy as np
import pytest

from codec.rd.session import ImageSession
from codec.lstm.encoders import DEFAULT_ENCODER
from codec.quality import registry
from gui.state import MODES, ViewState


class Settings(dict):
    """What ViewState needs of QSettings."""

    def value(self, key, default=None, type=None):
        v = self.get(key, default)
        return type(v) if type is not None and v is not None else v

    def setValue(self, key, value):
        self[key] = value


def recorder(event):
    got = []
    event.connect(lambda *args: got.append(args))
    return got


def test_setters_emit_once_per_change_and_keep_values_in_range(tiny_model):
    st = ViewState(tiny_model, ["jpeg", "webp"])
    moves = recorder(st.iteration_changed)
    st.set_iteration(3)
    st.set_iteration(3)
    st.set_iteration(999)  # clamped to the model's iterations
    st.set_iteration(-5)
    assert moves == [(3,), (tiny_model.config.iterations,), (1,)]
    codecs = recorder(st.classical_changed)
    st.set_classical("webp")
    st.set_classical("webp")
    assert codecs == [("webp",)]
    with pytest.raises(ValueError):
        st.set_classical("avif")  # not available here
    with pytest.raises(ValueError):
        st.set_mode("nope")
    diff = recorder(st.diff_changed)
    st.set_diff(gain=200)
    st.set_diff(signed=True)
    assert st.gain == 64 and st.signed and len(diff) == 2


def test_settings_round_trip_and_bad_saved_values_fall_back(tiny_model):
    st = ViewState(tiny_model, ["jpeg", "webp"])
    st.set_classical("webp")
    st.set_iteration(3)
    st.set_mode(MODES[2])
    st.set_metric("psnr-rgb")
    st.set_option("entropy", False)
    st.set_encoder("fast")
    saved = Settings()
    st.save(saved)
    again = ViewState(tiny_model, ["jpeg", "webp"])
    again.load(saved)
    assert (again.classical, again.iteration, again.mode, again.metric, again.entropy, again.encoder) == \
        ("webp", 3, MODES[2], "psnr-rgb", False, "fast")
    assert again.codec.entropy is False and again.codec.refine is None
    junk = Settings(codec="avif", iteration=400, mode="x", metric="y", gain=0, encoder="z")
    again.load(junk)
    assert (again.classical, again.iteration, again.mode, again.metric, again.gain, again.encoder) == \
        ("jpeg", tiny_model.config.iterations, "side", "ms-ssim-rgb", 1, DEFAULT_ENCODER)
    assert set(registry.scales()) >= {"ms-ssim-rgb", "ms-ssim-rgb-db", "psnr-rgb", "ssimulacra2"}


def test_images_open_once_and_closing_the_current_moves_to_a_neighbour(tiny_model, tmp_path):
    st = ViewState(tiny_model)
    paths = [tmp_path / f"{c}.png" for c in "abc"]
    lists = recorder(st.entries_changed)
    new, first = st.add(paths)
    assert len(new) == 3 and first is new[0] and len(lists) == 1
    again, first_again = st.add([paths[1]])
    assert again == [] and first_again is new[1]
    st.set_current(new[1])
    st.remove([new[1]])
    assert st.current is new[2] and [e.path for e in st.entries] == [paths[0], paths[2]]
    st.remove(list(st.entries))
    assert st.current is None and st.entries == []


def test_an_encoder_option_gives_the_open_images_new_sessions_keeping_classical_curves(tiny_model):
    st = ViewState(tiny_model)
    (e,), _ = st.add([Path("x.png")])
    e.session = ImageSession(np.zeros((32, 32, 3), np.uint8), "x.png", st.codec)
    e.session.curves["jpeg"] = ["a point"]
    old = e.session
    changed = recorder(st.codec_changed)
    st.set_encoder("thorough")
    assert e.session is not old and e.session.codec.refine is not None
    assert e.session.curves == {"jpeg": ["a point"]} and changed == [()]
    st.set_option("all_models", True)  # draws more curves; the bits stay
    assert e.session.codec.refine is not None and len(changed) == 1
