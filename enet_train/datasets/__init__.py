"""Segmentation data sets by name: ``build_dataset("camvid", root, "train", transforms)``.

Every data set yields (image, label) with train ids and ``IGNORE_INDEX`` for void, and carries
its ``class_names``. Layouts on disk are documented in each module.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from .base import (IGNORE_INDEX, DatasetError, Pair, SegmentationDataset, Transform, pad_collate)
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


def sequence_of(image: Path) -> str:
    """The recording a frame comes from: its file name before the first underscore (CamVid's
    ``0016E5_07959.png``, Cityscapes' city). Frames of one drive look alike, so a score is only
    a measure of unseen streets when no frame of its sequence was trained on."""
    return image.name.split("_", 1)[0]


def build_dataset(name: str, root: str | Path, split: str, transforms: Transform | None = None,
                  cache: bool = False, sequences: Collection[str] | None = None,
                  exclude: bool = False) -> SegmentationDataset:
    """The ``split`` of data set ``name`` stored under ``root``; ``"train+val"`` joins splits,
    for a final run that trains on every labelled image once the recipe is fixed on val.

    ``sequences`` keeps only the frames of those sequences (``exclude=True``: all but them), which
    is how a split is cut into a training part and a held-out sequence; a name that is not one
    of the split's sequences is an error, so a typo never validates on nothing."""
    if name not in DATASETS:
        raise DatasetError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    parts = [DATASETS[name](root, part, transforms, cache) for part in split.split("+")]
    if len(parts) == 1 and sequences is None:
        return parts[0]
    pairs = [pair for part in parts for pair in part.pairs]
    description = f"{name} {split} in {root}"
    if sequences is not None:
        pairs = select_sequences(pairs, sequences, exclude, description)
        which = "without" if exclude else "only"
        description += f", {which} sequences {','.join(sorted(sequences))}"
    return SegmentationDataset(pairs, parts[0].class_names, parts[0].label_map, transforms, cache,
                               description=description)


def select_sequences(pairs: list[Pair], sequences: Collection[str], exclude: bool,
                     description: str) -> list[Pair]:
    """The pairs whose image is of one of ``sequences`` (or of none of them with ``exclude``)."""
    available = sorted({sequence_of(image) for image, _ in pairs})
    unknown = sorted(set(sequences) - set(available))
    if unknown or not sequences:
        raise DatasetError(f"{description}: no sequence {','.join(unknown) or '(none given)'}; "
                           f"its sequences are {', '.join(available)}")
    return [(image, label) for image, label in pairs
            if (sequence_of(image) in sequences) != exclude]


def sequence_counts(dataset: SegmentationDataset) -> dict[str, int]:
    """Frames a sequence, in name order: what a report says about which frames it holds."""
    counts: dict[str, int] = {}
    for image, _ in sorted(dataset.pairs, key=lambda pair: sequence_of(pair[0])):
        counts[sequence_of(image)] = counts.get(sequence_of(image), 0) + 1
    return counts


def splits_overlap(train_split: str, val_split: str, held_out: Collection[str] | None = None,
                   sequences: Collection[str] | None = None) -> bool:
    """Whether the frames scored (``val_split``, only its ``sequences`` if given) include frames
    trained on (``train_split`` but its ``held_out`` sequences), e.g. ``val`` in ``train+val``:
    such scores show the fit, not accuracy on unseen images, and must not be quoted as such."""
    if not set(train_split.split("+")) & set(val_split.split("+")):
        return False
    return not (held_out and sequences and set(sequences) <= set(held_out))


__all__ = ["DATASETS", "IGNORE_INDEX", "DatasetError", "SegmentationDataset", "build_dataset",
           "pad_collate", "sequence_counts", "sequence_of", "splits_overlap"]
