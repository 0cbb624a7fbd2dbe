"""Class weights against class imbalance, from the training labels' pixel counts.

* ENet (Paszke et al. 2016, sec. 5.2): ``w = 1 / ln(c + p)`` with ``c = 1.02`` and ``p`` a
  class's share of all labelled pixels; it bounds weights to [1, 50] where inverse frequency
  would explode for rare classes.
* Median frequency (Eigen & Fergus 2015, used by SegNet): ``w = median(f) / f`` with ``f`` a
  class's pixels over the pixels of the images in which it appears.

Void pixels (the ignore value) count in neither. Counting reads every training label, so the
result is cached in a small JSON file keyed by what it depends on.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .datasets import SegmentationDataset

ENET_C = 1.02
METHODS = ("enet", "median", "none")


@dataclass(frozen=True)
class ClassCounts:
    """Per class: labelled pixels, and total labelled pixels of the images where it appears."""

    pixels: np.ndarray
    image_pixels: np.ndarray


def count_classes(labels, num_classes: int, ignore_index: int = 255) -> ClassCounts:
    """Counts over an iterable of HxW train-id labels."""
    pixels = np.zeros(num_classes, dtype=np.int64)
    image_pixels = np.zeros(num_classes, dtype=np.int64)
    for label in labels:
        label = np.asarray(label)
        counts = np.bincount(label[label != ignore_index].ravel(), minlength=num_classes)
        if counts.size > num_classes:
            raise ValueError(f"a label holds ids >= {num_classes} other than {ignore_index}")
        pixels += counts
        image_pixels[counts > 0] += counts.sum()
    return ClassCounts(pixels, image_pixels)


def enet_weights(counts: ClassCounts, c: float = ENET_C) -> np.ndarray:
    """``1 / ln(c + p)``; a class never seen gets ``1 / ln(c)``, the largest weight."""
    total = counts.pixels.sum()
    if total == 0:
        raise ValueError("no labelled pixels: cannot compute class weights")
    return 1.0 / np.log(c + counts.pixels / total)


def median_frequency_weights(counts: ClassCounts) -> np.ndarray:
    """``median(f) / f`` over the classes present; absent classes get 0 (nothing to learn)."""
    present = counts.image_pixels > 0
    if not present.any():
        raise ValueError("no labelled pixels: cannot compute class weights")
    freq = np.zeros(len(counts.pixels))
    freq[present] = counts.pixels[present] / counts.image_pixels[present]
    weights = np.zeros_like(freq)
    weights[present] = np.median(freq[present]) / freq[present]
    return weights


def dataset_weights(dataset: SegmentationDataset, method: str, cache_file: Path | None = None,
                    cache_key: str = "") -> np.ndarray | None:
    """Weights for ``dataset``'s classes (None for ``"none"``), read from ``cache_file`` if it
    holds the same ``cache_key`` and method, else computed and written there."""
    if method not in METHODS:
        raise ValueError(f"unknown class weighting {method!r}; choose one of {', '.join(METHODS)}")
    if method == "none":
        return None
    key = {"key": cache_key, "method": method, "num_classes": dataset.num_classes,
           "size": len(dataset)}
    if cache_file is not None and cache_file.is_file():
        cached = json.loads(cache_file.read_text())
        if cached.get("for") == key:
            return np.asarray(cached["weights"], dtype=np.float64)
    labels = (dataset.load_label(i) for i in tqdm(range(len(dataset)), desc="class weights",
                                                  leave=False))
    counts = count_classes(labels, dataset.num_classes)
    weights = enet_weights(counts) if method == "enet" else median_frequency_weights(counts)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps({"for": key, "weights": weights.tolist(),
                                          "class_names": list(dataset.class_names),
                                          "pixels": counts.pixels.tolist()}, indent=1))
    return weights
