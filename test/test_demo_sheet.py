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


def test_mask_and_confidence_columns_in_grey_where_the_rows_have_them():
    palette = read_palette("camvid", None)
    camera = np.full((240, 320, 3), 7, np.uint8)
    labels = np.full((240, 320), 3, np.uint8)
    mask = np.zeros((240, 320), np.uint8)
    mask[120:] = 255
    confidence = np.full((240, 320), 180, np.uint8)
    row = SheetRow(1, camera, labels, camera, mask, confidence)
    sheet = contact_sheet([row], palette, "Road, Sidewalk")
    assert sheet.shape == (24 + 240, 5 * SHEET_CELL_WIDTH, 3)
    cells = sheet[24:]
    assert np.all(cells[:120, 960:1280] == 0) and np.all(cells[120:, 960:1280] == 255)
    assert np.all(cells[:, 1280:] == 180)
    assert not np.all(sheet[:24, 960:1280] == 255)  # titled
