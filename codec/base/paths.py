"""Where the shipped models and samples are: the installed package `lstm_compare_resources`
(a wheel, or an editable install of this checkout), else this checkout's resources/ folder."""
from __future__ import annotations

from pathlib import Path

try:
    import lstm_compare_resources as _resources
    RESOURCES = Path(_resources.__file__).resolve().parent
except ImportError:  # run from a checkout that was never installed
    RESOURCES = Path(__file__).resolve().parent.parent / "resources"

MODELS_DIR = RESOURCES / "models"
SAMPLES_DIR = RESOURCES / "samples"
