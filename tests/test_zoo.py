"""The shipped models: both of the paper's Figure 5 variants, loadable by name."""
from pathlib import Path

import pytest

from codec.lstm.checkpoint import load_model
from codec.lstm.zoo import DEFAULT, SHIPPED, default_model_path, resolve_model, shipped

EXPECTED = {  # what each name promises: the architecture in the file must match it
    "baseline": dict(gate="sigmoid", upsampler="depth_to_space", gamma=1.0),
    "proposed": dict(gate="hard_sigmoid", upsampler="recovery", gamma=0.5),
    "baseline-msssim": dict(gate="sigmoid", upsampler="depth_to_space", gamma=1.0),
}


@pytest.mark.parametrize("m", SHIPPED, ids=lambda m: m.name)
def test_shipped_model_matches_its_name_and_stays_small(m):
    assert m.path.stat().st_size < 20e6
    model = load_model(m.path)
    cfg = model.config
    assert {k: getattr(cfg, k) for k in EXPECTED[m.name]} == EXPECTED[m.name]
    assert cfg.iterations == 16 and cfg.bits == 32
    assert model.model_id == m.model_id  # the table the decoder finds files' models by
    assert model.meta.get("steps", 0) > 0 and model.meta.get("data_description")
    if m.name == "baseline-msssim":  # what the name promises about training, too
        assert model.meta["train_settings"]["loss"] == "l1+ms-ssim"


def test_names_and_paths_resolve():
    assert {m.name for m in SHIPPED} == set(EXPECTED) and DEFAULT in EXPECTED
    assert resolve_model(None) == default_model_path() == shipped(DEFAULT).path
    assert resolve_model("proposed") == shipped("proposed").path
    assert resolve_model("some/file.pt") == Path("some/file.pt")
    with pytest.raises(KeyError):
        shipped("nonexistent")


def test_cli_takes_a_model_name(tmp_path, sample_pixels):
    from PIL import Image

    from codec.cli import main
    src = tmp_path / "in.png"
    Image.fromarray(sample_pixels[:64, :64]).save(src)
    for name in EXPECTED:
        out = tmp_path / f"{name}.lstm"
        assert main(["encode", str(src), str(out), "--iterations", "2", "--model", name]) == 0
        assert out.stat().st_size > 0


def test_decode_finds_the_shipped_model_that_encoded_the_file(tmp_path, sample_pixels):
    from PIL import Image

    from codec.cli import main
    src = tmp_path / "in.png"
    Image.fromarray(sample_pixels[:48, :48]).save(src)
    other = next(m.name for m in SHIPPED if m.name != DEFAULT)
    lstm, png = tmp_path / "x.lstm", tmp_path / "x.png"
    assert main(["encode", str(src), str(lstm), "-k", "1", "--model", other]) == 0
    assert main(["decode", str(lstm), str(png)]) == 0  # no --model: found from the file's model id
    assert Image.open(png).size == (48, 48)


def test_the_cli_reads_headers_without_torch(tmp_path):
    """`lstm-codec info` (and building the parser) must not pay for importing torch."""
    import subprocess
    import sys
    data = (Path(__file__).parent / "golden" / f"{DEFAULT}.lstm")
    code = ("import sys; from codec.cli import main; rc = main(['info', sys.argv[1]]); "
            "assert 'torch' not in sys.modules, 'torch was imported'; sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code, str(data)], capture_output=True, text=True,
                       cwd=Path(__file__).parent.parent)
    assert r.returncode == 0, r.stderr
    assert shipped(DEFAULT).model_id in r.stdout


@pytest.mark.parametrize("m", [m for m in SHIPPED if m.older_ids], ids=lambda m: m.name)
def test_a_shipped_model_still_answers_to_its_older_ids(m):
    """Files written before the model gained its context model name the weights' id alone."""
    from codec.lstm.zoo import find_shipped
    for old in m.older_ids:
        model = find_shipped(old)
        assert model is not None and old in model.ids and model.model_id == m.model_id


@pytest.mark.parametrize("m", SHIPPED, ids=lambda m: m.name)
def test_every_shipped_model_codes_its_bits_with_its_own_learned_context_model(m):
    model = load_model(m.path)
    assert model.context is not None and model.context.bits == model.config.bits
    assert model.meta["context"]["command"].startswith("python -m codec.train.context")
    assert m.older_ids == (model.weights_id,)  # the files its weights wrote before still decode


def test_retired_weights_still_decode_the_files_they_wrote(tmp_path, monkeypatch):
    """Weights replaced under a shipped name move to resources/models/retired/: a file that
    names them finds them there, and an id that no file there answers to finds nothing."""
    import shutil

    from codec.lstm import zoo
    old = shipped("baseline")
    (tmp_path / "retired").mkdir()
    shutil.copy(old.path, tmp_path / "retired" / "baseline-before.pt")
    monkeypatch.setattr(zoo, "MODELS_DIR", tmp_path)  # the shipped files are gone: only the retired one
    monkeypatch.setattr(zoo, "RETIRED", (zoo.RetiredModel("baseline-before.pt", "a test", (old.model_id,)),))
    model = zoo.find_shipped(old.model_id)
    assert model is not None and model.model_id == old.model_id
    assert zoo.find_shipped(shipped("proposed").model_id) is None


def test_every_retired_model_is_there_and_answers_to_its_ids():
    from codec.lstm.zoo import RETIRED, find_shipped
    for r in RETIRED:
        assert r.path.exists(), r.file
        for i in r.model_ids:
            model = find_shipped(i)
            assert model is not None and i in model.ids and model.path == str(r.path)


def test_shipped_models_are_found_by_any_of_their_ids():
    from codec.lstm.zoo import shipped_by_id
    for m in SHIPPED:
        assert all(shipped_by_id(i) is m for i in (m.model_id, *m.older_ids))
    assert shipped_by_id("0" * 16) is None
