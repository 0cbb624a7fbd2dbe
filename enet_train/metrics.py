"""Segmentation scores from one confusion matrix: per-class IoU, mean IoU, accuracies.

The matrix is accumulated with ``bincount`` (rows: ground truth, columns: prediction), pixels
labelled with the ignore value are left out, and under DDP the matrices of all processes are
summed before reading. Reading never changes the matrix, so scores can be read mid-epoch.

Conventions (those of SegNet/ENet papers): a class absent from both truth and prediction has
no IoU (NaN) and does not count in the mean; a class absent from the truth has no accuracy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


def confusion_matrix(target: torch.Tensor, prediction: torch.Tensor, num_classes: int,
                     ignore_index: int = 255) -> torch.Tensor:
    """[C, C] int64 counts of (truth, prediction) pairs, pixels with ``ignore_index`` excluded."""
    target, prediction = target.flatten().long(), prediction.flatten().long()
    keep = target != ignore_index
    target, prediction = target[keep], prediction[keep]
    if target.numel() and (int(target.max()) >= num_classes or int(target.min()) < 0):
        raise ValueError(f"target holds ids outside 0..{num_classes - 1} other than {ignore_index}")
    if prediction.numel() and (int(prediction.max()) >= num_classes or int(prediction.min()) < 0):
        raise ValueError(f"prediction holds ids outside 0..{num_classes - 1}")
    counts = torch.bincount(target * num_classes + prediction, minlength=num_classes ** 2)
    return counts.reshape(num_classes, num_classes)


@dataclass(frozen=True)
class Scores:
    """What a confusion matrix says; arrays are per class, NaN where a class has no score."""

    iou: np.ndarray
    class_accuracy: np.ndarray
    mean_iou: float
    mean_class_accuracy: float
    global_accuracy: float

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> "Scores":
        matrix = np.asarray(matrix, dtype=np.float64)
        true_positive = np.diag(matrix)
        truth = matrix.sum(1)
        union = truth + matrix.sum(0) - true_positive
        with np.errstate(invalid="ignore"):  # 0 / 0 where a class has no score: NaN
            iou = true_positive / union
            accuracy = true_positive / truth
        total = matrix.sum()
        return cls(iou, accuracy, _nanmean(iou), _nanmean(accuracy),
                   float(true_positive.sum() / total) if total else float("nan"))

    def as_dict(self, class_names: tuple[str, ...] | list[str]) -> dict:
        """Plain JSON-able numbers (NaN as None), per class keyed by name."""
        def num(x: float) -> float | None:
            return None if np.isnan(x) else float(x)
        return {
            "mean_iou": num(self.mean_iou),
            "mean_class_accuracy": num(self.mean_class_accuracy),
            "global_accuracy": num(self.global_accuracy),
            "per_class": {name: {"iou": num(i), "accuracy": num(a)} for name, i, a
                          in zip(class_names, self.iou, self.class_accuracy)},
        }


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


class ConfusionMatrix:
    """Accumulates a confusion matrix over batches (and processes) and reads scores from it."""

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix: torch.Tensor | None = None

    def update(self, target: torch.Tensor, prediction: torch.Tensor) -> None:
        """Add a batch: class-id tensors of the same shape, on any device."""
        counts = confusion_matrix(target, prediction, self.num_classes, self.ignore_index)
        self.matrix = counts if self.matrix is None else self.matrix + counts.to(self.matrix)

    def reduce_from_all_processes(self) -> None:
        """Sum the matrices of all DDP processes (a no-op without a process group)."""
        if not (dist.is_available() and dist.is_initialized()):
            return
        if self.matrix is None:
            self.matrix = torch.zeros(self.num_classes, self.num_classes, dtype=torch.int64)
        if dist.get_backend() == "nccl":
            self.matrix = self.matrix.cuda()
        dist.barrier()
        dist.all_reduce(self.matrix)

    def to_numpy(self) -> np.ndarray:
        """A copy of the counts as int64 [C, C] (zeros before any update)."""
        if self.matrix is None:
            return np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        return self.matrix.detach().cpu().numpy().copy()

    def compute(self) -> Scores:
        return Scores.from_matrix(self.to_numpy())
