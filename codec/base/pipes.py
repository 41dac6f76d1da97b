"""A command whose output is closed early (`lstm-codec info a.lstm | head -3`) exits quietly,
as Unix tools do, instead of ending in a BrokenPipeError traceback."""
from __future__ import annotations

import os
import sys

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what the shell reports for a C tool in the same place


def closed_output() -> int:
    """Call in `except BrokenPipeError`: stdout is pointed at /dev/null so that the
    interpreter's last flush at exit cannot raise again; returns the exit status."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout already closed or not a file
        pass
    return EXIT_BROKEN_PIPE
