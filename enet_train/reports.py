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


def plot_curves(history: Sequence[dict], path: Path,
                class_names: Sequence[str] = ()) -> None:
    """Training loss and mean IoU (validation, training subset) against epoch; with
    ``class_names``, also every class's IoU on each, so a class stuck at zero stands out."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    per_class = [(split, title) for split, title in
                 (("val", "validation"), ("train", "training subset"))
                 if class_names and any(h.get(f"{split}_class_iou") for h in history)]
    fig, axes = plt.subplots(1, 2 + len(per_class), figsize=(5 * (2 + len(per_class)), 4),
                             squeeze=False)
    loss_ax, iou_ax, *class_axes = axes[0]
    loss_ax.plot([h["epoch"] for h in history], [h["train_loss"] for h in history])
    loss_ax.set(xlabel="epoch", ylabel="training loss", title="loss")
    for key, label in (("val_miou", "validation"), ("train_miou", "training subset")):
        scored = [h for h in history if h.get(key) is not None]
        if scored:
            iou_ax.plot([h["epoch"] for h in scored], [100 * h[key] for h in scored], "o-",
                        label=label, markersize=3)
    iou_ax.set(xlabel="epoch", ylabel="mIoU %", title="mean IoU")
    if iou_ax.lines:
        iou_ax.legend()
    colours = plt.get_cmap("tab20")
    for ax, (split, title) in zip(class_axes, per_class):
        scored = [h for h in history if h.get(f"{split}_class_iou")]
        epochs = [h["epoch"] for h in scored]
        for i, name in enumerate(class_names):
            values = [h[f"{split}_class_iou"][i] for h in scored]
            ax.plot(epochs, [np.nan if v is None else v for v in values], label=name,
                    color=colours(i % 20))
        ax.set(xlabel="epoch", ylabel="IoU %", title=f"class IoU, {title}", ylim=(0, 100))
        ax.legend(fontsize=6, ncol=2)
    for ax in axes[0]:
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
