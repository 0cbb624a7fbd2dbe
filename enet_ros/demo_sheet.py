"""The demo's contact sheet, a row a frame: camera | labels in the palette's colours | overlay,
then the class mask and the confidence where the node published them.

Kept apart from ros/demo.py (which must import rclpy) so that it imports and is tested
without ROS 2.
"""
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from enet_ros.palette import Palette

SHEET_CELL_WIDTH = 320


class DemoError(RuntimeError):
    """The demo cannot run (no frames, the node does not start); says why in one line."""


@dataclass(frozen=True)
class SheetRow:
    """One frame on the contact sheet: what was sent, and the node's outputs."""

    stamp_ns: int
    camera: np.ndarray    # RGB, as published
    labels: np.ndarray    # class ids, as received
    overlay: np.ndarray   # RGB, as received
    mask: "Optional[np.ndarray]" = None        # 255/0 of mask_classes, where asked for
    confidence: "Optional[np.ndarray]" = None  # 255 x the top class's probability, where present


def contact_sheet(rows: "list[SheetRow]", palette: Palette, mask_title: str = "") -> np.ndarray:
    """RGB picture, a row a frame: camera | labels in the palette's colours | overlay, then
    the mask (titled with ``mask_title``, its classes) and the confidence, in grey, where the
    rows have them."""
    if not rows:
        raise DemoError("no frame came back from segment_node: nothing to put on the sheet")
    titles = ["camera", "/enet/labels (palette)", "/enet/overlay"]
    greys = [name for name in ("mask", "confidence") if getattr(rows[0], name) is not None]
    titles += [f"/enet/mask ({mask_title})" if name == "mask" else "/enet/confidence"
               for name in greys]
    cells = []
    for row in rows:
        pictures = (row.camera, palette.colorize(row.labels), row.overlay,
                    *(np.repeat(getattr(row, name)[..., None], 3, axis=2) for name in greys))
        scale = SHEET_CELL_WIDTH / row.camera.shape[1]
        size = (SHEET_CELL_WIDTH, max(1, round(row.camera.shape[0] * scale)))
        cells.append(np.hstack([cv2.resize(p, size, interpolation=cv2.INTER_AREA
                                           if p.ndim == 3 else cv2.INTER_NEAREST)
                                for p in pictures]))
    width = max(c.shape[1] for c in cells)
    header = np.full((24, width, 3), 255, np.uint8)
    for column, title in enumerate(titles):
        cv2.putText(header, title, (column * SHEET_CELL_WIDTH + 6, 17),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([header] + [np.pad(c, ((0, 0), (0, width - c.shape[1]), (0, 0)))
                                 for c in cells])
