"""Make the sample frames from OpenCV's sample data (see README.md here for origin and licence).

    python samples/make_samples.py /usr/share/doc/opencv-doc/examples/data
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

SIZE = (480, 360)             # width, height: CamVid's aspect and the shipped model's input
JPEG_QUALITY = 85
STILLS = {"leuven_a": "leuvenA.jpg", "leuven_b": "leuvenB.jpg", "building": "building.jpg"}
VIDEO, VIDEO_FRAMES = "vtest.avi", {"plaza_0100": 100, "plaza_0600": 600}


def fit(bgr: np.ndarray) -> np.ndarray:
    """Centre crop to 4:3, then shrink to SIZE."""
    height, width = bgr.shape[:2]
    crop_w = min(width, height * 4 // 3)
    crop_h = crop_w * 3 // 4
    x0, y0 = (width - crop_w) // 2, (height - crop_h) // 2
    return cv2.resize(bgr[y0:y0 + crop_h, x0:x0 + crop_w], SIZE, interpolation=cv2.INTER_AREA)


def main(data: Path) -> None:
    out = Path(__file__).resolve().parent
    frames = {name: cv2.imread(str(data / file)) for name, file in STILLS.items()}
    video = cv2.VideoCapture(str(data / VIDEO))
    for name, index in VIDEO_FRAMES.items():
        video.set(cv2.CAP_PROP_POS_FRAMES, 0)
        for _ in range(index + 1):
            ok, bgr = video.read()
            if not ok:
                raise SystemExit(f"{VIDEO} has fewer than {index + 1} frames")
        frames[name] = bgr
    for name, bgr in frames.items():
        if bgr is None:
            raise SystemExit(f"cannot read the original of {name} in {data}")
        cv2.imwrite(str(out / f"{name}.jpg"), fit(bgr), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        print(f"wrote {out / name}.jpg")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
