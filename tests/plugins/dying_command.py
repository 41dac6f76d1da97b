"""toy_command.py's codec, except that its first encode kills the process that runs it (a
Dask worker in tests/test_cluster.py): `python dying_command.py MARKER encode ...`; MARKER
is written then, so every later call works."""
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import toy_command  # noqa: E402


def main(argv):
    marker = Path(argv[0])
    if argv[1] == "encode" and not marker.exists():
        marker.write_text("the worker was killed here\n")
        os.kill(os.getppid(), signal.SIGKILL)
        return 1
    return toy_command.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
