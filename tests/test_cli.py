import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from codec.cli import main
from conftest import ROOT


def run(*args):
    return main([str(a) for a in args])


@pytest.fixture
def photo(tmp_path, sample_pixels):
    p = tmp_path / "photo.png"
    Image.fromarray(sample_pixels[:48, :80]).save(p)
    return p


def test_encode_info_decode_prefix(tmp_path, photo, tiny_model_path, capsys):
    lstm = tmp_path / "photo.lstm"
    plain = tmp_path / "plain.lstm"
    assert run("encode", photo, plain, "-k", 3, "--model", tiny_model_path, "--no-entropy") == 0
    assert plain.stat().st_size == 30 + 3 * (32 * 3 * 5 // 8 + 4)  # the paper's plain bits, a CRC each
    assert run("encode", photo, lstm, "-k", 3, "--model", tiny_model_path) == 0  # entropy-coded
    assert lstm.stat().st_size <= plain.stat().st_size + 3 * 5
    assert run("info", lstm) == 0
    out = capsys.readouterr().out
    assert "iterations_present" in out and "80" in out and "48" in out
    assert run("decode", lstm, tmp_path / "full.png", "--model", tiny_model_path) == 0
    # a prefix of either file, cut after iteration 1, decodes to fewer iterations
    capsys.readouterr()
    assert run("info", lstm, "--json") == 0
    first = json.loads(capsys.readouterr().out)["bytes_per_iteration"][0]
    for src, n in ((plain, 64), (lstm, first)):
        cut = tmp_path / "cut.lstm"
        cut.write_bytes(src.read_bytes()[:30 + n])
        assert run("decode", cut, tmp_path / "one.png", "--model", tiny_model_path, "--force") == 0
        assert Image.open(tmp_path / "one.png").size == (80, 48)


def test_decode_salvages_a_damaged_file_only_when_asked(tmp_path, photo, tiny_model_path, capsys):
    lstm = tmp_path / "photo.lstm"
    assert run("encode", photo, lstm, "-k", 3, "--model", tiny_model_path) == 0
    capsys.readouterr()
    assert run("info", lstm, "--json") == 0
    sizes = json.loads(capsys.readouterr().out)["bytes_per_iteration"]
    bad = bytearray(lstm.read_bytes())
    bad[30 + sizes[0] + sizes[1] + 6] ^= 0x08  # inside iteration 3
    damaged = tmp_path / "damaged.lstm"
    damaged.write_bytes(bytes(bad))
    assert run("decode", damaged, tmp_path / "x.png", "--model", tiny_model_path) == 2
    err = capsys.readouterr().err.strip()
    assert "iteration 3 of 3 is damaged" in err and "--salvage" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.png").exists()
    assert run("decode", damaged, tmp_path / "x.png", "--model", tiny_model_path, "--salvage") == 0
    out, err = capsys.readouterr()
    assert "2 iterations" in out and "decoded 2 of the file's 3 iterations" in err and "damaged" in err
    two = tmp_path / "two.png"
    assert run("decode", lstm, two, "--model", tiny_model_path, "-k", 2) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "x.png")), np.asarray(Image.open(two)))


def test_compare_figure(tmp_path, photo, tiny_model_path):
    fig = tmp_path / "fig.png"
    assert run("compare", photo, "-k", 2, "--out", fig, "--model", tiny_model_path) == 0
    assert Image.open(fig).size[0] > 600


@pytest.mark.parametrize("payload, words", [
    (b"LSTM\x01\x00", "shorter than"),
    (b"hello", "not an .lstm file"),
])
def test_hostile_files_exit_2_with_one_line(tmp_path, tiny_model_path, capsys, payload, words):
    bad = tmp_path / "bad.lstm"
    bad.write_bytes(payload)
    assert run("decode", bad, tmp_path / "x.png", "--model", tiny_model_path) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_user_errors(tmp_path, photo, tiny_model_path, capsys):
    lstm = tmp_path / "p.lstm"
    assert run("encode", photo, lstm, "-k", 1, "--model", tiny_model_path) == 0
    # never overwrite without --force
    assert run("encode", photo, lstm, "-k", 1, "--model", tiny_model_path) == 2
    assert "already exists" in capsys.readouterr().err
    assert run("encode", photo, lstm, "-k", 2, "--model", tiny_model_path, "--force") == 0
    assert run("encode", tmp_path / "none.png", tmp_path / "n.lstm", "--model", tiny_model_path) == 2
    assert "does not exist" in capsys.readouterr().err
    assert run("encode", photo, tmp_path / "q.lstm", "--model", tmp_path / "nomodel.pt") == 2
    assert "model file" in capsys.readouterr().err
    # truncated mid-iteration
    (tmp_path / "t.lstm").write_bytes(lstm.read_bytes()[:-3])
    assert run("decode", tmp_path / "t.lstm", tmp_path / "t.png", "--model", tiny_model_path) == 2
    assert "middle of iteration 2" in capsys.readouterr().err


def test_export_model_writes_notes(tmp_path, tiny_model_path, capsys):
    from codec.lstm.checkpoint import load_model
    out = tmp_path / "shipped.pt"
    assert run("export-model", tiny_model_path, out, "--name", "tiny", "--set", "data_description=a few photos") == 0
    meta = load_model(out).meta
    assert meta["name"] == "tiny" and meta["data_description"] == "a few photos"
    assert run("export-model", tiny_model_path, tmp_path / "x.pt", "--set", "no-equals-sign") == 2
    assert "KEY=VALUE" in capsys.readouterr().err and not (tmp_path / "x.pt").exists()


def test_console_entry_point_exit_code(tmp_path):
    r = subprocess.run([sys.executable, "-m", "codec.cli", "info", str(tmp_path / "missing.lstm")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "does not exist" in r.stderr


def test_photos_of_several_tiles_show_progress(tmp_path, sample_pixels, tiny_model_path, capsys):
    photo, out, back = tmp_path / "p.png", tmp_path / "p.lstm", tmp_path / "b.png"
    Image.fromarray(np.ascontiguousarray(sample_pixels[:64, :96])).save(photo)
    assert main(["encode", str(photo), str(out), "-k", "1", "--model", str(tiny_model_path), "--tile", "32"]) == 0
    assert "encoding: tile 6 of 6 done" in capsys.readouterr().err
    assert main(["decode", str(out), str(back), "--model", str(tiny_model_path)]) == 0
    assert "decoding: tile 6 of 6 done" in capsys.readouterr().err


def _with_closed_stdout(cmd):
    """Run cmd with its stdout a pipe nobody reads (`| head` that has already exited)."""
    read, write = os.pipe()
    os.close(read)
    try:
        r = subprocess.run(cmd, stdout=write, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    finally:
        os.close(write)
    return r


def test_a_closed_output_pipe_ends_quietly(tmp_path, photo, tiny_model_path):
    lstm = tmp_path / "photo.lstm"
    assert run("encode", photo, lstm, "-k", 2, "--model", tiny_model_path) == 0
    for args in (["info", lstm], ["info", lstm, "--json"]):
        r = _with_closed_stdout([sys.executable, "-m", "codec.cli", *map(str, args)])
        assert r.stderr == "" and r.returncode == 141  # what the shell reports for a C tool


@pytest.mark.slow
def test_a_closed_output_pipe_ends_the_apps_export_quietly(tmp_path, sample_pixels, tiny_model_path):
    photo, out = tmp_path / "p.png", tmp_path / "cmp.png"
    Image.fromarray(sample_pixels[:48, :80]).save(photo)
    r = _with_closed_stdout([sys.executable, "main.py", str(photo), "--model", str(tiny_model_path),
                             "--iterations", "1", "--export", str(out)])
    assert "Traceback" not in r.stderr and r.returncode == 141
    assert out.stat().st_size > 0  # the export itself was written whole before the message


@pytest.mark.slow
def test_the_default_encoder_on_a_large_photo_stays_within_2_gb(tmp_path):
    """The shipped default model and encoder on a 1.7-megapixel photo (a 1024-pixel tile's
    search alone took 2.4 GB): the peak memory of the whole process stays under 2 GB, and
    the user is told why the tiles are smaller."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:1088, 0:1600]
    photo = ((np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1) + rng.integers(0, 40, (1088, 1600, 3))) % 256)
    Image.fromarray(photo.astype(np.uint8)).save(tmp_path / "big.png")
    encode = ("import resource, sys; from codec.cli import main; status = main(sys.argv[1:]); "
              "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(status)")
    r = subprocess.run([sys.executable, "-c", encode, "encode", str(tmp_path / "big.png"), str(tmp_path / "big.lstm"),
                        "-k", "1"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    peak_mb = int(r.stdout.split()[-1]) / 1024  # the process's own peak: the CLI, torch and the model
    assert peak_mb < 2048, f"peak {peak_mb:.0f} MB"
    assert "640-pixel tiles" in r.stderr and "left" in r.stderr
