"""The analysis of a pairwise-comparison study (codec.study): simulated Thurstone observers on a
known scale, recovered by `lstm-codec study analyse`; observer checks; refusals of damaged files."""
from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import norm

from codec.cli import main
from codec.study.responses import StudyError, parse_condition, read_responses
from codec.study.scale import SIGMA, analyse, bd_rate
from conftest import ROOT

CODEC_OFFSETS = {"jpeg": 0.0, "webp": 0.4, "lstm": 0.8}  # JOD at the same bitrate rank
RANKS = 5
HEADER = ["trial", "observer", "image", "a", "b", "chosen", "kind", "seconds"]


def true_scale(image: int) -> dict[str, float]:
    """Fifteen CODEC@BPP conditions of an image and their true JOD: rising with bpp, a codec
    offset, from about 0 to 6 JOD."""
    out = {}
    for codec, offset in CODEC_OFFSETS.items():
        for k in range(RANKS):
            bpp = round(0.1 * 1.6 ** k * (1 + 0.07 * image), 3)
            out[f"{codec}@{bpp}"] = 5.0 * (1 - math.exp(-0.6 * k)) + offset + 0.3 * image
    return out


def by_codec(truth: dict[str, float]) -> dict[str, list[str]]:
    """Each codec's conditions, lowest bpp first."""
    return {c: sorted((n for n in truth if parse_condition(n)[0] == c), key=lambda n: parse_condition(n)[1])
            for c in CODEC_OFFSETS}


def design(truth: dict[str, float]) -> list[tuple[str, str]]:
    """The pairs shown: every codec against every other at the same rank, each codec's
    neighbouring bitrates (one connected scale), and one pair about 5 JOD apart."""
    curves, codecs = by_codec(truth), list(CODEC_OFFSETS)
    pairs = [(curves[x][k], curves[y][k]) for k in range(RANKS)
             for i, x in enumerate(codecs) for y in codecs[i + 1:]]
    pairs += [(curve[k], curve[k + 1]) for curve in curves.values() for k in range(RANKS - 1)]
    pairs.append((curves["jpeg"][0], curves["lstm"][-1]))
    return pairs


def simulate(observers=20, images=3, repeats=2, seed=0, random_observer=None):
    """Answer rows of Thurstone observers, P(a over b) = Phi((q_a - q_b) / SIGMA), with trap and
    same trials; `random_observer` (a name) answers everything at random. Returns (rows, truths)."""
    rng = np.random.default_rng(seed)
    rows, truths = [], {}
    names = [f"obs{n:02d}" for n in range(observers)] + ([random_observer] if random_observer else [])
    for image in range(images):
        name = f"img{image}"
        truth = truths[name] = true_scale(image)
        for observer in names:
            careless = observer == random_observer
            for a, b in design(truth) * repeats:
                flip = rng.random()
                p = 0.5 if careless else norm.cdf((truth[a] - truth[b]) / SIGMA)
                rows.append([observer, name, a, b, "a" if flip < p else "b", "pair"])
            for _ in range(4):  # trap trials: the original against a strongly degraded candidate
                original_on_a = rng.random() < 0.5
                right = "a" if original_on_a else "b"
                wrong = rng.random() < (0.5 if careless else 0.02)
                a, b = ("original", "jpeg@0.02") if original_on_a else ("jpeg@0.02", "original")
                rows.append([observer, name, a, b, ("b" if right == "a" else "a") if wrong else right, "trap"])
            for _ in range(2):  # same trials: a coin flip
                cond = by_codec(truth)["webp"][2]
                rows.append([observer, name, cond, cond, "a" if rng.random() < 0.5 else "b", "same"])
    return rows, truths


def write_csv(path, rows, study="S1", header=HEADER):
    with open(path, "w", newline="") as f:
        if study:
            f.write(f"# lstm-compare study {study}\n")
        w = csv.writer(f)
        w.writerow(header)
        for n, (observer, image, a, b, chosen, kind) in enumerate(rows):
            w.writerow([n, observer, image, a, b, chosen, kind, "2.5"])
    return path


def cli(*args):
    """`lstm-codec study analyse ARGS` in a new process: (exit code, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "codec.cli", "study", "analyse", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout, done.stderr


def assert_one_sentence_error(code, err):
    assert code == 2 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lstm-codec study: error: ") and lines[0].endswith("."), err
    body = lines[0].removeprefix("lstm-codec study: error: ")
    assert not re.search(r"\.\s+[A-Z]", body), f"more than one sentence: {body}"


def read_scale_csv(path) -> dict[str, list[dict]]:
    out = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["image"], []).append(row)
    return out


def test_recovers_a_known_scale_through_the_command_line(tmp_path):
    rows, truths = simulate()
    responses = write_csv(tmp_path / "responses.csv", rows)
    code, out, err = cli(responses, "--out", tmp_path / "result", "--bootstrap", 300)
    assert code == 0, err
    assert "wrote" in out and not err.strip(), err
    scale = read_scale_csv(tmp_path / "result" / "scale.csv")
    assert set(scale) == {"img0", "img1", "img2", "all"}
    for image, truth in truths.items():
        mine = scale[image]
        assert sorted(r["condition"] for r in mine) == sorted(truth)
        jod, low, high = (np.array([float(r[k]) for r in mine]) for k in ("jod", "ci_low", "ci_high"))
        true = np.array([truth[r["condition"]] for r in mine])
        assert np.isfinite(jod).all() and np.isfinite(low).all() and np.isfinite(high).all()
        assert np.corrcoef(jod, true)[0, 1] >= 0.95, image
        assert 0.75 <= np.polyfit(true, jod, 1)[0] <= 1.3, image
        aligned = true + np.mean(jod - true)
        assert np.mean((low <= aligned) & (aligned <= high)) >= 0.7, image
    assert len(scale["all"]) == len(CODEC_OFFSETS) * RANKS

    result = json.loads((tmp_path / "result" / "scale.json").read_text())
    assert {"rows", "observers", "bd_rate_percent", "anchor", "warnings", "settings"} <= set(result)
    assert result["anchor"] == "jpeg" and result["settings"]["bootstrap"] == 300
    assert len(result["rows"]) == sum(len(v) for v in scale.values())
    assert (tmp_path / "result" / "scale.png").stat().st_size > 10_000
    # BD-rates on JOD near those of the true curves (the codecs' offsets in JOD mean fewer bits)
    for image, truth in truths.items():
        curves = {c: [(parse_condition(n)[1], truth[n]) for n in names] for c, names in by_codec(truth).items()}
        for codec in ("webp", "lstm"):
            expected = bd_rate(curves["jpeg"], curves[codec])
            assert expected < 0
            assert abs(result["bd_rate_percent"][image][codec] - expected) < 15, (image, codec)


def test_a_unanimous_pair_keeps_finite_values(tmp_path):
    rows, truths = simulate(observers=20, images=1, repeats=2, seed=3)
    far = design(truths["img0"])[-1]
    answers = {r[4] for r in rows if (r[2], r[3]) == far}
    assert answers == {"a"} or answers == {"b"}, "the test's premise: every observer agreed on the far pair"
    # an image of two conditions 5 JOD apart and nothing else: every answer the same
    rows += [[f"obs{n:02d}", "lonely", "jpeg@0.1", "jpeg@0.9", "b", "pair"] for n in range(20) for _ in range(3)]
    scale = analyse(read_responses([write_csv(tmp_path / "r.csv", rows)]), bootstrap=50)
    for r in scale.rows:
        assert all(math.isfinite(v) for v in (r.jod, r.ci_low, r.ci_high)), r
    lonely = {r.condition: r.jod for r in scale.rows_of("lonely")}
    assert lonely["jpeg@0.1"] == 0 and 1.5 < lonely["jpeg@0.9"] < 10


def test_a_random_observer_fails_the_traps_and_exclude_leaves_them_out(tmp_path, capsys):
    rows, _ = simulate(observers=20, images=3, repeats=1, random_observer="careless")
    responses = read_responses([write_csv(tmp_path / "r.csv", rows)])
    scale = analyse(responses, bootstrap=0)
    assert scale.failed_observers() == ["careless"]
    checks = {o.observer: o for o in scale.observers}
    assert checks["careless"].trap_wrong_share > 0.25 and checks["careless"].traps == 12
    assert all(o.trap_wrong_share <= 0.25 for name, o in checks.items() if name != "careless")
    assert all(o.same == 6 and 0 <= o.same_a_share <= 1 for o in checks.values())

    assert main(["study", "analyse", str(tmp_path / "r.csv"), "--out", str(tmp_path / "a"), "--bootstrap", "0"]) == 0
    err = capsys.readouterr().err
    assert "careless" in err and "--exclude careless" in err

    kept = analyse(responses, exclude=["careless"], bootstrap=0)
    assert kept.failed_observers() == [] and kept.settings["observers"] == 20
    assert {o.observer: o.excluded for o in kept.observers}["careless"] is True
    assert main(["study", "analyse", str(tmp_path / "r.csv"), "--out", str(tmp_path / "b"), "--bootstrap", "0",
                 "--exclude", "careless"]) == 0
    assert "careless" not in capsys.readouterr().err
    saved = json.loads((tmp_path / "b" / "scale.json").read_text())
    assert saved["settings"]["excluded"] == ["careless"]

    with pytest.raises(StudyError, match="carless"):  # a typo names the observers there are
        analyse(responses, exclude=["carless"], bootstrap=0)


def test_few_observers_give_a_warning(tmp_path):
    rows, _ = simulate(observers=5, images=1, repeats=1)
    code, out, err = cli(write_csv(tmp_path / "r.csv", rows), "--out", tmp_path / "out", "--bootstrap", 50)
    assert code == 0
    warning = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and "5 observers" in warning[0] and "P.910" in warning[0] and "15" in warning[0]
    assert json.loads((tmp_path / "out" / "scale.json").read_text())["warnings"] == [warning[0][len("warning: "):]]
    assert analyse(read_responses([tmp_path / "r.csv"]), bootstrap=0).warnings  # the API returns it too


def test_a_wrong_chosen_value_is_refused_naming_file_and_line(tmp_path):
    rows, _ = simulate(observers=2, images=1, repeats=1)
    rows[7][4] = "c"
    path = write_csv(tmp_path / "r.csv", rows)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if ",c,pair," in text)
    code, _, err = cli(path, "--out", tmp_path / "out")
    assert_one_sentence_error(code, err)
    assert f"line {line} of {path}" in err and "'c'" in err and "a or b" in err
    assert not (tmp_path / "out").exists()


def test_files_of_two_studies_are_refused(tmp_path):
    rows, _ = simulate(observers=2, images=1, repeats=1)
    first = write_csv(tmp_path / "first.csv", rows, study="S1")
    second = write_csv(tmp_path / "second.csv", rows, study="S2")
    code, _, err = cli(first, second, "--out", tmp_path / "out")
    assert_one_sentence_error(code, err)
    assert f"line 1 of {second}" in err and "S2" in err and "S1" in err
    assert len(read_responses([first, write_csv(tmp_path / "more.csv", rows, study="S1")]).pairs) == 2 * len(
        [r for r in rows if r[5] == "pair"])


def test_a_missing_header_column_is_refused(tmp_path):
    rows, _ = simulate(observers=2, images=1, repeats=1)
    header = ["trial", "observer", "image", "a", "b", "answer", "kind", "seconds"]  # chosen, renamed
    path = write_csv(tmp_path / "r.csv", rows, header=header)
    code, _, err = cli(path, "--out", tmp_path / "out")
    assert_one_sentence_error(code, err)
    assert f"line 2 of {path}" in err and "chosen" in err


@pytest.mark.parametrize("damage, words", [
    (lambda lines: lines.__setitem__(3, lines[3] + ",extra"), ["9 fields", "8"]),
    (lambda lines: lines.__setitem__(3, lines[3].replace("jpeg@", "jpeg#")), ["CODEC@BPP", "jpeg#"]),
    (lambda lines: lines.__setitem__(3, lines[3].replace(",obs00,", ",,")), ["empty observer"]),
])
def test_damaged_lines_are_refused_naming_file_and_line(tmp_path, damage, words):
    rows, _ = simulate(observers=2, images=1, repeats=1)
    path = write_csv(tmp_path / "r.csv", rows)
    lines = path.read_text().splitlines()
    damage(lines)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(StudyError) as e:
        read_responses([path])
    assert f"Line 4 of {path}" in str(e.value) and all(w in str(e.value) for w in words), str(e.value)


def test_bytes_that_are_not_utf8_and_empty_files_are_refused(tmp_path):
    rows, _ = simulate(observers=2, images=1, repeats=1)
    path = write_csv(tmp_path / "r.csv", rows)
    data = path.read_bytes().split(b"\n")
    data[4] = data[4].replace(b"obs", b"\xe9bs")  # Latin-1, as an old spreadsheet saves it
    path.write_bytes(b"\n".join(data))
    with pytest.raises(StudyError, match=f"Line 5 of {re.escape(str(path))} .*UTF-8"):
        read_responses([path])
    empty = tmp_path / "empty.csv"
    empty.write_text("# lstm-compare study S1\n\n")
    with pytest.raises(StudyError, match="empty"):
        read_responses([empty])


def test_reading_and_analysing_leave_the_files_unchanged(tmp_path):
    rows, _ = simulate(observers=3, images=1, repeats=1)
    folder = tmp_path / "answers"
    folder.mkdir()
    paths = [write_csv(folder / "a.csv", rows), write_csv(folder / "b.csv", rows[:40])]
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir()}
    responses = read_responses(paths)
    analyse(responses, bootstrap=10)
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir()} == before
    assert responses.study == "S1" and responses.files == [str(p) for p in paths]
    assert {r.kind for r in responses.checks} == {"trap", "same"} and {r.kind for r in responses.pairs} == {"pair"}


def test_results_are_not_overwritten_without_force(tmp_path):
    rows, _ = simulate(observers=3, images=1, repeats=1)
    path = write_csv(tmp_path / "r.csv", rows)
    out = tmp_path / "out"
    assert main(["study", "analyse", str(path), "--out", str(out), "--bootstrap", "0"]) == 0
    before = (out / "scale.csv").read_bytes()
    code, _, err = cli(path, "--out", out, "--bootstrap", 5)
    assert_one_sentence_error(code, err)
    assert "--force" in err and (out / "scale.csv").read_bytes() == before
    assert main(["study", "analyse", str(path), "--out", str(out), "--bootstrap", "5", "--force"]) == 0


def test_the_bootstrap_is_reproducible(tmp_path):
    rows, _ = simulate(observers=6, images=1, repeats=1)
    responses = read_responses([write_csv(tmp_path / "r.csv", rows)])
    first, again = (analyse(responses, bootstrap=40, seed=7) for _ in range(2))
    assert first.rows == again.rows
    other = analyse(responses, bootstrap=40, seed=8)
    assert [r.jod for r in other.rows] == [r.jod for r in first.rows]  # the estimate does not depend on it
    assert [r.ci_low for r in other.rows] != [r.ci_low for r in first.rows]


def test_parse_condition():
    assert parse_condition("lstm@0.175") == ("lstm", 0.175)
    assert parse_condition("jpeg-xl:q@1") == ("jpeg-xl:q", 1.0)
    for bad in ("lstm", "lstm@", "@0.1", "lstm@-0.1", "lstm@nan", "lstm@inf", "ls tm@0.1", "lstm@1_0"):
        with pytest.raises(ValueError):
            parse_condition(bad)
