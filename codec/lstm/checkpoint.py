"""Saving and loading models: the config travels inside the checkpoint, the id is a weights hash.

A model may carry a learned context model for its bits (codec/lstm/context.py; integer
arrays under "context"). Its id then covers both: files it writes name that id, and it
still decodes the files its weights wrote before (which name the weights' id alone)."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from codec.base.atomic import atomic_path
from codec.lstm.config import ModelConfig
from codec.lstm.context import IntegerContext
from codec.base.errors import ModelError
from codec.lstm.model import LSTMCodecNet

FORMAT = "lstm-compare-checkpoint"
FORMAT_VERSION = 1
MODEL_ID_BYTES = 8


def weights_id(config: ModelConfig, state_dict: dict) -> str:
    """16 hex digits of SHA-256 over the config and the weights exactly as stored."""
    h = hashlib.sha256(json.dumps(config.to_dict(), sort_keys=True).encode())
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[: 2 * MODEL_ID_BYTES]


def _stored(context: IntegerContext) -> dict:
    """The context model's arrays as the checkpoint stores them: each in the smallest integer
    type that holds it (the id hashes the values, not the type)."""
    out = {}
    for k, v in context.tensors.items():
        dtype = next(d for d in (np.int16, np.int32, np.int64) if np.abs(v).max(initial=0) <= np.iinfo(d).max)
        out[k] = torch.from_numpy(v.astype(dtype))
    return out


def _read_context(payload: dict) -> IntegerContext | None:
    return IntegerContext({k: v.numpy() for k, v in payload["context"].items()}) if "context" in payload else None


def combined_id(weights: str, context_id: str | None) -> str:
    """A model's id: its weights' id, or with a context model, a hash of both ids."""
    if context_id is None:
        return weights
    return hashlib.sha256(f"{weights}+{context_id}".encode()).hexdigest()[: 2 * MODEL_ID_BYTES]


@dataclass
class LoadedModel:
    net: LSTMCodecNet
    config: ModelConfig
    model_id: str
    path: str = ""
    meta: dict = field(default_factory=dict)  # training history: steps, hours, data, ...
    context: IntegerContext | None = None  # the learned context model, if the model has one
    weights_id: str = ""  # the weights' own id ("" : the same as model_id)

    @property
    def ids(self) -> set[str]:
        """The ids of the files this model decodes: its own, and with a context model also
        those its weights wrote without one."""
        return {self.model_id, self.weights_id or self.model_id}

    @property
    def name(self) -> str:
        return self.meta.get("name") or Path(self.path).stem or "model"

    def describe(self) -> str:
        c = self.config
        n = sum(p.numel() for p in self.net.parameters())
        return (f"{self.name} (id {self.model_id}): {c.gate} gates, {c.upsampler} upsampler, "
                f"gamma {c.gamma}, width {c.width}, {n / 1e6:.2f} M parameters, "
                f"{c.bits} bits/block x {c.iterations} iterations")


def save_checkpoint(path, net: LSTMCodecNet, meta: dict | None = None, optimizer=None,
                    half: bool = False, extra: dict | None = None, context: IntegerContext | None = None) -> str:
    """Write atomically (temp file, then rename) so an interrupted save never leaves a broken
    file. Returns the model's id."""
    sd = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous().clone()
          for k, v in net.state_dict().items()}
    payload = {
        "format": FORMAT, "version": FORMAT_VERSION, "config": net.cfg.to_dict(),
        "state_dict": sd, "meta": dict(meta or {}),
    }
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    if extra:
        payload.update(extra)
    if context is not None:
        payload["context"] = _stored(context)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return combined_id(weights_id(net.cfg, sd), context.context_id if context else None)


def read_checkpoint(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"The model file {path} does not exist; pass the path of a .pt checkpoint.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds here; all mean "not a checkpoint"
        raise ModelError(f"{path} is not a readable model checkpoint ({type(e).__name__}); "
                         "pass a .pt file written by 'lstm-codec train'.") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"{path} is not an lstm-compare checkpoint; pass a .pt file written by 'lstm-codec train'.")
    if payload.get("version", 0) > FORMAT_VERSION:
        raise ModelError(f"{path} was written by a newer lstm-compare (checkpoint version "
                         f"{payload.get('version')}); upgrade lstm-compare to load it.")
    return payload


def load_model(path, device="cpu") -> LoadedModel:
    payload = read_checkpoint(path)
    try:
        cfg = ModelConfig.from_dict(payload["config"])
        net = LSTMCodecNet(cfg)
        sd = payload["state_dict"]
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()})
        context = _read_context(payload)
        if context is not None and context.bits != cfg.bits:
            raise ValueError(f"its context model is for {context.bits} bits per block, the model has {cfg.bits}")
    except (KeyError, ValueError, RuntimeError, TypeError, AttributeError) as e:
        raise ModelError(f"{path} holds a model this version cannot build ({str(e).splitlines()[0]}).") from None
    net.eval().to(device)
    weights = weights_id(cfg, sd)
    return LoadedModel(net, cfg, combined_id(weights, context.context_id if context else None), str(path),
                       payload.get("meta", {}), context, weights)


def export_model(src, dst, half: bool = True, meta: dict | None = None) -> str:
    """Training checkpoint -> shippable model: weights only (float16 by default), no optimizer,
    and its context model if it has one. Returns the new model id (it changes with the
    storage precision)."""
    payload = read_checkpoint(src)
    cfg = ModelConfig.from_dict(payload["config"])
    net = LSTMCodecNet(cfg)
    net.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
    merged = {**payload.get("meta", {}), **(meta or {})}
    merged["exported_from"] = Path(src).name
    return save_checkpoint(dst, net, merged, half=half, context=_read_context(payload))


def with_context(src, dst, context: IntegerContext, meta: dict | None = None) -> str:
    """A model file with `context` added (or replaced), its weights stored exactly as they
    were, so that it still decodes what those weights wrote. Returns the new model id."""
    payload = read_checkpoint(src)
    payload["context"] = _stored(context)
    payload["meta"] = {**payload.get("meta", {}), **(meta or {})}
    with atomic_path(dst) as tmp:
        torch.save(payload, tmp)
    return combined_id(weights_id(ModelConfig.from_dict(payload["config"]), payload["state_dict"]), context.context_id)
