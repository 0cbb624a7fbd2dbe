"""Read a training checkpoint back into an ENet, with errors that say what to do.

A checkpoint is what ``train.py`` writes each epoch (a dict with ``model``, ``args``,
``class_names``, ...) or a bare state dict. The class count and the stage (encoder-only or
full) are read off the weights themselves, so a checkpoint needs no side file to be loaded.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from enet_train.model import ENet


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable or not an ENet's."""


@dataclass
class LoadedCheckpoint:
    """The network and what the checkpoint says about how it was made."""

    net: ENet
    class_names: list[str] | None
    args: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    """Load ``path`` onto the CPU; every failure is one CheckpointError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist: pass the .pth file that "
                              f"`enet-train train` wrote (e.g. runs/NAME/best.pth)")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError, OSError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path} is not a readable torch checkpoint ({first_line})") from None
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path} holds a {type(raw).__name__}, not a checkpoint dict")
    state = raw.get("model", raw)
    if not isinstance(state, dict) or "initial.conv.weight" not in state:
        raise CheckpointError(f"{path} does not hold ENet weights (no initial.conv.weight)")
    encoder_only = "fullconv.weight" not in state
    head = state["encoder_head.weight"] if encoder_only else state["fullconv.weight"]
    num_classes = int(head.shape[0] if encoder_only else head.shape[1])
    width, remainder = divmod(int(state["initial.bn.weight"].shape[0]), 16)
    if remainder or width < 1:
        raise CheckpointError(f"{path} does not hold ENet weights ({width * 16 + remainder} "
                              f"initial maps, not a multiple of 16)")
    net = ENet(num_classes, encoder_only=encoder_only, width=width)
    if not encoder_only:
        state = {k: v for k, v in state.items() if not k.startswith("encoder_head.")}
    missing, unexpected = net.load_state_dict(state, strict=False)
    # a full network never runs the encoder head; an encoder-only one never runs the decoder,
    # and train.py stores only the weights of the parts a stage runs
    encoder = ("initial.", "down1.", "stage1.", "down2.", "stage2.", "stage3.", "encoder_head.")
    missing = [k for k in missing
               if (k.startswith(encoder) if encoder_only else not k.startswith("encoder_head."))]
    if missing or unexpected:
        raise CheckpointError(f"{path} does not match the ENet of this version: missing "
                              f"{missing[:3]}, unexpected {unexpected[:3]}")
    names = raw.get("class_names")
    if names is not None and len(names) != num_classes:
        raise CheckpointError(f"{path} names {len(names)} classes but its weights have "
                              f"{num_classes}")
    args = raw.get("args") or {}
    extra = {k: v for k, v in raw.items() if k not in ("model", "args", "class_names",
                                                        "optimizer", "scheduler", "scaler",
                                                        "training_model")}
    return LoadedCheckpoint(net.eval(), list(names) if names is not None else None,
                            dict(args), extra)
