"""What every data set shares: a list of image/label file pairs, read and checked one pair a time.

A data set module only has to find its pairs and say how its raw label ids map to train ids;
reading, the BGR->RGB conversion, the checks, the optional in-RAM cache and the transforms live
here once. Every label comes out with train ids ``0..C-1`` and ``IGNORE_INDEX`` for void: the one
ignore value used as loss ``ignore_index``, crop padding fill and metric mask.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

IGNORE_INDEX = 255

# A lookup-table entry for raw ids a data set never uses: reading one is an error.
INVALID = -1

Pair = tuple[Path, Path]
Transform = Callable[[np.ndarray, np.ndarray], Any]


class DatasetError(ValueError):
    """A data set unusable as it is on disk; the message names the file and the problem."""


def identity_label_map(num_classes: int, void_ids: Sequence[int] = ()) -> np.ndarray:
    """Lookup table: ids 0..C-1 kept, ``void_ids`` and IGNORE_INDEX ignored, others invalid."""
    table = np.full(256, INVALID, dtype=np.int16)
    table[:num_classes] = np.arange(num_classes)
    table[list(void_ids)] = IGNORE_INDEX
    table[IGNORE_INDEX] = IGNORE_INDEX
    return table


def read_image(path: Path) -> np.ndarray:
    """An RGB uint8 HxWx3 image; cv2 reads BGR, converted here once and nowhere else."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"{path}: cannot read the image (missing, not an image, or truncated)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_label(path: Path, label_map: np.ndarray) -> np.ndarray:
    """A uint8 HxW label of train ids, read as stored (never colour-converted) and mapped."""
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise DatasetError(f"{path}: cannot read the label (missing, not an image, or truncated)")
    if raw.ndim != 2 or raw.dtype != np.uint8:
        raise DatasetError(f"{path}: a label must be a one-channel 8-bit image of class ids, "
                           f"got shape {raw.shape} and type {raw.dtype}")
    mapped = label_map[raw]
    if (mapped == INVALID).any():
        bad = sorted(int(v) for v in np.unique(raw[mapped == INVALID]))
        raise DatasetError(f"{path}: label ids {bad} are outside the data set's classes")
    return mapped.astype(np.uint8)


class SegmentationDataset(Dataset):
    """Image/label pairs with class names; yields ``transforms(image, label)`` or the raw arrays.

    ``cache=True`` keeps each decoded pair in RAM after its first read, so later epochs skip PNG
    decoding (CamVid's 367 training pairs take about 250 MB). With DataLoader workers each worker
    holds its own copy, so use it with ``workers=0`` or few workers.
    """

    def __init__(self, pairs: Sequence[Pair], class_names: Sequence[str], label_map: np.ndarray,
                 transforms: Transform | None = None, cache: bool = False,
                 description: str = "data set") -> None:
        if not pairs:
            raise DatasetError(f"{description}: no image/label pairs found")
        if not 2 <= len(class_names) <= IGNORE_INDEX:
            raise DatasetError(f"{description}: needs 2 to {IGNORE_INDEX} classes, "
                               f"got {len(class_names)}")
        self.pairs = list(pairs)
        self.class_names = tuple(class_names)
        self.label_map = label_map
        self.transforms = transforms
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if cache else None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.pairs)

    def load_label(self, index: int) -> np.ndarray:
        """Only the label of a pair: what class statistics need, without decoding the image."""
        if self._cache is not None and index in self._cache:
            return self._cache[index][1]
        return read_label(self.pairs[index][1], self.label_map)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The checked pair (RGB image, train-id label) before any transform."""
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        image_path, label_path = self.pairs[index]
        image = read_image(image_path)
        label = read_label(label_path, self.label_map)
        if image.shape[:2] != label.shape:
            raise DatasetError(f"{label_path}: label is {label.shape[1]}x{label.shape[0]} but its "
                               f"image {image_path} is {image.shape[1]}x{image.shape[0]}")
        if self._cache is not None:
            self._cache[index] = (image, label)
        return image, label

    def __getitem__(self, index: int) -> Any:
        image, label = self.load(index)
        if self.transforms is None:
            return image, label
        return self.transforms(image, label)


def pair_by_stem(images: Sequence[Path], labels: Sequence[Path], description: str,
                 image_key: Callable[[Path], str] = lambda p: p.stem,
                 label_key: Callable[[Path], str] = lambda p: p.stem) -> list[Pair]:
    """Match images to labels by a key of their names; an unmatched image is an error."""
    by_key = {label_key(p): p for p in labels}
    pairs = []
    for image in sorted(images):
        label = by_key.get(image_key(image))
        if label is None:
            raise DatasetError(f"{image}: no label for this image in {description}")
        pairs.append((image, label))
    return pairs


def require_dir(path: Path, what: str) -> Path:
    """``path`` if it is a folder, else an error saying which part of the layout is missing."""
    if not path.is_dir():
        raise DatasetError(f"{path}: missing folder ({what})")
    return path


def pad_collate(batch: Sequence[tuple[torch.Tensor, torch.Tensor]], multiple: int = 8
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack (image CxHxW, label HxW) pairs of any sizes, padded bottom/right to a common size.

    The size is rounded up to ``multiple`` (ENet's total stride), images are padded with 0
    (the mean colour after normalisation) and labels with ``IGNORE_INDEX``, so padding never
    counts in the loss or the metrics.
    """
    height = max(image.shape[-2] for image, _ in batch)
    width = max(image.shape[-1] for image, _ in batch)
    height, width = -(-height // multiple) * multiple, -(-width // multiple) * multiple
    images = batch[0][0].new_zeros((len(batch), batch[0][0].shape[0], height, width))
    labels = batch[0][1].new_full((len(batch), height, width), IGNORE_INDEX)
    for i, (image, label) in enumerate(batch):
        images[i, :, :image.shape[-2], :image.shape[-1]] = image
        labels[i, :label.shape[-2], :label.shape[-1]] = label
    return images, labels
