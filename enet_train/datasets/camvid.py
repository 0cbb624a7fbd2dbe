"""CamVid in the SegNet tutorial layout (the split of the ENet paper's CamVid table).

    root/train/*.png  root/trainannot/*.png   (and val/ valannot/)

Images are 480x360 RGB; annotations are 8-bit class ids 0..10 and 11 for void (ignored). The
``<split>.txt`` lists carry an old absolute prefix (/SegNet/CamVid/...), so pairs are found by
file name in the folders instead.
"""
from __future__ import annotations

from pathlib import Path

from .base import SegmentationDataset, Transform, identity_label_map, pair_by_stem, require_dir

CLASS_NAMES = ("Sky", "Building", "Pole", "Road", "Sidewalk", "Tree", "SignSymbol", "Fence",
               "Car", "Pedestrian", "Bicyclist")
VOID_ID = 11


def camvid(root: str | Path, split: str, transforms: Transform | None = None,
           cache: bool = False) -> SegmentationDataset:
    """The CamVid ``split`` under ``root``; void (id 11) becomes the ignore value."""
    root = Path(root)
    images = require_dir(root / split, f"CamVid {split} images")
    labels = require_dir(root / f"{split}annot", f"CamVid {split} annotations")
    pairs = pair_by_stem(sorted(images.glob("*.png")), sorted(labels.glob("*.png")),
                         str(labels))
    return SegmentationDataset(pairs, CLASS_NAMES, identity_label_map(len(CLASS_NAMES), [VOID_ID]),
                               transforms, cache, description=f"CamVid {split} split in {root}")
