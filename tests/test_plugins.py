"""Codecs of one's own: a Python plugin (entry point) and a codec made of external commands
(TOML), each listed with the built-in ones; a failing one says why and nothing else stops."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from codec import classical
from codec.classical import plugins
from codec.classical import CODECS, get_codec, match_bpp
from codec.classical.command import CommandCodec
from codec.base.errors import CodecError

HERE = Path(__file__).resolve().parent / "plugins"
ROOT = HERE.parent.parent


def toml_codec(tmp_path, **changes) -> Path:
    """A TOML codec file; every value is TOML text (strings quoted)."""
    spec = {"key": '"toyjpeg"', "label": '"Toy JPEG (commands)"', "suffix": '".jpg"', "quality": "[1, 95]",
            "encode": f'"{{python}} {HERE / "toy_command.py"} encode {{quality}} {{input}} {{output}}"',
            "decode": f'"{{python}} {HERE / "toy_command.py"} decode {{input}} {{output}}"'}
    spec.update(changes)
    path = tmp_path / f"{spec['key'].strip(chr(34))}.toml"
    path.write_text("".join(f"{k} = {v}\n" for k, v in spec.items()))
    return path


@pytest.fixture
def registry():
    """The registry as it was, restored after the test."""
    saved = dict(CODECS)
    yield CODECS
    CODECS.clear()
    CODECS.update(saved)


@pytest.fixture
def pixels(sample_pixels):
    return np.ascontiguousarray(sample_pixels[:64, :96])


def test_a_command_codec_encodes_decodes_and_matches_a_bpp(tmp_path, pixels):
    codec = CommandCodec.from_toml(toml_codec(tmp_path))
    r = codec.encode(pixels, 50)
    assert r.data[:2] == b"\xff\xd8"  # the command wrote a JPEG
    assert r.bpp == pytest.approx(8 * len(r.data) / (64 * 96))
    assert r.reconstruction.shape == pixels.shape
    m = match_bpp(codec.key, pixels, 1.0) if codec.key in CODECS else None
    assert m is None  # not registered yet: found through the registry only once registered
    classical.register(codec)
    try:
        m = match_bpp(codec.key, pixels, 1.0)
        assert m.best.bpp <= 1.0 < m.best.bpp * 1.6
    finally:
        del CODECS[codec.key]


def test_a_failing_command_says_why(tmp_path, pixels):
    codec = CommandCodec.from_toml(toml_codec(tmp_path))
    with pytest.raises(CodecError, match="encode command failed \\(exit 3\\): toy: quality 13 is unlucky"):
        codec.encode(pixels, 13)
    missing = CommandCodec.from_toml(toml_codec(tmp_path, key='"gone"', encode='"no-such-encoder {input} {output}"'))
    with pytest.raises(CodecError, match="'no-such-encoder' was not found; install it"):
        missing.encode(pixels, 50)


@pytest.mark.parametrize("changes, words", [
    ({"quality": "[95, 1]"}, "write \\[lowest, highest\\]"),
    ({"encode": '"toy {input}"'}, "encode command .* has no \\{output\\}"),
    ({"key": '"x"', "quality": "[1, 95"}, "could not be read"),
])
def test_malformed_codec_files_are_refused_with_a_sentence(tmp_path, changes, words):
    with pytest.raises(CodecError, match=words):
        CommandCodec.from_toml(toml_codec(tmp_path, **changes))


def test_a_qp_like_quality_is_mirrored_so_files_grow_with_the_setting(tmp_path, pixels):
    codec = CommandCodec.from_toml(toml_codec(tmp_path, quality="[1, 95]", higher_is_better="false",
                                              curve="[80, 40, 10]"))
    assert codec.curve_settings == (-80, -40, -10) and codec.quality(-80) == 80
    sizes = [codec.encode(pixels, s).num_bytes for s in codec.curve_settings]
    assert sizes == sorted(sizes, reverse=True)  # quality 80 > 40 > 10 in bytes
    assert codec.setting_label(-80) == "q=80"


def test_entry_point_plugins_are_found_and_broken_ones_reported(monkeypatch, registry, pixels):
    monkeypatch.syspath_prepend(str(HERE))
    eps = [metadata.EntryPoint("toy", "toy_plugin:ToyCodec", plugins.GROUP),
           metadata.EntryPoint("ghost", "no_such_package.codec:Codec", plugins.GROUP)]
    monkeypatch.setattr(plugins.metadata, "entry_points", lambda group: [e for e in eps if e.group == group])
    monkeypatch.setattr(plugins, "_PROBLEMS", [])
    monkeypatch.setenv("LSTM_COMPARE_CODECS", "")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent")
    found = plugins.discover()
    assert [c.key for c in found] == ["toy"]
    assert any("'ghost'" in p and "ModuleNotFoundError" in p for p in plugins.problems())
    classical.register(found[0])
    assert "toy" in classical.available_codecs()
    r = get_codec("toy").encode(pixels, 3)
    assert np.all(r.reconstruction % 32 == 0)
    with pytest.raises(CodecError, match="unknown codec 'nope'.*ghost"):
        get_codec("nope")
    with pytest.raises(CodecError, match="already taken"):
        classical.register(found[0])


def test_a_plugin_that_raises_fails_in_words(monkeypatch, registry, pixels):
    monkeypatch.syspath_prepend(str(HERE))
    from toy_plugin import BrokenCodec
    classical.register(BrokenCodec())
    with pytest.raises(CodecError, match="Broken codec failed at q=3: RuntimeError: the plugin's own bug"):
        get_codec("broken").encode(pixels, 3)


@pytest.mark.slow
def test_lstm_codec_eval_runs_a_command_codec_from_the_environment(tmp_path, tiny_model_path):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(images / "a.png")
    env = dict(os.environ, LSTM_COMPARE_CODECS=str(toml_codec(tmp_path)), LSTM_COMPARE_CACHE="off")
    run = subprocess.run([sys.executable, "-m", "codec.cli", "eval", str(images), "--out", str(tmp_path / "out"),
                          "--classical", "jpeg,toyjpeg", "-k", "2", "--model", str(tiny_model_path), "--quiet"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    doc = json.loads((tmp_path / "out" / "toyjpeg.json").read_text())
    assert doc["name"] == "Toy JPEG (commands)" and len(doc["results"]["bpp"]) == 10
    assert "BD-rate vs Toy JPEG (commands)" in run.stdout


@pytest.mark.slow
def test_the_app_lists_command_codecs_and_shows_a_failing_one_in_words(qtbot, tmp_path, registry, monkeypatch,
                                                                        tiny_model, sample_pixels):
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import QSettings

    from gui.window import MainWindow
    from gui.worker import CLASSICAL_RUNNER
    good = toml_codec(tmp_path)
    bad = toml_codec(tmp_path, key='"failing"', label='"Always failing"',
                     encode='''"{python} -c 'import sys; sys.exit(\\"no luck today\\")' {input} {output}"''')
    monkeypatch.setenv("LSTM_COMPARE_CODECS", os.pathsep.join([str(good), str(bad)]))
    CLASSICAL_RUNNER.shutdown()  # the codecs' child processes start again and find the files too
    for path in (good, bad):
        classical.register(CommandCodec.from_toml(path))
    photo = tmp_path / "p.png"
    Image.fromarray(sample_pixels[:64, :96]).save(photo)
    w = MainWindow(tiny_model, QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    try:
        w.show()
        labels = [w.codec_box.itemText(i) for i in range(w.codec_box.count())]
        assert "Toy JPEG (commands)" in labels and "Always failing" in labels
        w.codec_box.setCurrentIndex(labels.index("Toy JPEG (commands)"))
        w.open_paths([photo])
        qtbot.waitUntil(lambda: bool(w.state.current.session and w.state.current.session.lstm_complete), timeout=30000)
        qtbot.waitUntil(lambda: ("toyjpeg", w.state.iteration) in w.state.current.session.matches, timeout=60000)
        assert w.views.classical is not None and "q=" in w.views.p_cls.caption.text()
        w.codec_box.setCurrentIndex(labels.index("Always failing"))
        qtbot.waitUntil(lambda: "failing" in w.state.current.session.failures, timeout=60000)
        qtbot.waitUntil(lambda: "no luck today" in w.views.p_cls.message.toPlainText().replace("\n", " "), timeout=10000)
        assert "exit 1" in w.state.current.session.failures["failing"]
        qtbot.waitUntil(lambda: w.plot.legend.getLabel(w.plot.curves["failing"]).text.endswith("— failed"),
                        timeout=60000)
        w.codec_box.setCurrentIndex(labels.index("JPEG 4:2:0"))  # everything else goes on
        qtbot.waitUntil(lambda: ("jpeg", w.state.iteration) in w.state.current.session.matches, timeout=60000)
    finally:
        w.close()  # the window deletes itself
        CLASSICAL_RUNNER.shutdown()
