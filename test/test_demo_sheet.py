"""The demo's contact sheet without ROS 2: layout and exact cells."""
from __future__ import annotations

import numpy as np
import pytest

from enet_ros.demo_sheet import SHEET_CELL_WIDTH, DemoError, SheetRow, contact_sheet
from enet_ros.palette import read_palette


def test_a_row_a_frame_camera_labels_overlay():
    palette = read_palette("camvid", None)
    camera = np.full((240, 320, 3), 7, np.uint8)
    labels = np.full((240, 320), 3, np.uint8)
    overlay = np.full((240, 320, 3), 200, np.uint8)
    sheet = contact_sheet([SheetRow(1, camera, labels, overlay)] * 2, palette)
    assert sheet.shape == (24 + 2 * 240, 3 * SHEET_CELL_WIDTH, 3)
    first = sheet[24:24 + 240]
    assert np.all(first[:, :320] == 7) and np.all(first[:, 640:] == 200)
    assert np.all(first[:, 320:640] == palette.colours[3])


def test_no_frame_is_an_error():
    with pytest.raises(DemoError, match="no frame came back"):
        contact_sheet([], read_palette("camvid", None))
