"""Camera frames from files: images, folders of images, videos (for `segment` and `demo`).

A batch of thousands of files must not stop at one unreadable image, so the reader yields an
``Unreadable`` record for it, the caller reports it, and reading goes on. What cannot be a
batch at all (an input that does not exist, a file that is neither image nor video) is an
``InputError`` before any work starts.
"""
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from enet_ros.video import open_reader

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v"}


class InputError(ValueError):
    """An input that does not exist or is of no kind we read; says which."""


class BagError(ValueError):
    """A bag that cannot be read or written as asked. Defined here rather than in bag.py so
    that callers can catch it without importing rosbags (Python 3.10+ only)."""


def is_bag(path: Path) -> bool:
    """A rosbag2 as `ros2 bag record` writes it: a folder with metadata.yaml."""
    return (path / "metadata.yaml").is_file()


@dataclass(frozen=True)
class Frame:
    """One RGB frame: an image (index 0) or frame ``index`` of a video."""

    source: Path
    index: int
    rgb: np.ndarray

    @property
    def from_video(self) -> bool:
        return is_video(self.source)


@dataclass(frozen=True)
class Unreadable:
    """An input that could not be decoded, and why."""

    source: Path
    reason: str


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def expand_inputs(inputs: "Iterable[Path]") -> "list[Path]":
    """Files to read: the given images and videos, and the images of given folders (sorted)."""
    files = []
    for path in inputs:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif not path.is_file():
            raise InputError(f"input {path} does not exist")
        elif path.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
            files.append(path)
        else:
            raise InputError(f"input {path}: not an image ({', '.join(sorted(IMAGE_SUFFIXES))}) "
                             f"or a video ({', '.join(sorted(VIDEO_SUFFIXES))})")
    return files


def count_frames(files: "Iterable[Path]") -> int:
    """Frames the files hold, for a progress bar (videos as their containers report it)."""
    total = 0
    for path in files:
        if is_video(path):
            video = open_reader(path)
            total += max(int(video.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
            video.release()
        else:
            total += 1
    return total


def read_frames(files: "Iterable[Path]") -> "Iterator[Frame | Unreadable]":
    """Every frame of the files in order, and an Unreadable for each file that gave none."""
    for source in files:
        if not is_video(source):
            bgr = cv2.imread(str(source), cv2.IMREAD_COLOR)
            if bgr is None:
                yield Unreadable(source, "not a readable image (empty, truncated or another "
                                         "format)")
            else:
                yield Frame(source, 0, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            continue
        video = open_reader(source)
        index = 0
        while video.isOpened():
            ok, bgr = video.read()
            if not ok:
                break
            yield Frame(source, index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            index += 1
        video.release()
        if index == 0:
            yield Unreadable(source, "no video frame could be decoded")
