"""Video files through OpenCV's FFmpeg, without FFmpeg's console noise.

FFmpeg writes its own complaints straight to the process's stderr (file descriptor 2), past
Python: a truncated or empty video prints "moov atom not found" each time it is opened, and
the WebM writer prints "tag ... is not supported" for every tag OpenCV tries before it falls
back to the right one. The commands already say in one line of their own what went wrong, so
opening a file happens with fd 2 pointed at a temporary file, whose text is kept for an error
message where the open fails. Other threads writing to stderr during those milliseconds lose
their text too; opening a file is the only thing done under it.

The demo's video is VP8 in WebM: the FFmpeg inside opencv-python-headless has no H.264
encoder (only MPEG-4 Part 2, which browsers do not play), and VP8 WebM plays in every current
browser, Android's and iOS's included. VP9 plays as widely but encodes about six times slower.
"""
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2

WEB_VIDEO_SUFFIX = ".webm"
WEB_VIDEO_FOURCC = "VP80"


class VideoError(OSError):
    """A video that cannot be written, with what FFmpeg said."""


@contextmanager
def _stderr_captured() -> "Iterator[list[str]]":
    """Point fd 2 at a temporary file; the list gets the file's text when the block ends."""
    captured: "list[str]" = []
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode("utf-8", "replace"))


def open_reader(path: Path) -> cv2.VideoCapture:
    """cv2.VideoCapture of ``path``, quietly: check isOpened() and read() for failures."""
    with _stderr_captured():
        return cv2.VideoCapture(str(path))


def open_web_writer(path: Path, fps: float, size: "tuple[int, int]") -> cv2.VideoWriter:
    """A VP8 WebM writer of ``size`` (width, height) frames; VideoError when none opens."""
    with _stderr_captured() as said:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*WEB_VIDEO_FOURCC), fps,
                                 size)
    if not writer.isOpened():
        details = " ".join(line.strip() for line in said[0].splitlines() if line.strip())
        raise VideoError(f"cannot write {path}: OpenCV's FFmpeg opened no VP8 WebM encoder"
                         + (f" ({details})" if details else ""))
    return writer
