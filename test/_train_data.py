"""A tiny CamVid-layout data set for training and evaluation tests (generated, a few KB)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def make_tiny_camvid(root: Path, sizes: dict[str, int] | None = None, height: int = 28,
                     width: int = 40, seed: int = 0, sequences: tuple[str, ...] = ()) -> Path:
    """Blocky labels (ids 0..11, 11 void) with images whose colour follows the label, so a
    network can learn something; sizes not multiples of 8 exercise padding. With ``sequences``
    the frames are named ``<sequence>_<n>.png``, the sequences taking turns, as CamVid's are."""
    rng = np.random.default_rng(seed)
    for split, count in (sizes or {"train": 4, "val": 2}).items():
        for folder in (split, f"{split}annot"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            coarse = rng.integers(0, 12, (4, 5)).astype(np.uint8)
            label = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_NEAREST)
            noise = rng.integers(0, 20, (height, width, 3))
            image = (label[..., None] * 20 + noise).astype(np.uint8)
            name = f"{sequences[i % len(sequences)]}_{i:04d}.png" if sequences else f"{i:04d}.png"
            cv2.imwrite(str(root / split / name), image)
            cv2.imwrite(str(root / f"{split}annot" / name), label)
    return root
