"""What RD results depend on, named once: the spec of an LSTM curve (the codec's options, the
iterations, the codec's source, the layout of what is stored) and of a classical codec's curve
(its library and settings), and with the metrics measured, by id and version, the fingerprint
that the data set cache, `eval --resume` and the cluster's task names are all keyed by. Results
of another code, another metric version or other settings are recomputed, never mixed.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from codec.classical import get_codec
from codec.quality import registry

# The layout of stored points and samples (codec/rd/sample_cache.py); older entries miss.
LAYOUT_VERSION = 4
_CODE = ("lstm/coder.py", "lstm/bitstream.py", "lstm/entropy.py", "lstm/context.py", "lstm/refine.py", "lstm/model")


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the LSTM codec's source: cached LSTM results are recomputed after any change."""
    root = Path(__file__).resolve().parent.parent  # codec/
    h = hashlib.sha256()
    for name in _CODE:
        for f in sorted((root / name).rglob("*.py")) if (root / name).is_dir() else [root / name]:
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def lstm_spec(codec, iterations: int | None) -> dict:
    """An LSTM curve's: the codec (LSTMOptions.spec), the iterations, the code and the layout."""
    return codec.spec() | {"iterations": iterations or codec.cfg.iterations, "code": code_version(),
                           "layout": LAYOUT_VERSION}


def classical_spec(key: str) -> dict:
    """A classical codec's curve: its library, its settings and the layout."""
    c = get_codec(key)
    return {"library": c.library(), "settings": [c.cache_key(s) for s in c.curve_settings], "layout": LAYOUT_VERSION}


def fingerprint(spec: dict, metric_ids=()) -> str:
    """A spec with the versions of the metrics measured, as one line of JSON (sorted keys)."""
    return json.dumps({"spec": spec, "metrics": registry.versions(metric_ids)}, sort_keys=True, default=repr)


def digest(spec: dict, metric_ids=(), length: int = 24) -> str:
    """fingerprint() hashed: a name for a file or a task."""
    return hashlib.sha256(fingerprint(spec, metric_ids).encode()).hexdigest()[:length]
