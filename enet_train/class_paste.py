"""Rare-class copy-paste: the pixels of chosen classes in another training frame pasted over a
frame, at the place they have in theirs.

Why: on a street never trained on, the classes that fail are the thin, rare ones (on the 0006R0
fold Pole, SignSymbol, Pedestrian and Bicyclist stay under 17 % IoU while Road is at 90). Class
weights make the network call them more often but show it no new instances of them; pasting
them shows each pole and pedestrian against other backgrounds. They keep their place in the
frame, so the camera's perspective holds (a pedestrian stays on the ground, at the height its
distance gives it), which pasting at random places would break.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from .datasets import DatasetError, Pair, SegmentationDataset


def class_ids(names: str, class_names: Sequence[str]) -> list[int]:
    """The ids of comma-separated class ``names`` (as the data set spells them), so a typo is an
    error that lists the classes rather than a paste of nothing."""
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in class_names]
    if unknown or not wanted:
        raise DatasetError(f"--paste-classes {names!r}: no class {', '.join(unknown) or '(none)'}"
                           f"; the data set's classes are {', '.join(class_names)}")
    return [class_names.index(name) for name in wanted]


def paste(image: np.ndarray, label: np.ndarray, source_image: np.ndarray,
          source_label: np.ndarray, ids: Sequence[int], flip: bool) -> Pair:
    """New arrays: ``image``/``label`` with the source's pixels of classes ``ids`` copied over
    (the source mirrored left-right first with ``flip``, and resized to the frame, labels by
    nearest neighbour, when its size differs). The inputs are left as they are: they may be a
    data set's cached arrays."""
    height, width = label.shape
    if source_label.shape != (height, width):
        source_image = cv2.resize(source_image, (width, height), interpolation=cv2.INTER_LINEAR)
        source_label = cv2.resize(source_label, (width, height),
                                  interpolation=cv2.INTER_NEAREST_EXACT)
    if flip:
        source_image, source_label = source_image[:, ::-1], source_label[:, ::-1]
    mask = np.isin(source_label, ids)
    image, label = image.copy(), label.copy()
    image[mask] = source_image[mask]
    label[mask] = source_label[mask]
    return image, label


class ClassPaste(Dataset):
    """``dataset``'s frames, each with probability ``probability`` given the pixels of classes
    ``ids`` of another frame drawn at random (mirrored half the time), then ``dataset``'s own
    transforms. Draws come from torch's generator, as the transforms' do, so runs repeat."""

    def __init__(self, dataset: SegmentationDataset, ids: Sequence[int],
                 probability: float) -> None:
        self.dataset = dataset
        self.ids = list(ids)
        self.probability = probability

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        image, label = self.dataset.load(index)
        if len(self.dataset) > 1 and float(torch.rand(())) < self.probability:
            other = int(torch.randint(len(self.dataset) - 1, ()))
            other += other >= index  # any frame but this one
            image, label = paste(image, label, *self.dataset.load(other), self.ids,
                                 flip=bool(torch.rand(()) < 0.5))
        transforms = self.dataset.transforms
        return (image, label) if transforms is None else transforms(image, label)
