"""An observer's trials: every pair of the study once, in an order and with sides drawn for that
observer (seeded by the study and the observer's name, so reopening gives the same sequence and
continues where it stopped), with a check trial after every `check_every`: alternately two
identical candidates (any answer is a coin flip: a side bias shows) and the original against the
trap, a strongly degraded copy (the wrong answer shows inattention).
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from codec.study.folder import Study

ORIGINAL = "original"   # the condition name of the original itself (codec/study/responses.py)


@dataclass(frozen=True)
class Trial:
    """`left`, `right`: condition names (CODEC@BPP, or ORIGINAL, or the trap's `trap@BPP`);
    `kind`: "pair", "same" or "trap"."""
    index: int
    image: str
    left: str
    right: str
    kind: str = "pair"


def trials_for(study: Study, observer: str) -> list[Trial]:
    seed = int.from_bytes(hashlib.sha256(f"{study.id}:{observer}".encode()).digest()[:8], "big")
    rng = random.Random(seed)
    pairs = list(study.pairs)
    rng.shuffle(pairs)
    out, checks = [], 0
    for image, a, b in pairs:
        if study.check_every and out and len(out) % (study.check_every + 1) == study.check_every:
            out.append(_check(study, rng, len(out), checks))
            checks += 1
        left, right = (a, b) if rng.random() < 0.5 else (b, a)
        out.append(Trial(len(out), image, left, right))
    return out


def _check(study: Study, rng: random.Random, index: int, n: int) -> Trial:
    image = rng.choice(sorted(study.images))
    if n % 2 == 0:
        same = rng.choice([c.name for c in study.conditions if c.image == image])
        return Trial(index, image, same, same, "same")
    trap = trap_name(study, image)
    left, right = (ORIGINAL, trap) if rng.random() < 0.5 else (trap, ORIGINAL)
    return Trial(index, image, left, right, "trap")


def trap_name(study: Study, image: str) -> str:
    return f"trap@{study.images[image]['trap_bpp']:.3f}"


def stimulus_file(study: Study, image: str, name: str) -> str:
    """The file of a condition name on an image (relative to the study folder)."""
    if name == ORIGINAL:
        return study.images[image]["original"]
    if name.startswith("trap@"):
        return study.images[image]["trap"]
    return study.condition(image, name).file
