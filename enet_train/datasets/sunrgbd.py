"""SUN RGB-D semantic segmentation, 37 classes, RGB only.

The layout is chrischoy/SUN_RGBD's reorganisation of ankurhanda/sunrgbd-meta-data (the
5285/5050 train/test split most SUN RGB-D segmentation loaders use):

    root/image/<split>/img-000001.jpg       root/label37/<split>/img37labels-000001.png

with <split> ``train`` or ``test``. Images and labels pair by their six-digit number. Label 0 is
"unlabelled" (ignored); 1..37 are the classes below, shifted to train ids 0..36. Depth is not used.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import INVALID, IGNORE_INDEX, SegmentationDataset, Transform, pair_by_stem, require_dir

CLASS_NAMES = ("wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window",
               "bookshelf", "picture", "counter", "blinds", "desk", "shelves", "curtain",
               "dresser", "pillow", "mirror", "floor mat", "clothes", "ceiling", "books",
               "fridge", "tv", "paper", "towel", "shower curtain", "box", "whiteboard", "person",
               "night stand", "toilet", "sink", "lamp", "bathtub", "bag")
SPLITS = ("train", "test")


def label_map() -> np.ndarray:
    """Raw id -> train id: 0 ignored, 1..37 -> 0..36."""
    table = np.full(256, INVALID, dtype=np.int16)
    table[0] = IGNORE_INDEX
    table[1:len(CLASS_NAMES) + 1] = np.arange(len(CLASS_NAMES))
    return table


def _number(path: Path) -> str:
    """The number after the last '-' of a file name: how image and label files pair."""
    return path.stem.rsplit("-", 1)[-1]


def sunrgbd(root: str | Path, split: str, transforms: Transform | None = None,
            cache: bool = False) -> SegmentationDataset:
    """The SUN RGB-D ``split`` (train or test) under ``root``, RGB images and 37-class labels."""
    root = Path(root)
    images = require_dir(root / "image" / split, f"SUN RGB-D {split} images")
    labels = require_dir(root / "label37" / split, f"SUN RGB-D {split} 37-class labels")
    image_files = sorted([*images.glob("*.jpg"), *images.glob("*.png")])
    pairs = pair_by_stem(image_files, sorted(labels.glob("*.png")), str(labels),
                         image_key=_number, label_key=_number)
    return SegmentationDataset(pairs, CLASS_NAMES, label_map(), transforms, cache,
                               description=f"SUN RGB-D {split} split in {root}")
