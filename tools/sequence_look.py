"""How each sequence of a data set looks: brightness and contrast of its frames.

A fold's held-out sequence can differ from the training sequences in light before it differs in
content (CamVid's 0001TP is filmed at dusk, 0006R0 in bright daylight); these figures say how
far, and so which photometric augmentation ranges would cover it. Per sequence (the file name
before its first underscore): frames, mean R, G, B, and the 5th/50th/95th percentiles of luma
(the mean of R, G and B) averaged over its frames, plus the share of pixels at 250 or above
(blown-out sky).

    python tools/sequence_look.py ../shared/datasets/camvid/train ../shared/datasets/camvid/val
"""
from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from enet_train.datasets import sequence_of


def frame_figures(path: Path) -> np.ndarray:
    """Mean R, G, B, luma percentiles 5/50/95 and the saturated share of one frame."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"{path}: not an image")
    rgb = bgr[:, :, ::-1].reshape(-1, 3).astype(np.float32)
    luma = rgb.mean(axis=1)
    return np.concatenate([rgb.mean(axis=0), np.percentile(luma, [5, 50, 95]),
                           [100.0 * np.mean(luma >= 250)]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="folders of frames (*.png, *.jpg)")
    args = parser.parse_args()
    figures: dict[str, list[np.ndarray]] = defaultdict(list)
    for folder in args.folders:
        for path in sorted(folder.glob("*.png")) + sorted(folder.glob("*.jpg")):
            figures[sequence_of(path)].append(frame_figures(path))
    if not figures:
        raise SystemExit("no frames found")
    print("| sequence | frames | mean R | mean G | mean B | luma p5 | luma p50 | luma p95 "
          "| pixels >= 250 % |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for sequence, rows in sorted(figures.items()):
        cells = " | ".join(f"{value:.1f}" for value in np.mean(rows, axis=0))
        print(f"| {sequence} | {len(rows)} | {cells} |")


if __name__ == "__main__":
    main()
