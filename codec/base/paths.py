"""Where the shipped models, samples and published curves are: the installed package `lstm_compare_resources`
(a wheel, or an editable install of this checkout), else this checkout's resources/ folder."""
from __future__ import annotations

from pathlib import Path

try:
    import lstm_compare_resources as _resources
    RESOURCES = Path(_resources.__file__).resolve().parent
except ImportError:  # run from a checkout that was never installed
    RESOURCES = Path(__file__).resolve().parents[2] / "resources"

MODELS_DIR = RESOURCES / "models"
SAMPLES_DIR = RESOURCES / "samples"
ANCHORS_DIR = RESOURCES / "anchors"  # published RD curves, one folder per data set
