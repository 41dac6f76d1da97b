"""lstm-codec: the codec from the command line.

    lstm-codec encode IN OUT.lstm [--iterations K] [--model baseline|proposed|PATH] [--refine 10]
    lstm-codec decode IN.lstm OUT.png [--iterations K] [--salvage]
    lstm-codec info IN.lstm
    lstm-codec eval DIR --out OUTDIR [--metrics ID[,ID]]
    lstm-codec metrics
    lstm-codec train --data DIR ...
    lstm-codec compare IN --iterations K --out fig.png
    lstm-codec study analyse RESPONSES.csv [MORE.csv ...] --out DIR [--exclude OBS[,OBS]]

Exit 0 on success; on a user error, exit 2 with one line on stderr (no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from codec.base import atomic
from codec.base.errors import CodecError
from codec.base.pipes import closed_output
from codec.lstm.zoo import model_help

EXIT_USER_ERROR = 2


class UserError(CodecError):
    pass


def _load(model_path):
    from codec.lstm.checkpoint import load_model
    from codec.lstm.zoo import resolve_model
    return load_model(resolve_model(model_path))


def _options(args):
    """The LSTM's options from the command line: --model, --tile, --no-entropy, --encoder or
    --refine STEPS (a search of your own), --precision."""
    from codec.lstm.encoders import ENCODERS, RefineSettings
    from codec.lstm.options import LSTMOptions
    steps, ahead = getattr(args, "refine", 0), getattr(args, "refine_lookahead", 1)
    if steps < 0 or ahead < 0:
        raise UserError("--refine and --refine-lookahead take a number of steps (0 or more).")
    refine = RefineSettings(steps=steps, lookahead=ahead) if steps else ENCODERS[getattr(args, "encoder", "fast")]
    defaults = LSTMOptions()
    return LSTMOptions(model=getattr(args, "model", None), refine=refine,
                       entropy=not getattr(args, "no_entropy", False),
                       precision=getattr(args, "precision", defaults.precision),
                       tile=getattr(args, "tile", None) or defaults.tile,
                       device=getattr(args, "device", defaults.device))


def _codec(args, model=None):
    from codec.lstm.coder import LSTMCodec
    return LSTMCodec.from_options(_options(args), model)


def _writable(path, force: bool) -> Path:
    p = Path(path)
    if p.exists() and not force:
        raise UserError(f"{p} already exists; choose another name or pass --force to overwrite it.")
    if not p.parent.exists():
        raise UserError(f"the folder {p.parent} does not exist; create it first.")
    return p


def _read_bytes(path) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p} does not exist or is not a file.")
    return p.read_bytes()


def _tile_progress(what: str, always: bool = False):
    """A progress callback for photos of several tiles (a 25-megapixel photo: 24 to 70
    tiles), or for every photo (`always`: refinement takes minutes): one line on stderr,
    rewritten as tiles finish, with the time left at the pace so far."""
    start = time.monotonic()

    def progress(done, total):
        if total > 1 or always:
            elapsed = time.monotonic() - start
            left = f", about {_duration(elapsed / done * (total - done))} left" if done < total else \
                f" in {_duration(elapsed)}"
            print(f"\r{what}: tile {done} of {total} done{left}\033[K", end="\n" if done == total else "",
                  file=sys.stderr, flush=True)
    return progress


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def cmd_encode(a):
    from codec.imaging.imageio import load_rgb
    from codec.lstm.encoders import encoder_name
    out = _writable(a.output, a.force)
    img = load_rgb(a.input)
    codec = _codec(a)

    slow = bool(codec.refine and not codec.refine.first)  # a search on every iteration: minutes
    tile = codec.tile_for(img.height, img.width)
    if tile != codec.tile:
        print(f"note: the {encoder_name(codec.refine)} encoder searches this photo in {tile}-pixel tiles, not "
              f"{codec.tile}: a larger tile's search would need more than 2 GB of memory "
              "(--encoder fast keeps the larger tiles).", file=sys.stderr)
    data, _ = codec.encode(img.pixels, a.iterations, progress=_tile_progress(
        "refining bits" if slow else "encoding", always=slow))
    atomic.write_bytes(out, data)
    for note in img.notes:
        print(f"note: {note}", file=sys.stderr)
    from codec.imaging.units import bpp
    print(f"{out}: {img.width}x{img.height}, {len(data)} bytes, {bpp(len(data), img.height, img.width):.4f} bpp, "
          f"model {codec.model.model_id}")


def cmd_decode(a):
    from codec.imaging.imageio import save_rgb
    from codec.lstm.lstm_file import decode_file
    out = _writable(a.output, a.force)
    model = _load(a.model) if a.model else None  # by default, the shipped model the file names
    decoded = decode_file(_read_bytes(a.input), model, a.iterations, salvage=a.salvage,
                          progress=_tile_progress("decoding"), device=a.device)
    rec = decoded.pixels
    try:
        save_rgb(rec, out)
    except (ValueError, OSError) as e:
        raise UserError(f"could not write {out} ({e}); use a .png, .bmp or .tif name.") from None
    if decoded.damage:
        print(f"salvaged: {decoded.notes()[0]}", file=sys.stderr)
    print(f"{out}: {rec.shape[1]}x{rec.shape[0]}, {decoded.iterations} iterations")


def cmd_info(a):
    from codec.lstm.bitstream import file_info
    info = file_info(_read_bytes(a.input))
    if a.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{k:22s} {v}")


def cmd_eval(a):
    from codec.classical import get_codec
    from codec.rd.evaluate import FIGURE_CODECS, evaluate, summary_lines
    classical = a.classical.split(",") if a.classical else list(FIGURE_CODECS)
    for key in classical:
        get_codec(key)  # an unknown key: a sentence listing the known ones
    if a.workers < 0:
        raise UserError("--workers takes a number of worker processes (1 or more).")
    from codec.rd.published import load as load_published
    published = [load_published(f) for f in a.published]
    asked = ([] if a.metrics.strip() == "none" else _metrics(a.metrics)) + (["ssimulacra2"] if a.ssimulacra2 else [])
    codec = _codec(a)
    client = None
    if a.workers or a.scheduler:
        from codec.rd import cluster
        client = cluster.connect(a.workers, a.scheduler)
    try:
        res = evaluate(a.directory, a.out, codec, classical=classical, iterations=a.iterations,
                       limit=a.limit or None, progress=not a.quiet, resume=a.resume,
                       asked=tuple(asked), client=client, bd_method=a.bd_method,
                       published=published)
    finally:
        if client is not None:
            cluster.close(client)
    from codec.rd.verdict import trained_for
    for line in summary_lines(res, trained_for(codec.model.meta)):
        print(line)
    print("wrote " + ", ".join(res.files))


def _metrics(names: str) -> list[str]:
    """--metrics a,b: registered metric ids, or a sentence naming the ones there are."""
    from codec.quality import registry
    try:
        return registry.parse(names)
    except KeyError as e:
        raise UserError(f"{e.args[0]}; `lstm-codec metrics` lists them.") from None


def cmd_metrics(a):
    from codec.quality import registry
    print(f"{'id':16s} {'BD scale':18s} {'better':7s} {'measured':12s} {'version':8s} label, origin")
    for x in registry.all_metrics():
        print(f"{x.id:16s} {x.bd_scale:18s} {'higher' if x.higher_is_better else 'lower':7s} "
              f"{'on request' if x.slow else 'always':12s} {x.version:8s} {x.label}, {x.origin}")
    for p in registry.problems():
        print(f"note: {p}")


def cmd_train(a):
    from codec.train.trainer import train
    from codec.train.settings import from_args
    s, cfg = from_args(a)
    train(s, cfg)


def cmd_compare(a):
    from codec.classical import get_codec
    from codec.rd.figures import comparison_figure
    from codec.imaging.imageio import load_rgb
    from codec.rd.session import ImageSession
    get_codec(a.codec)  # an unknown key: a sentence listing the known ones
    out = _writable(a.out, a.force)
    img = load_rgb(a.input)
    session = ImageSession(img.pixels, img.name, _codec(a), img.notes)
    for _ in session.run_lstm(a.iterations):
        pass
    lstm = session.lstm[-1]
    cl = session.match(a.codec, a.iterations)
    label = get_codec(a.codec).label

    def text(s):
        return f"{s.num_bytes} B, {s.bpp:.3f} bpp, PSNR {s.value('psnr-rgb'):.2f} dB, MS-SSIM {s.value('ms-ssim-rgb'):.4f}"

    panels = [(f"LSTM ({a.iterations} iterations)", lstm.reconstruction, text(lstm)),
              (f"{label} ({cl.label})", cl.reconstruction, text(cl))]
    comparison_figure(out, img.pixels, panels, title=f"{Path(a.input).name}: LSTM vs {label} at matched bpp")
    print(f"{out}: LSTM {lstm.bpp:.3f} bpp vs {label} {cl.bpp:.3f} bpp")


def cmd_export_model(a):
    from codec.lstm.checkpoint import export_model
    out = _writable(a.output, a.force)
    meta = {"name": a.name} if a.name else {}
    for item in a.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set takes KEY=VALUE, not {item!r}.")
        meta[key] = value
    mid = export_model(a.input, out, half=not a.fp32, meta=meta or None)
    print(f"{out}: model {mid}, {out.stat().st_size / 1e6:.1f} MB")


def cmd_study_analyse(a):
    """A pairwise-comparison study's answers -> JOD scale, intervals, observer checks, BD-rates."""
    import math
    from codec.study.responses import read_responses
    from codec.study.scale import analyse, check_out_dir, write
    check_out_dir(a.out, a.force)  # before the bootstrap's minutes, not after
    if a.bootstrap < 0:
        raise UserError("--bootstrap takes a number of resamples (0 or more).")
    exclude = [o.strip() for o in a.exclude.split(",") if o.strip()]
    scale = analyse(read_responses(a.responses), exclude=exclude, bootstrap=a.bootstrap, seed=a.seed,
                    anchor=a.anchor)
    files = write(scale, a.out, force=a.force)
    for w in scale.warnings:
        print(f"warning: {w}", file=sys.stderr)
    failed = {o.observer: o for o in scale.observers if o.failed and not o.excluded}
    if failed:
        listed = ", ".join(f"{k} ({o.traps_wrong} of {o.traps} wrong)" for k, o in failed.items())
        print(f"note: observers failing the trap trials (more than a quarter wrong): {listed}; leave them out with "
              f"--exclude {','.join(failed)}.", file=sys.stderr)
    n = scale.settings["observers"]
    print(f"{n} observer{'s' if n != 1 else ''}, {len(scale.images)} image{'s' if len(scale.images) != 1 else ''}, "
          f"{a.bootstrap} bootstrap resamples; JOD 0 is the lowest bitrate of {scale.anchor}")
    for codec, value in scale.bd_rates.get("all", {}).items():
        print(f"BD-rate on JOD of {codec} against {scale.anchor} (all images): "
              + ("none, the curves do not overlap" if math.isnan(value) else f"{value:+.1f}%"))
    print("wrote " + ", ".join(str(f) for f in files))


def build_parser() -> argparse.ArgumentParser:
    from codec.lstm.encoders import DEFAULT_ENCODER, ENCODER_LABELS, ENCODERS
    from codec.lstm.options import DEVICES, PRECISION_CHOICES, LSTMOptions
    p = argparse.ArgumentParser(prog="lstm-codec", description="Progressive LSTM image codec (Toderici et al. "
                                "2017 with hard-sigmoid gates and an image recovery block).")
    sub = p.add_subparsers(dest="command", required=True)

    def model_opts(sp, writes=True):
        sp.add_argument("--model", help=model_help())
        sp.add_argument("--tile", type=int, default=0, help="tile size in pixels, multiple of 16 (default 1024)")
        sp.add_argument("--device", choices=DEVICES, default="auto",
                        help="where the network runs: auto (default) takes an NVIDIA GPU or a Mac's when there is "
                             "one; on a GPU, TF32 off and deterministic kernels, so that its files decode on a CPU "
                             "within one level (docs/performance.md says what was validated where)")
        if writes:
            sp.add_argument("--no-entropy", action="store_true",
                            help="store the code bits uncompressed, as the paper does (default: entropy-coded, "
                                 "lossless, 9-17%% smaller on Kodak)")
            sp.add_argument("--encoder", choices=list(ENCODERS), default=DEFAULT_ENCODER,
                            help="which bits to send (same decoder and files): " + "; ".join(
                                f"{name}: {label}" for name, label in ENCODER_LABELS.items())
                            + f" (default {DEFAULT_ENCODER})")
            sp.add_argument("--refine", type=int, default=0, metavar="STEPS",
                            help="instead of --encoder, a search of your own: STEPS Adam steps per iteration "
                                 "(--encoder thorough is 10, with one iteration of lookahead)")
            sp.add_argument("--refine-lookahead", type=int, default=1, metavar="N",
                            help="later iterations the refinement also scores (default 1)")
            sp.add_argument("--precision", choices=PRECISION_CHOICES, default=LSTMOptions().precision,
                            help="the network's arithmetic, which the file records and decodes in: int8 (its "
                                 "convolutions in integers, about 2x faster, on x86 CPUs), bf16 (CPUs with AVX-512 "
                                 "BF16 or AMX), fp32; auto (the default): int8 on CPUs with VNNI or AMX, fp32 elsewhere")

    e = sub.add_parser("encode", help="image -> .lstm file")
    e.add_argument("input"), e.add_argument("output")
    e.add_argument("--iterations", "-k", type=int, default=None, help="iterations (default: the model's, 16)")
    e.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    model_opts(e)
    e.set_defaults(func=cmd_encode)

    d = sub.add_parser("decode", help=".lstm file -> image")
    d.add_argument("input"), d.add_argument("output")
    d.add_argument("--iterations", "-k", type=int, default=None, help="decode only the first K iterations")
    d.add_argument("--force", action="store_true")
    d.add_argument("--salvage", action="store_true",
                   help="decode the intact iterations of a damaged or cut file (those before the first damaged one)")
    model_opts(d, writes=False)
    d.set_defaults(func=cmd_decode)

    i = sub.add_parser("info", help="show a .lstm file's header")
    i.add_argument("input")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_info)

    ev = sub.add_parser("eval", help="RD evaluation of a folder against classical codecs")
    ev.add_argument("directory")
    ev.add_argument("--out", required=True, help="output folder (JSON, CSV, BD-rates, plot)")
    ev.add_argument("--classical", "--baselines", default=None,
                    help="classical codecs, comma-separated (default: every one but jpeg444)")
    ev.add_argument("--iterations", "-k", type=int, default=None)
    ev.add_argument("--limit", type=int, default=0, help="only the first N images")
    ev.add_argument("--quiet", action="store_true")
    ev.add_argument("--metrics", default="ssimulacra2", metavar="ID[,ID]",
                    help="the slow metrics to measure too, with their BD-rates, by id (`lstm-codec metrics` lists "
                    "them, plugins' too); default ssimulacra2, so the verdict is given on a metric the models were "
                    "not trained for (about 0.3 s a point at Kodak's size); 'none' for PSNR, MS-SSIM and SSIM only")
    ev.add_argument("--ssimulacra2", action="store_true",
                    help="the same as --metrics ssimulacra2 (about 0.3 s per point at Kodak's size)")
    ev.add_argument("--resume", action="store_true",
                    help="carry on from the images an interrupted evaluation into --out finished")
    ev.add_argument("--bd-method", choices=["pchip", "akima"], default="pchip",
                    help="the BD-rates' interpolation: pchip (JVET's common test conditions, CompressAI) or akima")
    ev.add_argument("--published", action="append", default=[], metavar="FILE",
                    help="also report BD-rates against this published curve (CompressAI's JSON shape or CSV, "
                    "naming the images it was measured on); CompressAI's Kodak curves ship built in")
    where = ev.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=0,
                       help="evaluate on a Dask cluster of N worker processes on this machine")
    where.add_argument("--scheduler", default="",
                       help="evaluate on a running Dask cluster (tcp://HOST:PORT); workers need the images and "
                       "the model at the same paths, and a shared LSTM_COMPARE_CACHE")
    model_opts(ev)
    ev.set_defaults(func=cmd_eval)

    mt = sub.add_parser("metrics", help="list the quality metrics: built in and plugins")
    mt.set_defaults(func=cmd_metrics)

    t = sub.add_parser("train", help="train a model")
    from codec.train.settings import add_arguments
    add_arguments(t)
    t.set_defaults(func=cmd_train)

    c = sub.add_parser("compare", help="comparison figure: original, LSTM, classical at matched bpp, errors")
    c.add_argument("input")
    c.add_argument("--iterations", "-k", type=int, default=2)
    c.add_argument("--codec", default="jpeg", help="the classical codec (jpeg, webp, avif, heic, jxl, ...)")
    c.add_argument("--out", required=True)
    c.add_argument("--force", action="store_true")
    model_opts(c)
    c.set_defaults(func=cmd_compare)
    x = sub.add_parser("export-model", help="training checkpoint -> small shippable model (float16)")
    x.add_argument("input"), x.add_argument("output")
    x.add_argument("--name", default="", help="a name shown in the app's About box")
    x.add_argument("--fp32", action="store_true", help="keep float32 weights")
    x.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="add a note to the model's metadata (e.g. data_description=..., hardware=...)")
    x.add_argument("--force", action="store_true")
    x.set_defaults(func=cmd_export_model)

    st = sub.add_parser("study", help="studies with people: scale the answers of a pairwise-comparison study")
    study = st.add_subparsers(dest="study_command", required=True)
    sa = study.add_parser("analyse", help="responses CSV files -> JOD scale with 95%% intervals, observer "
                          "checks and BD-rates on JOD (scale.csv, scale.json, scale.png)")
    sa.add_argument("responses", nargs="+", metavar="RESPONSES.csv",
                    help="CSV files with the columns observer,image,a,b,chosen (one study's)")
    sa.add_argument("--out", required=True, metavar="DIR", help="output folder (made if missing)")
    sa.add_argument("--exclude", default="", metavar="OBS[,OBS]",
                    help="leave these observers out (e.g. those failing the trap trials)")
    sa.add_argument("--bootstrap", type=int, default=500, metavar="N",
                    help="bootstrap resamples over observers for the 95%% intervals (default 500; 0: none)")
    sa.add_argument("--seed", type=int, default=0, help="the bootstrap's seed (default 0)")
    sa.add_argument("--anchor", default=None, metavar="CODEC",
                    help="the codec at JOD 0 and the BD-rates' anchor (default jpeg, else the first alphabetically)")
    sa.add_argument("--force", action="store_true", help="overwrite the results in --out")
    sa.set_defaults(func=cmd_study_analyse)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
    except BrokenPipeError:
        return closed_output()
    except CodecError as e:
        msg = str(e)
        print(f"lstm-codec {args.command}: error: {msg[0].lower() + msg[1:] if msg else type(e).__name__}",
              file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"lstm-codec {args.command}: interrupted.", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"lstm-codec {args.command}: error: out of memory; use a smaller --tile.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
