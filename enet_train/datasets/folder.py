"""Any data set laid out as a folder of image/label pairs, with a class-names file.

    root/classes.txt                  one class name a line, in id order (blank lines skipped)
    root/images/<split>/<name>.jpg|png
    root/labels/<split>/<name>.png    8-bit class ids 0..C-1, 255 = void (ignored)

Images and labels pair by file stem. This is the format to convert a new data set to.
"""
from __future__ import annotations

from pathlib import Path

from .base import (DatasetError, SegmentationDataset, Transform, identity_label_map,
                   pair_by_stem, require_dir)

CLASSES_FILE = "classes.txt"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def read_class_names(path: Path) -> tuple[str, ...]:
    """Class names from a file, one a line; a missing file is an error naming it."""
    if not path.is_file():
        raise DatasetError(f"{path}: missing class-names file (one class name a line)")
    return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip())


def folder(root: str | Path, split: str, transforms: Transform | None = None,
           cache: bool = False) -> SegmentationDataset:
    """The ``split`` of a generic pairs folder under ``root``."""
    root = Path(root)
    names = read_class_names(root / CLASSES_FILE)
    images = require_dir(root / "images" / split, f"{split} images")
    labels = require_dir(root / "labels" / split, f"{split} labels")
    image_files = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    pairs = pair_by_stem(image_files, sorted(labels.glob("*.png")), str(labels))
    return SegmentationDataset(pairs, names, identity_label_map(len(names)), transforms, cache,
                               description=f"{split} split in {root}")
