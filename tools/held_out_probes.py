"""Probes of what holds a fold's held-out sequence back: light, or what the networks learnt.

``tone``: the checkpoint scored on the held-out frames as they are, and toned like the training
frames (gamma to a median luma; luma histogram matched to the training sequences'). If light
were what differs, toning would raise mean IoU.

``ensemble``: checkpoints scored alone and with their class probabilities averaged (each pair,
and all). If the single network's errors were its own (variance of training, too little
capacity), several networks would agree less on them and their average would score well
above each; that is also the most a teacher of their size could pass on by distillation.

    python tools/held_out_probes.py tone models/training/fold0006R0_L_full_last.pth \\
        --data ../shared/datasets/camvid --sequence 0006R0
    python tools/held_out_probes.py ensemble models/training/fold0006R0_{L,Lft,M}_full_last.pth \\
        --data ../shared/datasets/camvid --sequence 0006R0 \\
        --logit-adjust 0.5 --class-weights models/training/fold0006R0_class_weights.json

Frames are CamVid's train+val; the held-out sequence's frames are scored, the others' only
lend their brightness. Prints Markdown rows: mean IoU, then IoU per class.
"""
from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from enet_train.checkpoint import load_checkpoint
from enet_train.datasets import build_dataset
from enet_train.evaluate import evaluate, network_scores, torch_predictor
from enet_train.logit_adjustment import read_class_weights, score_offsets
from enet_train.metrics import ConfusionMatrix

Tone = Callable[[np.ndarray], np.ndarray]


def luma(image: np.ndarray) -> np.ndarray:
    """Mean of R, G and B as uint8, as tools/sequence_look.py measures it."""
    return image.mean(axis=2).astype(np.uint8)


def gamma_to_median(target: float) -> Tone:
    """A gamma curve a frame, taking its median luma to ``target`` (exactly for grey pixels;
    a gamma of each channel moves a coloured pixel's mean a little less or more)."""
    def tone(image: np.ndarray) -> np.ndarray:
        median = max(float(np.median(luma(image))), 1.0) / 255
        gamma = np.log(target / 255) / np.log(median) if median < 1 else 1.0
        table = np.round(255 * (np.arange(256) / 255) ** gamma).clip(0, 255).astype(np.uint8)
        return table[image]
    return tone


def histogram_matched(training_cdf: np.ndarray) -> Tone:
    """Each pixel's colour scaled so the frame's luma histogram matches ``training_cdf``."""
    def tone(image: np.ndarray) -> np.ndarray:
        frame_luma = luma(image)
        cdf = np.cumsum(np.bincount(frame_luma.ravel(), minlength=256)) / frame_luma.size
        target = np.searchsorted(training_cdf, cdf).clip(0, 255)
        gain = (target[frame_luma] + 0.5) / (frame_luma + 0.5)
        return (image * gain[..., None]).clip(0, 255).astype(np.uint8)
    return tone


def row(name: str, scores) -> str:
    cells = " | ".join(f"{100 * value:.1f}" for value in scores.iou)
    return f"| {name} | **{100 * scores.mean_iou:.1f}** | {cells} |"


def header(class_names: list[str]) -> str:
    return (f"| | mIoU | {' | '.join(class_names)} |\n"
            f"|---|---:|{'---:|' * len(class_names)}")


def tone_probe(args: argparse.Namespace) -> None:
    held = build_dataset("camvid", args.data, "train+val", sequences=[args.sequence])
    trained = build_dataset("camvid", args.data, "train+val", sequences=[args.sequence],
                            exclude=True)
    counts = sum(np.bincount(luma(trained.load(i)[0]).ravel(), minlength=256)
                 for i in range(len(trained)))
    predict, _ = torch_predictor(Path(args.checkpoint), torch.device("cpu"))
    tones: dict[str, Tone] = {"as recorded": lambda image: image}
    tones.update({f"gamma to median luma {m:g}": gamma_to_median(m) for m in args.medians})
    tones["luma histogram of the training frames"] = histogram_matched(
        np.cumsum(counts) / counts.sum())
    print(header(list(held.class_names)))
    for name, tone in tones.items():
        scores = evaluate(lambda image: predict(tone(image)), held, show=False).compute()
        print(row(name, scores), flush=True)


def ensemble_probe(args: argparse.Namespace) -> None:
    held = build_dataset("camvid", args.data, "train+val", sequences=[args.sequence])
    nets = [load_checkpoint(path).net.eval() for path in args.checkpoints]
    cpu = torch.device("cpu")
    offsets = torch.zeros(held.num_classes, 1, 1)
    if args.logit_adjust:
        weights = read_class_weights(args.class_weights, held.num_classes)
        offsets = torch.from_numpy(score_offsets(weights, args.logit_adjust)).float()[:, None,
                                                                                        None]
    members = tuple(range(len(nets)))
    groups = [(m,) for m in members]
    if len(nets) > 2:
        groups += list(itertools.combinations(members, 2))
    if len(nets) > 1:
        groups.append(members)
    matrices = {group: ConfusionMatrix(held.num_classes) for group in groups}
    with torch.no_grad():
        for index in range(len(held)):
            image, label = held[index]
            probs = [network_scores(net, image, cpu).softmax(0) for net in nets]
            for group in groups:
                mean = sum(probs[m] for m in group) / len(group)
                matrices[group].update(torch.from_numpy(label), (mean.log() + offsets).argmax(0))
    names = [Path(path).stem for path in args.checkpoints]
    print(header(list(held.class_names)))
    for group, matrix in matrices.items():
        print(row(" + ".join(names[m] for m in group), matrix.compute()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    probes = parser.add_subparsers(dest="probe", required=True)
    tone = probes.add_parser("tone", help="the held-out frames toned like the training frames")
    tone.add_argument("checkpoint")
    tone.add_argument("--medians", type=float, nargs="+", default=[72.0, 50.0],
                      help="median lumas to gamma the frames to (0016E5's is 72)")
    ensemble = probes.add_parser("ensemble", help="checkpoints alone and averaged")
    ensemble.add_argument("checkpoints", nargs="+")
    ensemble.add_argument("--logit-adjust", type=float, default=0.0)
    ensemble.add_argument("--class-weights", help="class_weights.json for --logit-adjust")
    for probe in (tone, ensemble):
        probe.add_argument("--data", required=True, help="CamVid root (train, val folders)")
        probe.add_argument("--sequence", required=True, help="the held-out sequence")
        probe.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    (tone_probe if args.probe == "tone" else ensemble_probe)(args)


if __name__ == "__main__":
    main()
