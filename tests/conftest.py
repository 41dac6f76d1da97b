import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the classical codecs' on-disk cache: one fresh folder per test run, never the user's
# (set before any child process is spawned, so they inherit it)
os.environ["LSTM_COMPARE_CACHE"] = tempfile.mkdtemp(prefix="lstm-compare-test-cache-")
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    """A small random-weights model: the codec's plumbing does not need a trained one."""
    from codec.lstm.checkpoint import save_checkpoint
    from codec.lstm.config import ModelConfig
    from codec.lstm.model import LSTMCodecNet
    torch.manual_seed(0)
    net = LSTMCodecNet(ModelConfig(width=0.0625, iterations=4))
    path = tmp_path_factory.mktemp("models") / "tiny.pt"
    save_checkpoint(path, net, {"name": "tiny-test"}, half=True)
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_model_path):
    from codec.lstm.checkpoint import load_model
    return load_model(tiny_model_path)


@pytest.fixture(scope="session")
def sample_pixels():
    from codec.imaging.imageio import load_rgb
    return load_rgb(ROOT / "resources" / "samples" / "coffee.png").pixels


@pytest.fixture
def small_image(sample_pixels):
    """A 40x56 crop: not a multiple of 16 on either side."""
    return np.ascontiguousarray(sample_pixels[100:140, 200:256])


def kodak_dir():
    return SHARED / "data" / "kodak"


needs_shared = pytest.mark.skipif(not (SHARED / "data" / "kodak").is_dir(),
                                  reason="../shared/data/kodak is not present")


METRIC_PACKAGE = Path(__file__).resolve().parent / "plugins" / "metric_package"


@pytest.fixture
def metric_plugins(monkeypatch):
    """The entry points of tests/plugins/metric_package (a PSNR of its own, a lower-is-better
    error), one that does not load and one that takes a built-in's id, as if installed; the
    metric registry reads them afresh, and again without them afterwards."""
    from importlib import metadata

    from codec.quality import registry
    dist = metadata.Distribution.at(METRIC_PACKAGE / "psnr_metric-1.0.dist-info")
    eps = list(dist.entry_points) + [metadata.EntryPoint("broken", "no_such_module:f", registry.GROUP),
                                     metadata.EntryPoint("psnr-rgb", "psnr_metric:psnr", registry.GROUP)]
    monkeypatch.syspath_prepend(str(METRIC_PACKAGE))
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: [e for e in eps if e.group == group])
    registry.reload()
    yield
    monkeypatch.undo()
    registry.reload()
