"""What each of the classical codecs' child processes runs first (`ChildProcessRunner`).

Kept light: the child unpickles this before anything else, so its first lines run a
moment after the child's Python starts, before the seconds of importing torch and the codecs.
"""
import os
import signal
import threading
import time


def child_init(parent_pid: int):
    # A terminal's Ctrl+C reaches the whole process group: the app, not its children, decides
    # when their work ends (interrupted, a child would hand the app a KeyboardInterrupt)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
    if hasattr(os, "nice"):
        os.nice(10)  # background work: the GUI (and the X server) come first when they need a core
    import cv2
    import torch
    torch.set_num_threads(1)  # one core for the child, the other for the GUI and the LSTM
    cv2.setNumThreads(1)  # the metrics' filtering, likewise


def _exit_with_parent(parent_pid: int):
    """A killed app (SIGKILL, SIGTERM) runs no clean-up; its child must not linger."""
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(0)
