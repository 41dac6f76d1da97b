"""A data set's evaluation on a Dask cluster: one task per (image, curve), keyed as the
on-disk cache keys it (the image's content, the codec, what decides its points), so a run
that stops, or loses a worker, computes nothing twice when it resumes.

`connect(workers=N)` starts a cluster on this machine (no setup); `connect(scheduler=ADDRESS)`
joins a running one (dask-jobqueue's Slurm or PBS clusters, Kubernetes, `dask scheduler`).
Workers read the images by path and write the cache where `LSTM_COMPARE_CACHE` points, so
on several machines both must be on a shared file system. Each task runs torch and OpenCV
on one thread: a worker's task slots, not the libraries' threads, use its cores.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

from codec.base.errors import CodecError
from codec.classical import get_codec
from codec.imaging.imageio import content_key, load_rgb
from codec.lstm.checkpoint import load_model
from codec.lstm.coder import LSTMCodec
from codec.lstm.options import LSTMOptions
from codec.quality import registry
from codec.rd.dataset import curve_points
from codec.rd.fingerprint import classical_spec, digest, lstm_spec
from codec.rd.points import RDPoint

CONNECT_TIMEOUT = "10s"


@dataclass(frozen=True)
class LSTMJob:
    """What a worker needs to build the same LSTM codec: its options (codec/lstm/options.py),
    the model by absolute path, and the model's id to check that file against."""
    options: LSTMOptions
    model_id: str

    @classmethod
    def of(cls, codec: LSTMCodec) -> "LSTMJob":
        if not codec.model.path:
            raise CodecError("the LSTM model has no file, so cluster workers cannot load it; "
                             "save it with 'lstm-codec export-model' and pass its path with --model.")
        return cls(codec.options.replace(model=str(Path(codec.model.path).resolve())), codec.model.model_id)


@lru_cache(maxsize=4)
def _codec(job: LSTMJob) -> LSTMCodec:
    model = load_model(job.options.model)
    if model.model_id != job.model_id:
        raise CodecError(f"the model file {job.options.model} on this worker is another model (id {model.model_id}, "
                         f"not {job.model_id}); give every worker the same file.")
    return LSTMCodec.from_options(job.options, model)


def _one_thread() -> None:
    """Tasks share a worker's cores through its task slots: the libraries get one thread each."""
    import cv2
    import torch
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    cv2.setNumThreads(1)


def curve_task(path: str, name: str, image: str, key: str, job: LSTMJob, iterations: int | None,
               asked: tuple[str, ...]) -> list[dict]:
    """On a worker: one curve of one image, through the cache; records, not arrays."""
    _one_thread()
    pixels = load_rgb(path).pixels
    codec = _codec(job) if key == "lstm" else None
    return [p.record() for p in curve_points(pixels, name, key, codec, iterations, asked, image=image)]


def task_key(image: str, key: str, spec: dict, asked: tuple[str, ...]) -> str:
    """The task's name in Dask: the cache's key (content, codec, what decides the points) and
    the metrics measured, by id and version."""
    return f"rd-{key}-{image}-{digest(spec, [*registry.fast(), *asked], 16)}"


def _unique(key: str, taken: set) -> str:
    """Two files with the same pixels are two tasks (the second reads the first's cache)."""
    k, n = key, 1
    while k in taken:
        n += 1
        k = f"{key}-{n}"
    taken.add(k)
    return k


def connect(workers: int = 0, scheduler: str = ""):
    """A Dask client: on `scheduler` (an address), or on a new cluster of `workers` processes
    on this machine, each with one task slot."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise CodecError("distributed evaluation needs Dask: pip install 'lstm-compare[cluster]'.") from None
    if scheduler:
        try:
            return Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as e:
            raise CodecError(f"could not reach the Dask scheduler at {scheduler} ({type(e).__name__}); check that "
                             "it is running and the address is right, or use --workers N for a cluster on "
                             "this machine.") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster)


def close(client) -> None:
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def run(client, images: Iterable[tuple[Path, str]], keys: list[str], codec: LSTMCodec, iterations: int | None,
        asked: tuple[str, ...], on_image: Callable[[str, list[RDPoint]], None],
        on_failure: Callable[[str, str, str], None]) -> None:
    """Every (image, curve) as a task; `on_image(name, points)` as soon as an image's curves
    are all in (the LSTM's first, then `keys` in order), `on_failure(name, curve, why)` for
    a curve that failed. The other tasks go on either way."""
    from distributed import as_completed
    curves = ["lstm", *keys]
    job = LSTMJob.of(codec)
    specs = {"lstm": lstm_spec(codec, iterations)} | {k: classical_spec(k) for k in keys}
    futures, pending, taken = {}, {}, set()
    for path, image in images:
        pending[path.name] = {}
        for key in curves:
            f = client.submit(curve_task, str(path), path.name, image, key, job, iterations, tuple(asked),
                              key=_unique(task_key(image, key, specs[key], tuple(asked)), taken), pure=False)
            futures[f] = (path.name, key)
    failed = set()
    for f in as_completed(futures):
        name, key = futures[f]
        if f.status == "error":
            failed.add(name)
            on_failure(name, key, _why(f.exception(), key))
            continue
        pending[name][key] = [RDPoint.from_record(r, image=name) for r in f.result()]
        if name not in failed and len(pending[name]) == len(curves):
            done = pending.pop(name)
            on_image(name, [p for k in curves for p in done[k]])


def _why(error: BaseException, key: str) -> str:
    label = "the LSTM" if key == "lstm" else get_codec(key).label
    if type(error).__name__ == "KilledWorker":
        return f"{label}: the workers that ran it died each time (out of memory?)"
    return f"{label}: {error}"


def image_keys(paths: list[Path]) -> list[tuple[Path, str]]:
    """Each image's content key (read here, once): the tasks' and the cache's name for it."""
    return [(p, content_key(load_rgb(p).pixels)) for p in paths]
