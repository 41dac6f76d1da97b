"""Evaluating a data set on a Dask cluster (codec/rd/cluster.py): the same results as in the
process, a killed worker loses nothing, and a scheduler that is not there is one sentence."""
import csv
import json

import numpy as np
import pytest
from PIL import Image

from codec.base.errors import CodecError
from codec.classical import CODECS, CommandCodec, register
from codec.cli import main as cli
from codec.lstm.coder import LSTMCodec
from codec.rd import cluster
from codec.rd.evaluate import evaluate
from test_plugins import HERE, toml_codec

pytest.importorskip("distributed")


@pytest.fixture
def images(tmp_path, sample_pixels):
    src = tmp_path / "imgs"
    src.mkdir()
    for i, name in enumerate(["a.png", "b.png", "c.png"]):
        Image.fromarray(np.ascontiguousarray(sample_pixels[40 * i:40 * i + 48, 10 * i:10 * i + 64])).save(src / name)
    return src


@pytest.fixture
def dying_codec(tmp_path, monkeypatch):
    """A command codec whose first encode kills its worker, registered here and in the workers."""
    saved = dict(CODECS)
    script = HERE / "dying_command.py"
    marker = tmp_path / "killed"
    path = toml_codec(tmp_path, key='"dying"', label='"Dies once"', curve="[20, 50, 80]",
                      encode=f'"{{python}} {script} {marker} encode {{quality}} {{input}} {{output}}"',
                      decode=f'"{{python}} {script} {marker} decode {{input}} {{output}}"')
    monkeypatch.setenv("LSTM_COMPARE_CODECS", str(path))
    register(CommandCodec.from_toml(path))
    yield marker
    CODECS.clear()
    CODECS.update(saved)


def _results(out):
    """What an evaluation found, without its timings."""
    rows = [{k: v for k, v in r.items() if not k.endswith("_s")}
            for r in csv.DictReader(open(out / "per_image.csv"))]
    curves = {}
    for f in sorted(out.glob("*.json")):
        doc = json.loads(f.read_text())
        if "results" in doc:
            curves[f.name] = {k: v for k, v in doc["results"].items() if not k.endswith("_time")}
    return rows, curves, json.loads((out / "bd_rate.json").read_text())["bd_rate_percent_vs"]


@pytest.mark.slow
def test_two_local_workers_give_the_in_process_results_and_survive_a_killed_worker(
        tmp_path, images, tiny_model, dying_codec, monkeypatch):
    monkeypatch.setenv("LSTM_COMPARE_CACHE", str(tmp_path / "cache-here"))
    dying_codec.write_text("not this time\n")  # the in-process run must not kill the test
    here = evaluate(images, tmp_path / "here", LSTMCodec(tiny_model), classical=("jpeg", "dying"),
                    iterations=2, progress=False, plot=False)
    dying_codec.unlink()
    monkeypatch.setenv("LSTM_COMPARE_CACHE", str(tmp_path / "cache-cluster"))  # computed again, not read back
    client = cluster.connect(workers=2)
    try:
        there = evaluate(images, tmp_path / "there", LSTMCodec(tiny_model), classical=("jpeg", "dying"),
                         iterations=2, progress=False, plot=False, client=client)
    finally:
        cluster.close(client)
    assert dying_codec.exists()  # a worker was killed during the run, and its task ran again
    assert _results(tmp_path / "here") == _results(tmp_path / "there")
    assert [p.image for p in here.points] == [p.image for p in there.points]


@pytest.mark.slow
def test_a_failing_curve_is_reported_and_the_rest_is_kept_for_resume(tmp_path, images, tiny_model, monkeypatch):
    saved = dict(CODECS)
    monkeypatch.setenv("LSTM_COMPARE_CACHE", str(tmp_path / "cache"))
    bad = toml_codec(tmp_path, key='"failing"', label='"Always failing"', curve="[20, 50]",
                     encode='"no-such-encoder {input} {output}"')
    monkeypatch.setenv("LSTM_COMPARE_CODECS", str(bad))
    register(CommandCodec.from_toml(bad))
    client = cluster.connect(workers=2)
    try:
        with pytest.raises(CodecError, match="--resume") as e:
            evaluate(images, tmp_path / "out", LSTMCodec(tiny_model), classical=("jpeg", "failing"), iterations=2,
                     progress=False, plot=False, client=client)
        assert "3 of the curves failed" in str(e.value) and "Always failing" in str(e.value)
    finally:
        cluster.close(client)
        CODECS.clear()
        CODECS.update(saved)
    cached = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert cached  # the LSTM's and JPEG's curves of every image are in the cache for the rerun


def test_an_unreachable_scheduler_is_one_sentence(tmp_path, images, tiny_model_path, capsys):
    status = cli(["eval", str(images), "--out", str(tmp_path / "out"), "--model", str(tiny_model_path),
                  "--scheduler", "tcp://127.0.0.1:9", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "tcp://127.0.0.1:9" in err
