"""A study end to end: made from images (stimuli as lossless PNGs, the same crop for every
condition, classical codecs matched to the LSTM's bpp), answered in a real window with keys,
every answer on disk at once, a killed and reopened session continuing, no codec named."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from codec.base.errors import CodecError
from codec.lstm.coder import LSTMCodec
from codec.study.folder import Study, answered
from codec.study.stimuli import create_study
from codec.study.trials import ORIGINAL, trials_for


@pytest.fixture
def study(tmp_path, tiny_model, sample_pixels):
    images = []
    for i, (y, x) in enumerate([(0, 0), (100, 150)]):
        path = tmp_path / f"photo{i}.png"
        Image.fromarray(np.ascontiguousarray(sample_pixels[y:y + 96, x:x + 128])).save(path)
        images.append(path)
    return create_study(tmp_path / "study", images, LSTMCodec(tiny_model), ["jpeg", "webp"], [1, 2, 3],
                        tolerance=1.0, check_every=4)


def test_a_study_folder_holds_its_stimuli_and_connected_pairs(study, tmp_path, tiny_model):
    again = Study.open(study.folder)
    assert again.id == study.id and len(again.conditions) == len(study.conditions)
    doc = json.loads((study.folder / "manifest.json").read_text())
    assert doc["study"] == study.id and doc["images"]["photo0"]["crop"] == [0, 0, 96, 128]
    for c in again.conditions:  # lossless PNGs of the crop, named CODEC@BPP
        assert Image.open(again.path(c.file)).size == (128, 96) and c.name == f"{c.codec}@{c.bpp:.3f}"
    for image in again.images:
        names = {c.name for c in again.conditions if c.image == image}
        linked = {names.pop()}
        pairs = [(a, b) for i, a, b in again.pairs if i == image]
        for _ in range(len(names) + 1):  # every condition reachable from any other: one scale
            linked |= {x for a, b in pairs if a in linked or b in linked for x in (a, b)}
        assert linked == {c.name for c in again.conditions if c.image == image}
    with pytest.raises(CodecError, match="holds a study already"):
        create_study(study.folder, [tmp_path / "photo0.png"], LSTMCodec(tiny_model), ["jpeg"], [1])


def test_trials_are_the_same_for_an_observer_and_differ_between_observers(study):
    a, again, b = trials_for(study, "anna"), trials_for(study, "anna"), trials_for(study, "ben")
    assert a == again and a != b
    assert len([t for t in a if t.kind == "pair"]) == len(study.pairs)
    checks = [t for t in a if t.kind != "pair"]
    assert {t.kind for t in checks} == {"same", "trap"}
    assert all(t.left == t.right for t in checks if t.kind == "same")
    assert all(ORIGINAL in (t.left, t.right) for t in checks if t.kind == "trap")


def test_an_observer_answers_with_keys_every_answer_on_disk_and_a_reopened_study_continues(qtbot, study):
    from gui.study import StudyWindow
    w = StudyWindow(study, "anna")
    qtbot.addWidget(w)
    w.show()
    trials = trials_for(study, "anna")
    from codec.classical import get_codec
    # what would tell a codec or a rate: condition names, codec keys and labels, bpp
    names = {c.name for c in study.conditions} | {"jpeg", "webp", "JPEG", "WebP", "LSTM", "bpp", "@"}

    def nothing_named():
        texts = [w.windowTitle().replace("lstm-compare", "")]  # the app's own name is not a codec's
        texts += [label.text() for label in w.findChildren(type(w.question))]
        return not any(n in t for n in names | {get_codec(k).label for k in ("jpeg", "webp")} for t in texts)

    for k in range(5):
        assert nothing_named()
        qtbot.keyClick(w, Qt.Key_Left if k % 2 else Qt.Key_Right)
        assert answered(study, "anna") == k + 1  # on disk before the next trial is shown
    qtbot.keyPress(w, Qt.Key_A)  # the original in place of the left candidate, while held
    original = w.panels["original"].pixmap().toImage()
    assert w.panels["left"].pixmap().toImage() == original
    qtbot.keyRelease(w, Qt.Key_A)
    w.set_flicker(True)
    qtbot.wait(250)
    w.set_flicker(False)
    w.close()  # killed mid-study
    lines = (study.folder / "responses" / "anna.csv").read_text().splitlines()
    assert lines[0] == f"# lstm-compare study {study.id}" and lines[1].startswith("observer,image,a,b,chosen")
    rows = [line.split(",") for line in lines[2:]]
    assert [r[5] for r in rows] == [str(t.index) for t in trials[:5]]
    assert [r[4] for r in rows] == ["b", "a", "b", "a", "b"]
    assert [(r[2], r[3]) for r in rows] == [(t.left, t.right) for t in trials[:5]]

    reopened = StudyWindow(Study.open(study.folder), "anna")
    qtbot.addWidget(reopened)
    reopened.show()
    assert reopened.trial == trials[5]
    while reopened.trial is not None:
        qtbot.keyClick(reopened, Qt.Key_Right)
    assert answered(study, "anna") == len(trials) and "thank you" in reopened.question.text()


def test_the_analysis_window_scales_simulated_answers_and_leaves_an_observer_out(qtbot, study, tmp_path):
    """Answers of simulated observers (Thurstone, on a truth where quality rises with bpp) in the
    study's own files: the window draws each codec's JOD curve, lists the observers, and
    rescales without one when ticked; the study folder is unchanged by it."""
    import math as _math
    import random

    from codec.study.folder import append_answer
    from codec.study.responses import read_responses
    from gui.study_scale import StudyScaleWindow
    rng = random.Random(3)
    truth = {c.name: 30 * c.bpp for c in study.conditions}  # about 2.5 JOD between neighbouring rates
    for k in range(6):
        for t in trials_for(study, f"obs{k}"):
            if t.kind == "pair":
                p = 0.5 * (1 + _math.erf((truth[t.left] - truth[t.right]) / 1.4826 / _math.sqrt(2)))
            else:
                p = 0.5 if t.kind == "same" else (1.0 if t.left == ORIGINAL else 0.0)
            chosen = "a" if rng.random() < p else "b"
            append_answer(study, f"obs{k}", [f"obs{k}", t.image, t.left, t.right, chosen, t.index, t.kind, 0, 1.0])
    before = {p: p.read_bytes() for p in study.folder.rglob("*") if p.is_file()}
    files = sorted((study.folder / "responses").glob("*.csv"))
    w = StudyScaleWindow(study.folder, read_responses(files))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.scale is not None, timeout=60000)
    assert w.observers.count() == 6 and "6 observers" in w.status.text() and "P.910" in w.status.text()
    lstm = sorted((r for r in w.scale.rows_of("photo0") if r.codec == "lstm"), key=lambda r: r.bpp)
    assert lstm[-1].jod > lstm[0].jod  # more bits, closer to the original
    first = w.scale
    w.observers.item(0).setCheckState(Qt.Checked)
    qtbot.waitUntil(lambda: w.scale is not first, timeout=60000)
    assert w.scale.settings["observers"] == 5
    assert {p: p.read_bytes() for p in study.folder.rglob("*") if p.is_file()} == before


def test_a_study_at_bpp_targets_takes_the_nearest_iterations(tmp_path, tiny_model, sample_pixels):
    path = tmp_path / "p.png"
    Image.fromarray(np.ascontiguousarray(sample_pixels[:96, :128])).save(path)
    codec = LSTMCodec(tiny_model)
    from codec.study.stimuli import centre_crop
    rates = [round(r.bpp, 3) for r in codec.encode_progressive(centre_crop(sample_pixels[:96, :128])[0])]
    targets = [rates[0] + 0.001, rates[2] - 0.001]
    s = create_study(tmp_path / "s", [path], codec, [], bpp=targets, tolerance=1.0)
    assert sorted(c.bpp for c in s.conditions if c.codec == "lstm") == [rates[0], rates[2]]


def test_the_study_menu_makes_a_study_in_the_background(qtbot, tiny_model, tmp_path, sample_pixels):
    """Study > New study…: the dialog's choices (refused in a sentence when wrong), then the
    study made on the app's LSTM worker and the status bar saying where."""
    from PySide6.QtCore import QSettings
    from gui.study_setup import NewStudyDialog, make_study
    from gui.window import MainWindow
    path = tmp_path / "p.png"
    Image.fromarray(np.ascontiguousarray(sample_pixels[:96, :128])).save(path)
    window = MainWindow(tiny_model, QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(window)
    d = NewStudyDialog(str(path), ["jpeg", "webp"], str(tmp_path), window)
    d.iterations.setText("2,x")
    with pytest.raises(CodecError, match="iteration counts"):
        d.choices()
    d.iterations.setText("1,3")
    with pytest.raises(CodecError, match="choose the study's folder"):
        d.choices()
    d.out.setText(str(tmp_path / "made"))
    d.tolerance.setValue(1.0)
    choices = d.choices()
    assert choices["images"] == [str(path)] and choices["iterations"] == [1, 3] and choices["codecs"] == ["jpeg", "webp"]
    make_study(window, choices)
    qtbot.waitUntil(lambda: (tmp_path / "made" / "manifest.json").exists(), timeout=60000)
    qtbot.waitUntil(lambda: "Study made in" in window.statusBar().currentMessage(), timeout=10000)
    made = Study.open(tmp_path / "made")
    assert {c.codec for c in made.conditions} == {"lstm", "jpeg", "webp"}
    assert sorted(c.setting for c in made.conditions if c.codec == "lstm") == [1, 3]
