"""Take back part of the class weights' push towards rare classes, after training.

The paper's class-weighted cross-entropy trains scores whose softmax is, at its optimum,
proportional to w_c x p(c | pixel): every pixel's decision leans towards the rare classes by
log w_c (CamVid: Pedestrian's weight is 10x Road's). On frames like the training ones the
network is sure enough that the lean rarely matters; on a street it has never seen it turns
doubtful pixels into false Pedestrians, Poles and Signs, which cost IoU. Subtracting
``strength`` x log w_c from the scores (post-hoc logit adjustment, Menon et al., ICLR 2021;
strength 1 gives the unweighted posterior's decision) moves the decision back. It is one
constant per class, so it folds into the bias of the network's last layer: the network, its
parameter count and the model file's contract stay as they are.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .arguments import existing_file, non_negative_float

if TYPE_CHECKING:  # torch is imported where a network is adjusted: the CLI's parsers stay light
    from .model import ENet

# (class_weights.json of the run, strength)
Adjustment = tuple[str, float]


class WeightsFileError(ValueError):
    """A class weights file that is missing, unreadable or for another number of classes."""


def add_arguments(parser: argparse.ArgumentParser, scope: str) -> None:
    """--logit-adjust and --class-weights, as evaluate and export both take them; ``scope``
    opens the help (which models it applies to)."""
    parser.add_argument("--logit-adjust", type=non_negative_float, default=0.0,
                        metavar="STRENGTH",
                        help=f"{scope}subtract STRENGTH x ln(class weight) from each class's "
                             f"scores, folded into the last layer's bias (1: as if trained "
                             f"without weights; default 0: off)")
    parser.add_argument("--class-weights", type=existing_file, default=None, metavar="FILE",
                        help="the class_weights.json of the run (in its --output-dir), for "
                             "--logit-adjust")


def requested(args: argparse.Namespace) -> Adjustment | None:
    """The adjustment the arguments ask for, None for none; a strength without its weights
    file is a WeightsFileError."""
    if not args.logit_adjust:
        return None
    if args.class_weights is None:
        raise WeightsFileError("--logit-adjust needs --class-weights, the class_weights.json "
                               "the run wrote to its --output-dir")
    return args.class_weights, args.logit_adjust


def read_class_weights(path: str | Path, num_classes: int) -> np.ndarray:
    """The weights of the class_weights.json that ``enet-train train`` writes to its output
    folder (the weights the run trained with)."""
    path = Path(path)
    try:
        weights = json.loads(path.read_text())["weights"]
    except OSError as err:
        raise WeightsFileError(f"cannot read class weights {path}: {err.strerror or err}") \
            from None
    except (ValueError, KeyError, TypeError):
        raise WeightsFileError(f"{path} is not a class_weights.json of enet-train train "
                               f"(no list of weights)") from None
    if not isinstance(weights, list) or len(weights) != num_classes or not all(
            isinstance(w, (int, float)) and math.isfinite(w) and w > 0 for w in weights):
        raise WeightsFileError(f"{path} does not hold {num_classes} positive class weights, "
                               f"one a class of the network")
    return np.asarray(weights, np.float64)


def score_offsets(weights: np.ndarray, strength: float) -> np.ndarray:
    """What each class's score gets: -strength x ln(weight)."""
    return -strength * np.log(np.asarray(weights, np.float64))


def adjusted_network(net: ENet, weights: np.ndarray, strength: float) -> ENet:
    """A copy of ``net`` whose last layer's bias carries the offsets (``net`` is left as it
    is). Its scores are the original ones plus the offsets, at every pixel."""
    import torch

    adjusted = copy.deepcopy(net)
    last = adjusted.encoder_head if adjusted.encoder_only else adjusted.fullconv
    with torch.no_grad():
        last.bias += torch.as_tensor(score_offsets(weights, strength), dtype=last.bias.dtype)
    return adjusted
