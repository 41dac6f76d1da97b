"""How a data set's evaluation scales on Dask (docs/cluster.md): Kodak's images, every codec,
on 1 worker and on 2 on this machine, then how the time would fall with N workers.

    python scripts/bench_cluster.py [--images ../shared/data/kodak] [--limit 0] [--workers 1,2]

Each run starts from an empty cache, so everything is computed. From the 1-worker run's
task stream it takes every task's duration; the scheduler's cost per task comes from a
burst of empty tasks. The N-worker figures are a simulation: the tasks, longest first, each
to the worker free soonest (how Dask's scheduler places independent tasks), plus the
per-task overhead: the time falls until the longest task (one image's LSTM curve) or the
number of tasks bounds it.
"""
from __future__ import annotations

import argparse
import heapq
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codec.lstm.checkpoint import load_model  # noqa: E402
from codec.lstm.coder import LSTMCodec  # noqa: E402
from codec.lstm.encoders import DEFAULT_ENCODER, ENCODERS  # noqa: E402
from codec.lstm.zoo import resolve_model  # noqa: E402
from codec.rd import cluster  # noqa: E402
from codec.rd.evaluate import FIGURE_CODECS, evaluate  # noqa: E402


def timed_run(images, workers: int, limit: int, codec) -> tuple[float, list[tuple[str, float]]]:
    os.environ["LSTM_COMPARE_CACHE"] = tempfile.mkdtemp(prefix="bench-cache-")
    client = cluster.connect(workers=workers)
    try:
        client.run(lambda: __import__("codec.rd.cluster"))  # workers warm: torch imported, as in a long run
        from distributed import get_task_stream
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as out, get_task_stream(client) as stream:
            evaluate(images, out, codec, classical=FIGURE_CODECS, limit=limit or None, progress=False, plot=False,
                     client=client)
        wall = time.perf_counter() - t0
        tasks = [(t["key"], sum(s["stop"] - s["start"] for s in t["startstops"] if s["action"] == "compute"))
                 for t in stream.data]
        return wall, [(k, d) for k, d in tasks if str(k).startswith("rd-")]
    finally:
        cluster.close(client)


def overhead_per_task(n: int = 2000) -> float:
    """The scheduler's and the client's cost of one tiny task, on a local 2-worker cluster."""
    client = cluster.connect(workers=2)
    try:
        t0 = time.perf_counter()
        client.gather(client.map(lambda i: i, range(n), pure=False))
        return (time.perf_counter() - t0) / n
    finally:
        cluster.close(client)


def simulate(durations: list[float], workers: int, overhead: float) -> float:
    free = [0.0] * workers
    for d in sorted(durations, reverse=True):
        heapq.heapreplace(free, free[0] + d + overhead)
    return max(free)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", default=str(ROOT.parent / "shared/data/kodak"))
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--workers", default="1,2")
    a = p.parse_args()
    codec = LSTMCodec(load_model(resolve_model(None)), refine=ENCODERS[DEFAULT_ENCODER])
    runs = {}
    for n in map(int, a.workers.split(",")):
        runs[n] = timed_run(a.images, n, a.limit, codec)
        print(f"{n} worker(s): {runs[n][0]:.1f} s for {len(runs[n][1])} tasks", flush=True)
    first = min(runs)
    wall, tasks = runs[first]
    durations = [d for _, d in tasks]
    busy = sum(durations)
    lstm = [d for k, d in tasks if str(k).startswith("rd-lstm-")]
    print(f"tasks: {len(durations)}, {busy:.1f} s of compute in all; the longest {max(durations):.1f} s "
          f"(LSTM curves {min(lstm):.1f}-{max(lstm):.1f} s each)")
    print(f"{first} worker(s): compute is {busy / wall:.0%} of the wall time")
    if len(runs) > 1:
        last = max(runs)
        print(f"speed-up {first} -> {last} workers: {runs[first][0] / runs[last][0]:.2f}x")
    per_task = overhead_per_task()
    print(f"scheduler overhead: {per_task * 1e3:.2f} ms per task")
    print("simulated (tasks longest first to the worker free soonest, plus the overhead):")
    for n in (1, 2, 4, 8, 16, 32, 64, 128):
        t = simulate(durations, n, per_task)
        print(f"  {n:4d} workers: {t:7.1f} s, speed-up {simulate(durations, 1, per_task) / t:5.1f}x")


if __name__ == "__main__":
    main()
