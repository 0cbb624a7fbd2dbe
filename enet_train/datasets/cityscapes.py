"""Cityscapes, fine annotations, mapped to the 19 evaluation classes (train ids).

    root/leftImg8bit/<split>/<city>/<name>_leftImg8bit.png
    root/gtFine/<split>/<city>/<name>_gtFine_labelIds.png

Label ids 0..33 come from cityscapesScripts' ``labels.py``; the 19 with a train id are kept in
train-id order, the other ids become the ignore value, and ids above 33 are an error.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import (IGNORE_INDEX, INVALID, SegmentationDataset, Transform, pair_by_stem,
                   require_dir)

CLASS_NAMES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
               "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car", "truck",
               "bus", "train", "motorcycle", "bicycle")
# labelId of each train id, in train-id order (cityscapesScripts labels.py).
LABEL_IDS = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33)
MAX_LABEL_ID = 33
SPLITS = ("train", "val", "test")
_IMAGE_SUFFIX = "_leftImg8bit"
_LABEL_SUFFIX = "_gtFine_labelIds"


def label_map() -> np.ndarray:
    """labelId -> train id lookup table."""
    table = np.full(256, INVALID, dtype=np.int16)
    table[:MAX_LABEL_ID + 1] = IGNORE_INDEX
    table[list(LABEL_IDS)] = np.arange(len(LABEL_IDS))
    return table


def cityscapes(root: str | Path, split: str, transforms: Transform | None = None,
               cache: bool = False) -> SegmentationDataset:
    """The Cityscapes ``split`` (train, val; test labels are all void) under ``root``."""
    root = Path(root)
    images = require_dir(root / "leftImg8bit" / split, f"Cityscapes {split} images")
    labels = require_dir(root / "gtFine" / split, f"Cityscapes {split} fine annotations")
    pairs = pair_by_stem(
        sorted(images.glob(f"*/*{_IMAGE_SUFFIX}.png")),
        sorted(labels.glob(f"*/*{_LABEL_SUFFIX}.png")), str(labels),
        image_key=lambda p: f"{p.parent.name}/{p.stem.removesuffix(_IMAGE_SUFFIX)}",
        label_key=lambda p: f"{p.parent.name}/{p.stem.removesuffix(_LABEL_SUFFIX)}")
    return SegmentationDataset(pairs, CLASS_NAMES, label_map(), transforms, cache,
                               description=f"Cityscapes {split} split in {root}")
