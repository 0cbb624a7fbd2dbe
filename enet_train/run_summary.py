"""One line a training run, from its log.csv: where it stopped, its last, best and last-N mean IoU.

Held-out figures swing by several points between validations a few epochs apart (the 0006R0
fold: 28.4 % at one, 34.3 % four epochs later), so runs are compared on the mean of their last N
validations, never on their best, which picks the luckiest epoch on the very frames it reports.
The same mean per class names the thin classes, those under a threshold (the cross-sequence
target asks every class for 25 %).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

CLASS_PREFIX = "val_iou_"


class LogError(ValueError):
    """A log.csv that is missing or not one enet-train wrote."""


@dataclass(frozen=True)
class RunSummary:
    """Percentages throughout; ``last_mean`` and ``class_means`` over the last ``window``
    validations (fewer when the run has fewer)."""
    name: str
    epochs: int                                  # epochs trained (rows of the log)
    validations: tuple[tuple[int, float], ...]   # (epoch, mean IoU %)
    window: int
    class_means: dict[str, float]
    train_last: float | None                     # training subset mean IoU % at the last one

    @property
    def recent(self) -> tuple[tuple[int, float], ...]:
        """The validations the means are over."""
        return self.validations[-self.window:]

    @property
    def last_mean(self) -> float | None:
        return sum(v for _, v in self.recent) / len(self.recent) if self.recent else None

    @property
    def last(self) -> tuple[int, float] | None:
        return self.validations[-1] if self.validations else None

    @property
    def best(self) -> tuple[int, float] | None:
        return max(self.validations, key=lambda v: v[1]) if self.validations else None

    def thin(self, threshold: float) -> dict[str, float]:
        return {c: v for c, v in self.class_means.items() if v < threshold}


def _number(row: dict[str, str], key: str, path: Path) -> float | None:
    text = row.get(key) or ""
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise LogError(f"{path}: {key} of epoch {row.get('epoch')} is not a number: "
                       f"{text!r}") from None


def summarize(path: Path, window: int = 5, name: str | None = None) -> RunSummary:
    """The summary of one stage's log.csv; ``name`` defaults to '<run>/<stage>' (its folders)
    for a ``log.csv``, else the file's name without its suffix (a log copied elsewhere)."""
    path = Path(path)
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        raise LogError(f"cannot read {path}: {err.strerror or err}") from None
    if not rows or "epoch" not in rows[0] or "val_miou" not in rows[0]:
        raise LogError(f"{path}: not an enet-train log.csv (no epoch and val_miou columns)")
    classes = [k[len(CLASS_PREFIX):] for k in rows[0] if k.startswith(CLASS_PREFIX)]
    scored = [r for r in rows if r.get("val_miou")]
    validations = tuple((int(r["epoch"]), 100.0 * _number(r, "val_miou", path))
                        for r in scored)
    recent = scored[-window:]
    class_means = {}
    for c in classes:
        values = [_number(r, CLASS_PREFIX + c, path) for r in recent]
        values = [v for v in values if v is not None]
        if values:
            class_means[c] = sum(values) / len(values)
    train = _number(scored[-1], "train_miou", path) if scored else None
    return RunSummary(
        name=name or (f"{path.parent.parent.name}/{path.parent.name}"
                      if path.name == "log.csv" else path.stem), epochs=len(rows),
        validations=validations, window=window, class_means=class_means, train_last=None if train is None else 100.0 * train)


def markdown(summaries: Sequence[RunSummary], thin: float = 25.0) -> str:
    """A Markdown table, one row a run, for a model card's runs table."""
    lines = ["| run | epochs | last validation | best | mean of last validations "
             "| training subset | classes under {:g} % (their means) |".format(thin),
             "|---|---:|---:|---:|---:|---:|---|"]
    for s in summaries:
        if s.last is None:
            lines.append(f"| {s.name} | {s.epochs} | none yet | | | | |")
            continue
        under = ", ".join(f"{c} {v:.1f}" for c, v in s.thin(thin).items()) or "none"
        train = "" if s.train_last is None else f"{s.train_last:.1f} %"
        lines.append(f"| {s.name} | {s.epochs} | {s.last[1]:.1f} % (epoch {s.last[0]}) "
                     f"| {s.best[1]:.1f} % (epoch {s.best[0]}) | {s.last_mean:.1f} % "
                     f"({len(s.recent)}: epochs {s.recent[0][0]}-{s.last[0]}) | {train} "
                     f"| {under} |")
    return "\n".join(lines)
