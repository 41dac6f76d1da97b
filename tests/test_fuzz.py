"""The fuzzing harness (tests/fuzz/): the seed corpus and every input that once failed replay
through the targets; then atheris fuzzes each target for a bounded time with a fixed seed
(FUZZ_SECONDS per target, 45 by default; 0 skips). Longer runs: tests/fuzz/atheris_main.py."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent / "fuzz"
sys.path.insert(0, str(FUZZ))
import targets  # noqa: E402

SECONDS = int(os.getenv("FUZZ_SECONDS", "45"))
SEEDS = [(kind, p) for kind in targets.TARGETS for folder in ("corpus", "regressions")
         for p in sorted((FUZZ / folder / kind).glob("*"))]


@pytest.mark.parametrize("kind,path", SEEDS, ids=[f"{k}/{p.parent.parent.name}/{p.name}" for k, p in SEEDS])
def test_seed_and_regression_inputs_pass_the_targets(kind, path):
    data = path.read_bytes()
    targets.TARGETS[kind](data)
    if kind == "lstm":
        targets.lstm(targets.with_checksums(data[:-1]))


def test_the_corpus_holds_every_layout_and_format():
    from codec.lstm import bitstream
    versions = {bitstream.parse_header(p.read_bytes()).version for p in (FUZZ / "corpus" / "lstm").glob("*.lstm")}
    assert versions == set(bitstream.READABLE)
    assert len(list((FUZZ / "corpus" / "image").glob("seed.*"))) >= 10


def test_the_lstm_target_refuses_an_allocation_beyond_its_bound(monkeypatch):
    seed = (FUZZ / "corpus" / "lstm" / "v2-flat.lstm").read_bytes()
    targets.lstm(seed)
    monkeypatch.setattr(targets, "LSTM_OVERHEAD", 0)
    monkeypatch.setattr(targets, "LSTM_BYTES_PER_INPUT_BYTE", 1)
    with pytest.raises(AssertionError, match="allocate"):
        targets.lstm(seed)


@pytest.mark.slow
@pytest.mark.skipif(SECONDS <= 0, reason="FUZZ_SECONDS=0")
@pytest.mark.parametrize("kind", list(targets.TARGETS))
def test_atheris_finds_nothing_in_a_bounded_run(kind, tmp_path):
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"  # libFuzzer adds what it finds to its first folder: not ours
    shutil.copytree(FUZZ / "corpus" / kind, corpus)
    cmd = [sys.executable, str(FUZZ / "atheris_main.py"), kind, f"-max_total_time={SECONDS}", "-seed=1",
           "-rss_limit_mb=2048", "-timeout=20", f"-artifact_prefix={tmp_path}/", str(corpus)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS * 3 + 60)
    found = sorted(p.name for p in tmp_path.iterdir() if p.name.split("-")[0] in ("crash", "oom", "timeout", "leak"))
    tail = "\n".join(run.stderr.splitlines()[-25:])
    assert run.returncode == 0 and not found, (
        f"atheris found {found} (in {tmp_path}); copy it into tests/fuzz/regressions/{kind}/ and fix:\n{tail}")
    assert "Done" in run.stderr
