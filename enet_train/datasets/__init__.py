"""Segmentation data sets by name: ``build_dataset("camvid", root, "train", transforms)``.

Every data set yields (image, label) with train ids and ``IGNORE_INDEX`` for void, and carries
its ``class_names``. Layouts on disk are documented in each module.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .base import (IGNORE_INDEX, DatasetError, SegmentationDataset, Transform, pad_collate)
from .camvid import camvid
from .cityscapes import cityscapes
from .folder import folder
from .sunrgbd import sunrgbd

DATASETS: dict[str, Callable[..., SegmentationDataset]] = {
    "camvid": camvid,
    "cityscapes": cityscapes,
    "sunrgbd": sunrgbd,
    "folder": folder,
}


def build_dataset(name: str, root: str | Path, split: str, transforms: Transform | None = None,
                  cache: bool = False) -> SegmentationDataset:
    """The ``split`` of data set ``name`` stored under ``root``; ``"train+val"`` joins splits,
    for a final run that trains on every labelled image once the recipe is fixed on val."""
    if name not in DATASETS:
        raise DatasetError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    parts = [DATASETS[name](root, part, transforms, cache) for part in split.split("+")]
    if len(parts) == 1:
        return parts[0]
    return SegmentationDataset([pair for part in parts for pair in part.pairs],
                               parts[0].class_names, parts[0].label_map, transforms, cache,
                               description=f"{name} {split} in {root}")


def splits_overlap(train_split: str, val_split: str) -> bool:
    """Whether validation shares images with training (``val`` in ``train+val``): its scores then
    show the fit, not accuracy on unseen images, and must not be quoted as such."""
    return bool(set(train_split.split("+")) & set(val_split.split("+")))


__all__ = ["DATASETS", "IGNORE_INDEX", "DatasetError", "SegmentationDataset", "build_dataset",
           "pad_collate", "splits_overlap"]
