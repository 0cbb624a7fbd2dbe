"""Files people read after training or evaluation: per-class tables, curves, confusion matrix.

matplotlib is imported inside the plotting functions with the Agg backend, so the training
code imports without a display and without paying for matplotlib until a picture is drawn.
"""
from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .metrics import Scores


def _pct(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{100 * value:.1f}"


def class_table_markdown(class_names: Sequence[str], scores: Scores) -> str:
    """A markdown table: one row a class (IoU, accuracy in %), then the means."""
    lines = ["| class | IoU % | accuracy % |", "|---|---:|---:|"]
    lines += [f"| {name} | {_pct(iou)} | {_pct(acc)} |"
              for name, iou, acc in zip(class_names, scores.iou, scores.class_accuracy)]
    mean_iou, mean_accuracy = _pct(scores.mean_iou), _pct(scores.mean_class_accuracy)
    lines += [f"| **mean** | **{mean_iou}** | **{mean_accuracy}** |",
              f"| global accuracy | | {_pct(scores.global_accuracy)} |"]
    return "\n".join(lines) + "\n"


def write_class_tables(stem: Path, class_names: Sequence[str], scores: Scores) -> None:
    """``stem``.md (for people) and ``stem``.csv (for tools) with per-class IoU and accuracy."""
    stem.with_suffix(".md").write_text(class_table_markdown(class_names, scores))
    with stem.with_suffix(".csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["class", "iou", "accuracy"])
        writer.writerows([name, float(iou), float(acc)] for name, iou, acc
                         in zip(class_names, scores.iou, scores.class_accuracy))


def plot_curves(history: Sequence[dict], path: Path) -> None:
    """Training loss and validation mIoU against epoch, side by side."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loss_ax, iou_ax) = plt.subplots(1, 2, figsize=(10, 4))
    loss_ax.plot([h["epoch"] for h in history], [h["train_loss"] for h in history])
    loss_ax.set(xlabel="epoch", ylabel="training loss", title="loss")
    validated = [h for h in history if h.get("val_miou") is not None]
    iou_ax.plot([h["epoch"] for h in validated], [100 * h["val_miou"] for h in validated], "o-")
    iou_ax.set(xlabel="epoch", ylabel="mIoU %", title="validation mean IoU")
    for ax in (loss_ax, iou_ax):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(matrix: np.ndarray, class_names: Sequence[str], path: Path) -> None:
    """The confusion matrix normalised by row (each true class sums to 1)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = matrix.sum(1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    size = max(5.0, 0.45 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=90)
    ax.set_yticks(ticks, class_names)
    ax.set(xlabel="predicted", ylabel="true", title="confusion (row-normalised)")
    if len(class_names) <= 20:
        for (i, j), value in np.ndenumerate(normalised):
            if value >= 0.01:
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if value > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
