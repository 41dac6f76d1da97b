"""Atomic writes: a writer killed mid-write leaves the old file, or none, never a partial one."""
import os
import signal
import subprocess
import sys

import pytest

from codec.base.atomic import atomic_path, write_bytes
from conftest import ROOT

WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from codec.base.atomic import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    with open(tmp, "wb") as f:
        f.write(b"partial " * 1000)
        f.flush()
        print("writing", flush=True)
        time.sleep(60)  # killed here, mid-write
        f.write(b"rest")
"""


@pytest.mark.parametrize("existed", [False, True])
def test_a_killed_writer_leaves_no_partial_file(tmp_path, existed):
    target = tmp_path / "out.lstm"
    if existed:
        target.write_bytes(b"the user's file")
    p = subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT)), str(target)],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "writing"
    os.kill(p.pid, signal.SIGKILL)
    p.wait(10)
    if existed:
        assert target.read_bytes() == b"the user's file"
    else:
        assert not target.exists()
    leftovers = [q.name for q in tmp_path.iterdir() if q != target]
    assert all(n.startswith(".out-") for n in leftovers)  # hidden, and named for what it was


def test_a_failed_writer_removes_its_temporary_file(tmp_path):
    target = tmp_path / "a.png"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("encoder failed")
    assert list(tmp_path.iterdir()) == []
    write_bytes(target, b"whole")
    assert target.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [target]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # as any new file, not mkstemp's 0600
    target.chmod(0o640)
    write_bytes(target, b"again")
    assert target.stat().st_mode & 0o777 == 0o640  # an overwritten file keeps its mode


def test_the_cli_writes_its_outputs_atomically(tmp_path, tiny_model_path, small_image, monkeypatch):
    """The .lstm and the decoded image go through atomic_path (the writers used by the app's
    exports and the evaluation do too)."""
    from PIL import Image

    import codec.base.atomic
    from codec.cli import main
    seen = []
    real = codec.base.atomic.atomic_path

    def spy(path):
        seen.append(os.path.basename(path))
        return real(path)
    monkeypatch.setattr(codec.base.atomic, "atomic_path", spy)
    monkeypatch.setattr("codec.imaging.imageio.atomic_path", spy)
    photo = tmp_path / "p.png"
    Image.fromarray(small_image).save(photo)
    assert main(["encode", str(photo), str(tmp_path / "p.lstm"), "-k", "1", "--model", str(tiny_model_path)]) == 0
    assert main(["decode", str(tmp_path / "p.lstm"), str(tmp_path / "d.png"), "--model", str(tiny_model_path)]) == 0
    assert seen == ["p.lstm", "d.png"]
