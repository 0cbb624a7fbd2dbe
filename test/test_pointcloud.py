"""Labelled point clouds from a registered depth image (enet_ros.pointcloud, depth_pairing,
ros/points.py, ros/cloud_msg.py), checked against the pinhole model evaluated independently,
against rosbags' reading of the serialised message, and against the real sensor_msgs_py of
Foxy, Humble, Jazzy and Rolling (../shared/ros2-python, one subprocess per branch)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from rclpy.serialization import serialize_message
from rosbags.typesys import Stores, get_typestore
from std_msgs.msg import Header

from _depth_scene import BOX_MM, CX, CY, FX, FY, K, P, PLANE_MM, expected_points, scene_mm
from enet_ros import pointcloud
from enet_ros.depth_pairing import DepthPairer, RecordedPairing, nearest
from enet_ros.ros import camera_info as caminfo
from enet_ros.ros import cloud_msg
from enet_ros.ros.points import DepthFrame, PointsOutput

TEST_DIR = Path(__file__).resolve().parent
REPO_ROOT = TEST_DIR.parent
SENSOR_MSGS_PY = REPO_ROOT.parent / "shared" / "ros2-python"
BRANCHES = ("foxy", "humble", "jazzy", "rolling")
CLASSES = ("dark", "red", "green", "blue")
COLOURS = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [1, 2, 3]], np.uint8)
INFO = caminfo.Intrinsics(64, 48, K, P)


def _labels(height: int = 48, width: int = 64) -> np.ndarray:
    return (np.arange(height * width).reshape(height, width) // 7 % 4).astype(np.uint8)


def _cloud(depth_mm: np.ndarray, labels: np.ndarray, classes: str = "", stride: int = 1,
           max_range: float = 0.0) -> np.ndarray:
    cfg = pointcloud.settings(CLASSES, COLOURS, classes, stride, max_range)
    camera = pointcloud.pinhole(INFO, depth_mm.shape[1], depth_mm.shape[0])
    return pointcloud.labelled_points(depth_mm, 0.001, labels, camera, cfg)


def _xyz(points: np.ndarray) -> np.ndarray:
    return np.stack([points[k] for k in "xyz"], axis=1).astype(np.float64)


# -- projection ------------------------------------------------------------------------------

@pytest.mark.parametrize("classes, stride, keep", [("", 1, None), ("red,blue", 2, (1, 3)),
                                                   ("green", 3, (2,))])
def test_points_are_where_the_pinhole_model_puts_the_pixels(classes, stride, keep):
    depth, labels = scene_mm(), _labels()
    points = _cloud(depth, labels, classes, stride)
    xyz, kept = expected_points(depth / 1000.0, labels, stride, keep)
    assert len(points) == len(xyz) > 0
    np.testing.assert_allclose(_xyz(points), xyz, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(points["label"], kept)
    assert set(np.unique(points["z"])) == {np.float32(PLANE_MM / 1000), np.float32(BOX_MM / 1000)}


def test_the_colour_is_the_palette_packed_as_pcl_reads_it():
    points = _cloud(scene_mm(), _labels())
    bits = points["rgb"].view(np.uint32)
    expected = [(r << 16) | (g << 8) | b for r, g, b in COLOURS.astype(np.uint32)]
    np.testing.assert_array_equal(bits, np.array(expected, np.uint32)[points["label"]])
    assert (bits[points["label"] == 1] == 0x00FF0000).all()
    assert (bits[points["label"] == 3] == 0x00010203).all()


def test_max_range_zero_and_non_finite_depth_are_dropped():
    metres = scene_mm().astype(np.float32) / 1000
    metres[5, 5], metres[6, 6], metres[7, 7] = np.nan, np.inf, -1.0
    labels = _labels()
    cfg = pointcloud.settings(CLASSES, COLOURS, max_range=1.5)
    points = pointcloud.labelled_points(metres, 1.0, labels,
                                        pointcloud.pinhole(INFO, 64, 48), cfg)
    xyz, kept = expected_points(metres, labels, max_range=1.5)
    assert len(points) == int((scene_mm() == BOX_MM).sum())
    np.testing.assert_allclose(_xyz(points), xyz, atol=1e-6)
    np.testing.assert_array_equal(points["label"], kept)


def test_labels_of_another_size_are_taken_nearest():
    """Depth at twice the labels' size: each depth pixel takes the label under its centre."""
    depth = scene_mm(96, 128)
    small = _labels(48, 64)
    points = _cloud(depth, small)
    # Intrinsics scaled to 128x96: focal lengths doubled, centre (c + 0.5) * 2 - 0.5
    xyz, kept = expected_points(depth / 1000.0, np.kron(small, np.ones((2, 2), np.uint8)),
                                fx=2 * FX, fy=2 * FY, cx=2 * CX, cy=2 * CY)
    np.testing.assert_array_equal(points["label"], kept)
    np.testing.assert_allclose(_xyz(points), xyz, atol=1e-6)


def test_all_zero_depth_is_an_error_but_an_empty_selection_is_not():
    with pytest.raises(pointcloud.DepthError, match="no valid depth"):
        _cloud(np.zeros((48, 64), np.uint16), _labels())
    assert len(_cloud(scene_mm(), np.zeros((48, 64), np.uint8), "red")) == 0


def test_settings_name_the_classes_the_model_has():
    with pytest.raises(ValueError, match="Car.*its classes: dark, red, green, blue"):
        pointcloud.settings(CLASSES, COLOURS, "red, Car")
    with pytest.raises(ValueError, match="points_stride"):
        pointcloud.settings(CLASSES, COLOURS, stride=0)
    keep = pointcloud.settings(CLASSES, COLOURS, " blue ,red").keep
    assert np.flatnonzero(keep).tolist() == [1, 3]


# -- depth decoding --------------------------------------------------------------------------

def test_16uc1_32fc1_big_endian_and_padded_rows_decode_to_the_same_depth():
    mm = scene_mm()
    padded = np.zeros((48, 64 * 2 + 6), np.uint8)
    padded[:, :128] = mm.view(np.uint8).reshape(48, 128)
    cases = [("16UC1", 128, False, mm.tobytes()), ("16UC1", 134, False, padded.tobytes()),
             ("16UC1", 128, True, mm.astype(">u2").tobytes())]
    for encoding, step, big, data in cases:
        decoded = pointcloud.decode_depth(encoding, 48, 64, step, big, data)
        assert decoded.dtype == np.uint16 and decoded.dtype.isnative
        np.testing.assert_array_equal(decoded, mm)
    metres = (mm / 1000).astype(np.float32)
    for big in (False, True):
        data = metres.astype(">f4" if big else "<f4").tobytes()
        np.testing.assert_array_equal(pointcloud.decode_depth("32FC1", 48, 64, 256, big, data),
                                      metres)


@pytest.mark.parametrize("encoding, height, width, step, size, message", [
    ("mono8", 48, 64, 64, 48 * 64, "not one of 16UC1, 32FC1"),
    ("16UC1", 48, 64, 100, 48 * 100, "step 100 is less than width 64 x 2"),
    ("16UC1", 48, 64, 128, 48 * 128 - 2, "needs 6144"),
    ("32FC1", 48, 64, 256, 48 * 128, "needs 12288"),
    ("16UC1", 0, 64, 128, 0, "empty"),
])
def test_malformed_depth_is_refused_with_the_reason(encoding, height, width, step, size,
                                                    message):
    with pytest.raises(pointcloud.DepthError, match=message):
        pointcloud.decode_depth(encoding, height, width, step, False, bytes(size))


# -- messages --------------------------------------------------------------------------------

def _header() -> Header:
    header = Header(frame_id="depth_optical")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    return header


def test_numpy_built_message_reads_back_with_rosbags():
    """rosbags (its own CDR code) reads the serialised message: fields, layout and values."""
    points = _cloud(scene_mm(), _labels(), "red,blue", 2)
    msg = cloud_msg.to_msg(_header(), points)
    typestore = get_typestore(Stores.ROS2_JAZZY)
    read = typestore.deserialize_cdr(serialize_message(msg), "sensor_msgs/msg/PointCloud2")
    assert (read.header.frame_id, read.header.stamp.sec, read.header.stamp.nanosec) == \
        ("depth_optical", 12, 345)
    assert [(f.name, f.offset, f.datatype, f.count) for f in read.fields] == [
        ("x", 0, 7, 1), ("y", 4, 7, 1), ("z", 8, 7, 1), ("rgb", 12, 7, 1), ("label", 16, 2, 1)]
    assert (read.height, read.width, read.point_step, read.row_step) == \
        (1, len(points), 17, 17 * len(points))
    assert not read.is_bigendian and not read.is_dense
    rows = np.asarray(read.data, np.uint8).reshape(len(points), 17)
    xyz, kept = expected_points(scene_mm() / 1000.0, _labels(), 2, (1, 3))
    np.testing.assert_allclose(rows[:, :12].copy().view("<f4").astype(np.float64), xyz,
                               atol=1e-6)
    np.testing.assert_array_equal(rows[:, 16], kept)
    np.testing.assert_array_equal(rows[:, 12:16].copy().view("<u4")[:, 0],
                                  np.where(kept == 1, 0xFF0000, 0x010203))


@pytest.mark.parametrize("branch", BRANCHES)
def test_sensor_msgs_py_of_each_distribution_builds_the_same_message(branch):
    """create_cloud of each distribution's released sensor_msgs_py builds the message
    enet_ros builds with numpy, equal field by field and byte for byte, and its read_points
    reads enet_ros's message back as the pinhole model says."""
    package = SENSOR_MSGS_PY / branch / "sensor_msgs_py"
    if not package.is_dir():
        pytest.skip(f"released sensor_msgs_py of {branch} not found at {package}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package), str(TEST_DIR)])}
    done = subprocess.run([sys.executable, str(TEST_DIR / "_cloud_branch.py")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["module"].startswith(str(package))
    assert result["equal"] and result["data_equal"]
    read = np.array(result["points"], np.float64)
    xyz, kept = expected_points(scene_mm() / 1000.0, _labels(), 2, (1, 3))
    np.testing.assert_allclose(read[:, :3], xyz, atol=1e-6)
    np.testing.assert_array_equal(read[:, 4], kept)
    np.testing.assert_array_equal(read[:, 3], np.where(kept == 1, 0xFF0000, 0x010203))


# -- pairing ---------------------------------------------------------------------------------

def test_pairing_takes_the_exact_or_nearest_stamp_within_the_slop():
    pairer = DepthPairer(capacity=3)
    for stamp in (100, 200, 300):
        pairer.put(stamp, f"d{stamp}")
    assert pairer.take(200, 0, 0.0) == "d200"
    assert pairer.take(240, 50, 0.0) == "d200"
    assert pairer.take(260, 50, 0.0) == "d300"
    assert pairer.take(250, 49, 0.0) is None
    pairer.put(400, "d400")          # capacity 3: d100 goes
    assert pairer.take(100, 0, 0.0) is None


def test_a_frame_waits_for_its_depth_until_a_later_one_arrives():
    pairer = DepthPairer()
    pairer.put(100, "d100")          # the stream is live, nothing at 200 yet
    got: list = []
    waiter = threading.Thread(target=lambda: got.append(pairer.take(200, 0, 30.0)))
    waiter.start()
    pairer.put(200, "d200")
    waiter.join(30.0)
    assert got == ["d200"]
    late: list = []
    waiter = threading.Thread(target=lambda: late.append(pairer.take(250, 0, 30.0)))
    waiter.start()
    pairer.put(300, "d300")          # later than the frame: its own depth will not come
    waiter.join(30.0)
    assert late == [None]


def test_a_quiet_depth_stream_keeps_no_frame_waiting():
    now = [0.0]
    pairer = DepthPairer(clock=lambda: now[0])
    assert pairer.take(100, 0, 30.0) is None      # never any depth
    pairer.put(50, "d50")
    now[0] = 2.0                                  # more than QUIET_S since the last one
    assert pairer.take(100, 0, 30.0) is None


def test_nearest_stamp_within_the_slop_the_earlier_of_two_as_near():
    stamps = [100, 200, 300]
    assert nearest(stamps, 200, 0) == 1
    assert nearest(stamps, 150, 50) == 0 and nearest(stamps, 151, 50) == 1
    assert nearest(stamps, 260, 39) is None and nearest(stamps, 260, 40) == 2
    assert nearest(stamps, 10**9) == 2 and nearest(stamps, -5) == 0   # no slop: any distance
    assert nearest([], 100) is None


def test_a_recording_is_paired_holding_only_what_is_pending():
    """Frames 100..410 and depth images 100..405 fed in recording order: the depth image
    before or after its frame, a duplicate stamp, one depth image for two frames, one for
    none, a frame without; held: what a frame still to come needs, or a frame its depth."""
    pairing = RecordedPairing([100, 200, 300, 300, 405, 999], [100, 200, 300, 400, 410, 700],
                              slop_ns=10)
    steps = [
        (pairing.add_depth, 100, "d100", [], (1, 0)),
        (pairing.add_frame, 100, "f100", [("f100", "d100")], (0, 0)),
        (pairing.add_frame, 200, "f200", [], (0, 1)),                    # its depth comes later
        (pairing.add_depth, 200, "d200", [("f200", "d200")], (0, 0)),
        (pairing.add_depth, 300, "d300", [], (1, 0)),
        (pairing.add_depth, 300, "d300 again", [], (1, 0)),             # the first is kept
        (pairing.add_frame, 300, "f300", [("f300", "d300")], (0, 0)),
        (pairing.add_depth, 999, "d999", [], (0, 0)),                   # no frame takes it
        (pairing.add_depth, 405, "d405", [], (1, 0)),
        (pairing.add_frame, 400, "f400", [("f400", "d405")], (1, 0)),   # f410 takes it too
        (pairing.add_frame, 410, "f410", [("f410", "d405")], (0, 0)),
        (pairing.add_frame, 700, "f700", [("f700", None)], (0, 0)),     # none within 10 ns
    ]
    for feed, stamp, item, ready, pending in steps:
        assert (feed(stamp, item), pairing.pending()) == (ready, pending), (feed, stamp)
    assert pairing.finish() == []


def test_a_dropped_frame_lets_its_depth_go_and_finish_gives_what_waited():
    pairing = RecordedPairing([100, 200], [100, 200, 200], slop_ns=0)
    assert pairing.add_frame(100, "a") == [] and pairing.pending() == (0, 1)
    pairing.drop_frame(200)                       # undecodable: one of the two at 200 is left
    assert pairing.add_depth(200, "d200") == [] and pairing.pending() == (1, 1)
    assert pairing.add_frame(200, "b") == [("b", "d200")] and pairing.pending() == (0, 1)
    assert pairing.finish() == [("a", None)]      # its depth image never came
    assert pairing.pending() == (0, 0)


def _frame(depth: np.ndarray, encoding: str = "16UC1", step: int | None = None) -> DepthFrame:
    return DepthFrame("depth_optical", encoding, depth.shape[0], depth.shape[1],
                      depth.strides[0] if step is None else step, False, depth.tobytes())


def test_points_output_counts_every_reason_to_skip_a_frame():
    out = PointsOutput(pointcloud.settings(CLASSES, COLOURS, stride=2), slop_s=0.0, wait_s=0.0)
    labels = _labels()
    assert "camera_info" in out.make(1, labels, None).problem
    assert out.make(1, labels, INFO).reason == "no depth"
    assert "no depth image within 0 s" in out.make(1, labels, INFO).problem
    out.add_depth(2, _frame(scene_mm().astype(np.float32), "16UC1"))
    assert "malformed depth image" in out.make(2, labels, INFO).problem
    out.add_depth(3, _frame(np.zeros((48, 64), np.uint16)))
    assert "no valid depth" in out.make(3, labels, INFO).problem
    out.add_depth(4, _frame(scene_mm()))
    assert "no focal length" in out.make(4, labels, caminfo.Intrinsics(64, 48, K, (0.0,) * 12)
                                         ).problem
    result = out.make(4, labels, INFO)
    assert result.frame_id == "depth_optical" and not result.problem
    np.testing.assert_allclose(_xyz(result.points),
                               expected_points(scene_mm() / 1000.0, labels, 2)[0], atol=1e-6)
    assert out.diagnostics() == {"points: frames published": "1", "points: frames no depth": "2",
                                 "points: frames no camera_info": "2",
                                 "points: frames bad depth": "2"}


def test_an_empty_selection_is_an_empty_cloud_message():
    points = _cloud(scene_mm(), np.zeros((48, 64), np.uint8), "red")
    msg = cloud_msg.to_msg(_header(), points)
    assert (msg.width, msg.row_step, len(msg.data), msg.point_step) == (0, 0, 0, 17)


def test_intrinsics_from_a_camera_info_message():
    from sensor_msgs.msg import CameraInfo, RegionOfInterest

    msg = CameraInfo(width=128, height=96, k=K, p=P, binning_x=2, binning_y=2,
                     roi=RegionOfInterest(x_offset=4, y_offset=6, width=60, height=40,
                                          do_rectify=True))
    assert caminfo.from_msg(msg) == caminfo.Intrinsics(128, 96, K, P, 2, 2, 4, 6, 60, 40, True)
