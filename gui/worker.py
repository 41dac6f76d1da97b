"""Background work: the LSTM encode and the classical codecs, never on the GUI thread.

Two worker threads, so the classical curves fill in while the LSTM iterates: one runs
LSTM jobs, the other loads images and runs the classical codecs. Jobs carry a Ticket;
cancelling it (Cancel button, switching images) stops an LSTM encode between iterations.
Results come back to the GUI thread through Qt signals (queued connections).

The classical thread hands the codecs' work to a child process (`ChildProcessRunner`):
Pillow encodes, bisection and metrics are mostly Python-level steps that hold the GIL, and
a GUI thread waiting for the GIL misses frames (measured: slider redraws with that work
in a thread, p95 17.5 ms and up to 6 ms of a 0.3 ms image paint spent waiting; in a
child process the GUI is as fast as when idle).
"""
from __future__ import annotations

import atexit
import itertools
import multiprocessing
import os
import queue
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, TimeoutError
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal

from codec.base.errors import CodecError
from codec.rd.session import run_each, run_here

from .child import child_init


def _ready() -> None:
    """Nothing, in a child: its start-up (Python, torch, the codecs and their plugins) is
    paid before the first image needs it."""
    import importlib
    importlib.import_module("codec.rd.session")  # what every classical job unpickles into
    importlib.import_module("codec.classical").available_codecs()


class ChildProcessRunner:
    """runner(fn, *args): fn(*args) computed in a shared child process, started on first use;
    runner.map(fn, argument tuples): the calls spread over both children (a curve's points:
    on 2 cores the second child halves the time to all curves, and, niced, it yields to the
    GUI and the LSTM while they work).

    Called from the classical worker thread only. If the child dies (killed, out of
    memory), the call is retried here in this process and the next call starts a new child.
    If children cannot work at all (they die twice; or a script starts the app without an
    `if __name__ == "__main__":` guard, and each child, which re-runs the script, ends in
    `gui/spawned.py`), the work runs here from then on: slower slider moves while it
    runs, but nothing lost."""

    MAX_BROKEN = 2
    CHILDREN = 2

    def __init__(self):
        self._pool: ProcessPoolExecutor | None = None
        self._in_process = False
        self._broken = 0

    def __call__(self, fn, *args):
        if self._in_process:
            return fn(*args)
        try:
            future = self._submit(fn, args)
        except BrokenProcessPool:  # the child died while idle
            return self._child_died(fn, args)
        except (RuntimeError, OSError) as e:
            if "shutdown" not in str(e):  # not the app exiting: children cannot start here
                self._give_up(f"no child process could be started: {e.__class__.__name__}")
            return fn(*args)
        try:
            return future.result()  # fn's own errors (CodecError...) are raised here, as if run here
        except BrokenProcessPool:
            return self._child_died(fn, args)

    def _submit(self, fn, args):
        if self._pool is None:
            # spawn, not fork: forking a process that runs Qt and torch threads is unsafe
            self._pool = ProcessPoolExecutor(self.CHILDREN, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=child_init, initargs=(os.getpid(),))
        return self._pool.submit(fn, *args)

    def map(self, fn, calls, should_stop=None) -> list:
        """[fn(*args) for args in calls], computed in parallel, in order; stops early (returning
        the results before the first unfinished one) when should_stop() turns True."""
        if self._in_process:
            return run_each(run_here, fn, calls, should_stop)
        try:
            futures = [self._submit(fn, args) for args in calls]
        except BrokenProcessPool:
            return [self._child_died(fn, args) for args in calls]
        except (RuntimeError, OSError):
            return [self(fn, *args) for args in calls]  # the same fallbacks as one call
        out = []
        for f, args in zip(futures, calls):
            while True:
                if should_stop and should_stop():
                    for g in futures:
                        g.cancel()
                    return out
                try:
                    out.append(f.result(timeout=0.1))
                    break
                except TimeoutError:
                    continue
                except BrokenProcessPool:
                    out.append(self._child_died(fn, args))
                    break
        return out

    def warm_up(self) -> None:
        """Start both children now (about 1.5 s of CPU each), e.g. while the user picks a file."""
        self.map(_ready, [()] * self.CHILDREN)

    def _child_died(self, fn, args):
        self._pool = None
        self._broken += 1
        if self._broken >= self.MAX_BROKEN:
            self._give_up("its child process stopped twice")
        return fn(*args)

    def _give_up(self, why: str):
        print(f"lstm-compare: the classical codecs now run in the app's own process ({why}).", file=sys.stderr)
        self._in_process = True
        self.shutdown()

    def shutdown(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


CLASSICAL_RUNNER = ChildProcessRunner()  # one child for the whole app, however many windows
atexit.register(CLASSICAL_RUNNER.shutdown)


class Ticket:
    def __init__(self):
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


@dataclass(order=True)
class Job:
    priority: float
    seq: int
    run: Callable = field(compare=False)      # run(ticket) -> None; emits its own signals
    ticket: Ticket = field(compare=False)
    what: str = field(compare=False, default="")


class _Thread(QThread):
    def __init__(self, name: str, on_error):
        super().__init__()
        self.setObjectName(name)
        self.jobs: queue.PriorityQueue = queue.PriorityQueue()
        self.on_error = on_error
        self.current: Job | None = None
        self.spent: dict[str, float] = {}  # seconds this thread spent on each kind of job (`what`)

    def run(self):
        while True:
            job = self.jobs.get()
            if job.run is None:
                return
            if job.ticket.cancelled:
                continue
            self.current = job
            start = time.perf_counter()
            try:
                job.run(job.ticket)
            except CodecError as e:
                self.on_error(job, str(e))
            except MemoryError:
                self.on_error(job, "out of memory; close other images or open a smaller one.")
            except Exception as e:  # a bug: report it in the window, keep the app alive
                traceback.print_exc()
                self.on_error(job, f"internal error while {job.what}: {type(e).__name__}: {e}")
            finally:
                self.current = None
                self.spent[job.what] = self.spent.get(job.what, 0.0) + time.perf_counter() - start


class Workers(QObject):
    """Owns the two threads. `submit` queues a job; lower priority numbers run first."""
    failed = Signal(str, str)  # what, message

    def __init__(self, parent=None):
        super().__init__(parent)
        self._seq = itertools.count()
        self.lstm = _Thread("lstm-worker", self._error)
        self.classic = _Thread("classic-worker", self._error)
        self.lstm.start()
        self.classic.start()

    def _error(self, job: Job, message: str):
        if not job.ticket.cancelled:
            self.failed.emit(job.what, message)

    def submit(self, thread: str, run, ticket: Ticket | None = None, priority: float = 1, what: str = "") -> Ticket:
        ticket = ticket or Ticket()
        getattr(self, thread).jobs.put(Job(priority, next(self._seq), run, ticket, what))
        return ticket

    def busy(self) -> bool:
        return any(t.current is not None or not t.jobs.empty() for t in (self.lstm, self.classic))

    def stop(self, wait_ms: int = 5000):
        for t in (self.lstm, self.classic):
            if t.current is not None:
                t.current.ticket.cancel()
            t.jobs.put(Job(-1, -1, None, Ticket()))
        for t in (self.lstm, self.classic):
            t.wait(wait_ms)
