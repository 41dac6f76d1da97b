"""The models that ship in resources/models/, by name, and which one the app opens with.

Both of the paper's Figure 5 variants ship: Toderici's baseline on its L1 loss, and the
baseline and the paper's proposed model each fine-tuned with the same L1 + MS-SSIM recipe
(MS-SSIM is the metric the codecs are judged by). The default is the one with the best measured
Kodak RD at our training budget (docs/model.md gives the figures); the others are one menu
click or `--model NAME` away.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codec.base.paths import MODELS_DIR



@dataclass(frozen=True)
class ShippedModel:
    name: str   # what --model and the Model menu call it
    file: str   # in resources/models/
    title: str  # one line for status tips and --help
    label: str  # the Model menu's entry
    model_id: str  # its id, as .lstm headers name it (tests/test_zoo.py checks it)
    older_ids: tuple[str, ...] = ()  # ids of earlier versions of this file whose files it decodes

    @property
    def path(self) -> Path:
        return MODELS_DIR / self.file

    @property
    def ids(self) -> tuple[str, ...]:
        """Every id its files may carry: this version's, then the earlier ones."""
        return (self.model_id, *self.older_ids)


SHIPPED = (
    ShippedModel("baseline", "baseline.pt",
                 "Toderici baseline: sigmoid gates, depth-to-space, additive (γ = 1), L1", "&Baseline",
                 "f39034451ff23f68", older_ids=("af15c0942593f179",)),
    ShippedModel("proposed", "proposed.pt",
                 "Paper's variant: hard-sigmoid gates, image recovery block, γ = 0.5, SmoothL1; "
                 "then the L1 + MS-SSIM recipe baseline-msssim got", "&Proposed",
                 "67a7f84f1e6067ab", older_ids=("3e5cca460726ef03",)),
    ShippedModel("baseline-msssim", "baseline_msssim.pt",
                 "Toderici baseline, then fine-tuned on L1 + MS-SSIM (not in the paper)",
                 "Baseline, &tuned for MS-SSIM", "a174c1f668891189",
                 older_ids=("10e4ec54820ecc1f",)),  # the same weights before their context model
)
DEFAULT = "proposed"  # the best MS-SSIM BD-rate on Kodak: docs/model.md


@dataclass(frozen=True)
class RetiredModel:
    """Weights that shipped under a name and were replaced by better ones: kept, under no name,
    so that the .lstm files they wrote still decode."""
    file: str  # in resources/models/retired/
    title: str  # what it was, for whoever reads this table
    model_ids: tuple[str, ...]  # the ids its files carry in their headers

    @property
    def path(self) -> Path:
        return MODELS_DIR / "retired" / self.file


RETIRED: tuple[RetiredModel, ...] = (
    RetiredModel("proposed-smoothl1.pt",
                 "`proposed` until 2026-12-06: the paper's variant on SmoothL1 alone (9,249 steps), "
                 "before the L1 + MS-SSIM fine-tuning recipe", ("d6fd48dab947d338", "fefa1ba8d8b6a1a9")),
)


def shipped(name: str) -> ShippedModel:
    for m in SHIPPED:
        if m.name == name:
            return m
    raise KeyError(name)


def shipped_by_id(model_id: str) -> ShippedModel | None:
    """The shipped model with this id (or one of its earlier ids), if any."""
    return next((m for m in SHIPPED if model_id in m.ids), None)


def display_name(model) -> str:
    """What the app calls a loaded model: a shipped one by its zoo name, else by its own."""
    mine = shipped_by_id(model.model_id)
    return mine.name if mine else model.name


def default_model_path() -> Path:
    return shipped(DEFAULT).path


def resolve_model(spec: str | Path | None) -> Path:
    """A shipped model's name, a checkpoint path, or None (the default) -> a path."""
    if spec is None or spec == "":
        return default_model_path()
    if isinstance(spec, str) and spec in {m.name for m in SHIPPED}:
        return shipped(spec).path
    return Path(spec)


def model_help() -> str:
    names = ", ".join(m.name for m in SHIPPED)
    return f"a shipped model ({names}) or a checkpoint file (.pt); default: {DEFAULT}"


def find_shipped(model_id: str):
    """The shipped or retired model with this id (as written in .lstm headers), loaded; None
    if none is.

    Only that model's file is read (the tables above name each file's ids); a file whose
    weights no longer match its id is not taken for it."""
    from codec.lstm.checkpoint import load_model  # torch: only when a file asks for it
    files = [(m.path, m.ids) for m in SHIPPED] + [(r.path, r.model_ids) for r in RETIRED]
    for path, ids in files:
        if model_id in ids and path.exists():
            model = load_model(path)
            if model_id in model.ids:
                return model
    return None
