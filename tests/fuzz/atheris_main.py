"""Coverage-guided fuzzing with atheris (libFuzzer) of one target in targets.py.

    python tests/fuzz/atheris_main.py lstm  -max_total_time=600 tests/fuzz/corpus/lstm
    python tests/fuzz/atheris_main.py image -max_total_time=600 -rss_limit_mb=2048 tests/fuzz/corpus/image

libFuzzer writes an input that fails as crash-<hash> in the working folder: copy it into
tests/fuzz/regressions/<target>/ (tests/test_fuzz.py replays that folder), then fix the bug.
Half of the .lstm mutations get their checksums recomputed (targets.with_checksums), so the
fuzzer also reaches the entropy decoder behind them.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports(include=["codec", "PIL"]):
    import targets


def main() -> None:
    name = sys.argv.pop(1) if len(sys.argv) > 1 and sys.argv[1] in targets.TARGETS else None
    if name is None:
        sys.exit(f"usage: {Path(__file__).name} {{{','.join(targets.TARGETS)}}} [libFuzzer options] [corpus]")
    target = targets.TARGETS[name]
    warnings.simplefilter("ignore")  # Pillow warns about every odd TIFF tag the fuzzer makes

    def mutate(data: bytes, max_size: int, seed: int) -> bytes:
        data = atheris.Mutate(data, max_size)
        return targets.with_checksums(data) if name == "lstm" and seed % 2 else data

    atheris.Setup(sys.argv, target, custom_mutator=mutate)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
