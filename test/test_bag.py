"""segment_bag: originals copied byte for byte, segmentation topics added with their headers,
and the labelled point cloud of a registered depth topic, as the node builds it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _depth_scene import BOX_MM, FX, K, P, cloud_points, expected_points, scene_mm
from _runtime_bags import (COLOR, DEPTH, DEPTH_FRAME, FX_LATER, INFO, TYPESTORE,
                           camera_info_msg, frame_stamp, frame_time, header, image_msg,
                           write_bag, write_messages, write_points_bag)
from _runtime_fixtures import blocks_frame, fixture_metadata, make_model_file, reference_labels
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from enet_ros import pointcloud
from enet_ros.bag import BagError, bag_frames, camera_info_beside, segment_bag
from enet_ros.inputs import Unreadable
from enet_ros.engines import open_engine
from enet_ros.image_codec import decode_image
from enet_ros.model_file import open_model_file
from enet_ros.palette import load_palette
from enet_ros.ros import camera_info as caminfo
from enet_ros.ros.points import DepthFrame, PointsOutput
from enet_ros.segmenter import Segmenter

RNG = np.random.default_rng(4)


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> Segmenter:
    path = make_model_file(tmp_path_factory.mktemp("bag") / "model.onnx")
    engine = open_engine("onnxruntime", open_model_file(path), threads=1)
    return Segmenter(engine, load_palette(None, fixture_metadata()))


def read_bag(path: Path) -> dict[str, list[tuple[int, bytes]]]:
    topics: dict[str, list[tuple[int, bytes]]] = {}
    with Reader(path) as reader:
        for conn, timestamp, raw in reader.messages():
            topics.setdefault(conn.topic, []).append((timestamp, bytes(raw)))
    return topics


@pytest.mark.parametrize("storage", [StoragePlugin.SQLITE3, StoragePlugin.MCAP])
@pytest.mark.parametrize("compressed", [False, True])
def test_segmentation_topics_are_added(tmp_path: Path, segmenter: Segmenter,
                                       storage: StoragePlugin, compressed: bool) -> None:
    frames = [RNG.integers(0, 256, (32, 48, 3), dtype=np.uint8) for _ in range(3)]
    raws = write_bag(tmp_path / "in", storage, frames, compressed)
    summary = segment_bag(tmp_path / "in", tmp_path / "out", "/camera/image_raw", segmenter,
                          progress=False)
    assert (summary.messages, summary.frames, summary.skipped) == (6, 3, 0)
    assert summary.class_pixels.sum() == 3 * 32 * 48
    topics = read_bag(tmp_path / "out")
    assert any((tmp_path / "out").glob("*.mcap")) == (storage == StoragePlugin.MCAP)
    copied = sorted(raw for name in ("/camera/image_raw", "/chatter") for _, raw in topics[name])
    assert copied == sorted(raws)
    for name, encoding in (("labels", "mono8"), ("color", "rgb8"), ("overlay", "rgb8")):
        assert [t for t, _ in topics[f"/enet/{name}"]] == [1000, 1001, 1002]
    for index, rgb in enumerate(frames):
        labels = TYPESTORE.deserialize_cdr(topics["/enet/labels"][index][1],
                                           "sensor_msgs/msg/Image")
        assert (labels.header.stamp.sec, labels.header.stamp.nanosec) == (index, 7)
        assert labels.header.frame_id == "camera" and labels.encoding == "mono8"
        np.testing.assert_array_equal(labels.data.reshape(32, 48), reference_labels(rgb))
        colour = TYPESTORE.deserialize_cdr(topics["/enet/color"][index][1],
                                           "sensor_msgs/msg/Image")
        np.testing.assert_array_equal(
            decode_image("rgb8", 32, 48, colour.step, False, colour.data),
            segmenter.palette.colorize(reference_labels(rgb)))
        overlay = TYPESTORE.deserialize_cdr(topics["/enet/overlay"][index][1],
                                            "sensor_msgs/msg/Image")
        assert overlay.encoding == ("rgb8" if compressed else "bgr8")


def test_undecodable_frames_are_skipped_and_counted(tmp_path: Path,
                                                    segmenter: Segmenter) -> None:
    path = tmp_path / "in"
    image_type = "sensor_msgs/msg/Image"
    with Writer(path, version=Writer.VERSION_LATEST) as writer:
        camera = writer.add_connection("/camera", image_type, typestore=TYPESTORE)
        bad = TYPESTORE.types[image_type](header=header(0), height=32, width=48,
                                          encoding="bgr8", is_bigendian=0, step=144,
                                          data=np.zeros(100, np.uint8))
        writer.write(camera, 1, TYPESTORE.serialize_cdr(bad, image_type))
    summary = segment_bag(path, tmp_path / "out", "/camera", segmenter, progress=False)
    assert (summary.frames, summary.skipped) == (0, 1)
    assert "truncated" in summary.first_skip_reason
    [unreadable] = bag_frames(path)  # what the demo plays: the same frame, reported
    assert isinstance(unreadable, Unreadable) and unreadable.source == path
    assert unreadable.reason.startswith("/camera message 0:") and "truncated" in unreadable.reason


def test_bad_requests_are_bag_errors(tmp_path: Path, segmenter: Segmenter) -> None:
    write_bag(tmp_path / "in", StoragePlugin.SQLITE3, [np.zeros((32, 48, 3), np.uint8)])
    with pytest.raises(BagError, match="no topic '/camera/rgb'.*/camera/image_raw"):
        segment_bag(tmp_path / "in", tmp_path / "out", "/camera/rgb", segmenter)
    with pytest.raises(BagError, match="/chatter carries std_msgs/msg/String"):
        segment_bag(tmp_path / "in", tmp_path / "out2", "/chatter", segmenter)
    with pytest.raises(BagError, match="exists already"):
        segment_bag(tmp_path / "in", tmp_path / "in", "/camera/image_raw", segmenter)
    with pytest.raises(BagError, match="does not exist"):
        segment_bag(tmp_path / "missing", tmp_path / "out3", "/camera/image_raw", segmenter)


def test_folders_and_files_that_are_not_bags(tmp_path: Path, segmenter: Segmenter) -> None:
    write_bag(tmp_path / "bag", StoragePlugin.MCAP, [np.zeros((32, 48, 3), np.uint8)])
    (tmp_path / "bag" / "metadata.yaml").unlink()  # as a recording killed before closing
    mcap = next((tmp_path / "bag").glob("*.mcap")).name
    with pytest.raises(BagError, match=rf"not a rosbag2 folder \(no metadata.yaml\); it holds "
                                       rf"{mcap}: an interrupted recording\? `ros2 bag reindex "
                                       rf"{tmp_path / 'bag'}` restores metadata.yaml"):
        segment_bag(tmp_path / "bag", tmp_path / "out", "/camera/image_raw", segmenter)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BagError, match=r"empty is not a rosbag2 folder \(no metadata.yaml\)$"):
        segment_bag(tmp_path / "empty", tmp_path / "out", "/camera/image_raw", segmenter)
    with pytest.raises(BagError, match=f"{mcap} is not a bag: a rosbag2 is the folder"):
        segment_bag(tmp_path / "bag" / mcap, tmp_path / "out", "/camera/image_raw", segmenter)


def test_bag_frames_yields_the_frames_and_reports_undecodable_ones(tmp_path: Path) -> None:
    frames = [np.full((32, 48, 3), (i * 40, 255 - i * 40, 7), np.uint8) for i in range(3)]
    write_bag(tmp_path / "bag", StoragePlugin.SQLITE3, frames)
    got = list(bag_frames(tmp_path / "bag"))  # the first image topic: /camera/image_raw
    assert [(frame.source, frame.index) for frame in got] == [(tmp_path / "bag", i)
                                                              for i in range(3)]
    for frame, rgb in zip(got, frames):
        np.testing.assert_array_equal(frame.rgb, rgb)
    with pytest.raises(BagError, match="/chatter carries std_msgs/msg/String"):
        list(bag_frames(tmp_path / "bag", "/chatter"))
    with Writer(tmp_path / "text_only", version=Writer.VERSION_LATEST,
                storage_plugin=StoragePlugin.MCAP) as writer:
        writer.add_connection("/chatter", "std_msgs/msg/String", typestore=TYPESTORE)
    with pytest.raises(BagError, match="has no Image or CompressedImage topic; it has: /chatter"):
        list(bag_frames(tmp_path / "text_only"))


# -- <prefix>/points ---------------------------------------------------------------------------

POINTS = "/enet/points"
CLOUD = "sensor_msgs/msg/PointCloud2"


def _scene(index: int) -> tuple[np.ndarray, float]:
    """The depth (metres) write_points_bag pairs with frame ``index``, and the fx of the
    camera_info nearest the frame."""
    mm = scene_mm()
    if index == 1:
        metres = (mm / 1000.0).astype(np.float32)
        metres[0, 0] = np.nan
        return metres, FX_LATER
    return mm / 1000.0, FX if index == 0 else FX_LATER


def _frames_out(topics: dict[str, list[tuple[int, bytes]]]) -> dict[int, tuple[int, np.ndarray]]:
    """header stamp (ns) -> (bag timestamp, labels) of the output's /enet/labels."""
    frames = {}
    for timestamp, raw in topics["/enet/labels"]:
        msg = TYPESTORE.deserialize_cdr(raw, "sensor_msgs/msg/Image")
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        frames[stamp] = timestamp, msg.data.reshape(msg.height, msg.width)
    return frames


def _check_clouds(topics: dict[str, list[tuple[int, bytes]]], indices: list[int],
                  stride: int = 1, keep: tuple[int, ...] | None = None,
                  max_range: float = 0.0) -> None:
    """Each /enet/points message is frame ``indices[n]``'s: its stamp and bag timestamp, the
    depth image's frame, x, y, z where the pinhole model puts the pixels, the frame's labels."""
    frames = _frames_out(topics)
    assert [t for t, _ in topics[POINTS]] == [frame_time(i) for i in indices]
    for index, (timestamp, raw) in zip(indices, topics[POINTS]):
        msg = TYPESTORE.deserialize_cdr(raw, CLOUD)
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        assert stamp == frame_stamp(index) and msg.header.frame_id == DEPTH_FRAME
        assert frames[stamp][0] == timestamp
        labels = frames[stamp][1]
        metres, fx = _scene(index)
        xyz, kept = expected_points(metres, labels, stride, keep, max_range, fx=fx)
        cloud = cloud_points(msg)
        assert len(cloud) == len(xyz) > 0
        got = np.stack([cloud[k] for k in "xyz"], axis=1).astype(np.float64)
        np.testing.assert_allclose(got, xyz, rtol=0, atol=1e-3)  # to 1 mm (in fact to 1e-6)
        np.testing.assert_allclose(got, xyz, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(cloud["label"], kept)


@pytest.mark.parametrize("storage", [StoragePlugin.SQLITE3, StoragePlugin.MCAP])
def test_points_are_the_labelled_depth_where_the_pinhole_model_puts_it(
        tmp_path: Path, segmenter: Segmenter, storage: StoragePlugin) -> None:
    """Depth recorded before its frame (frame 0, 16UC1) and after it (frame 1, 32FC1, after
    the next frame too; frame 2, 16UC1 stamped 3 ms off, within the slop), camera_info
    recorded after the frames it serves; no depth for frame 3, malformed depth for 4 and 5."""
    written = write_points_bag(tmp_path / "in", storage)
    summary = segment_bag(tmp_path / "in", tmp_path / "out", COLOR, segmenter, progress=False,
                          depth_topic=DEPTH, depth_slop=0.005)
    assert (summary.messages, summary.frames, summary.points) == (len(written), 6, 3)
    assert summary.points_skipped == {"no depth": 1, "no camera_info": 0, "bad depth": 2}
    assert summary.points_first_problem == {
        "no depth": "no depth image within 0.005 s of the frame's stamp",
        "bad depth": "malformed depth image: depth encoding 'mono16' is not one of 16UC1, "
                     "32FC1"}
    topics = read_bag(tmp_path / "out")
    assert sorted((topic, t, raw) for topic in (COLOR, DEPTH, INFO) for t, raw in topics[topic]) \
        == sorted(written)
    assert {name: len(topics[f"/enet/{name}"]) for name in ("labels", "color", "overlay")} == \
        {"labels": 6, "color": 6, "overlay": 6}
    _check_clouds(topics, [0, 1, 2])
    cloud = cloud_points(TYPESTORE.deserialize_cdr(topics[POINTS][0][1], CLOUD))
    assert {np.float32(BOX_MM / 1000), np.float32(2.0)} <= set(cloud["z"])
    with Reader(tmp_path / "out") as reader:
        assert {c.topic: c.msgtype for c in reader.connections}[POINTS] == CLOUD


def test_points_classes_stride_max_range_and_slop_are_honoured(tmp_path: Path,
                                                              segmenter: Segmenter) -> None:
    write_points_bag(tmp_path / "in")
    summary = segment_bag(tmp_path / "in", tmp_path / "out", COLOR, segmenter, progress=False,
                          depth_topic=DEPTH, camera_info_topic=INFO, points_classes="red, blue",
                          points_stride=2, points_max_range=1.5)
    # the default slop, 0: frame 2's depth, stamped 3 ms off, is not taken
    assert summary.points == 2
    assert summary.points_skipped == {"no depth": 2, "no camera_info": 0, "bad depth": 2}
    assert summary.points_first_problem["no depth"] == \
        "no depth image within 0 s of the frame's stamp"
    topics = read_bag(tmp_path / "out")
    _check_clouds(topics, [0, 1], stride=2, keep=(1, 3), max_range=1.5)
    for _, raw in topics[POINTS]:  # the box only (1.2 m), red and blue only
        cloud = cloud_points(TYPESTORE.deserialize_cdr(raw, CLOUD))
        assert set(cloud["z"]) == {np.float32(BOX_MM / 1000)}
        assert set(cloud["label"]) <= {1, 3}


def test_points_messages_are_the_bytes_the_node_publishes(tmp_path: Path,
                                                               segmenter: Segmenter) -> None:
    """The node's PointsOutput and cloud_msg, given the same frame, depth image and
    camera_info, serialise to the bytes the bag holds."""
    serialization = pytest.importorskip("rclpy.serialization")
    from std_msgs.msg import Header

    from enet_ros.ros import cloud_msg

    write_points_bag(tmp_path / "in")
    segment_bag(tmp_path / "in", tmp_path / "out", COLOR, segmenter, progress=False,
                depth_topic=DEPTH, points_stride=2)
    topics = read_bag(tmp_path / "out")
    frames = _frames_out(topics)
    node = PointsOutput(pointcloud.settings(segmenter.palette.class_names,
                                            segmenter.palette.colours, stride=2), 0.0, 0.0)
    for index, (_, raw) in zip((0, 1), topics[POINTS]):
        metres, fx = _scene(index)
        depth = metres.astype(np.float32) if index == 1 else (metres * 1000).astype(np.uint16)
        node.add_depth(frame_stamp(index), DepthFrame(
            DEPTH_FRAME, "32FC1" if index == 1 else "16UC1", 48, 64, depth.strides[0], False,
            depth.tobytes()))
        info = caminfo.Intrinsics(64, 48, (fx,) + K[1:], (fx,) + P[1:])
        result = node.make(frame_stamp(index), frames[frame_stamp(index)][1], info)
        head = Header(frame_id=result.frame_id)
        head.stamp.sec, head.stamp.nanosec = divmod(frame_stamp(index), 10**9)
        expected = serialization.serialize_message(cloud_msg.to_msg(head, result.points))
        # the same bytes but the alignment padding, which rclpy leaves as it finds it
        assert len(raw) == len(expected)
        assert raw == bytes(TYPESTORE.serialize_cdr(TYPESTORE.deserialize_cdr(
            bytes(expected), CLOUD), CLOUD))


def test_frames_without_usable_camera_info_are_counted(tmp_path: Path,
                                                       segmenter: Segmenter) -> None:
    """camera_info whose P has no focal length: counted as the node counts it; another
    camera_info topic, named, gives the points."""
    stamp = frame_stamp(0)
    write_messages(tmp_path / "in", StoragePlugin.SQLITE3, [
        (COLOR, 10, image_msg(stamp, blocks_frame(), "rgb8", "color")),
        (DEPTH, 11, image_msg(stamp, scene_mm(), "16UC1", DEPTH_FRAME)),
        (INFO, 12, camera_info_msg(stamp, K, (0.0,) * 12)),
        ("/camera/other/camera_info", 13, camera_info_msg(stamp, K, P))])
    summary = segment_bag(tmp_path / "in", tmp_path / "out", COLOR, segmenter, progress=False,
                          depth_topic=DEPTH)
    assert (summary.frames, summary.points) == (1, 0)
    assert summary.points_skipped == {"no depth": 0, "no camera_info": 1, "bad depth": 0}
    assert "no focal length" in summary.points_first_problem["no camera_info"]
    with Reader(tmp_path / "out") as reader:
        assert {c.topic: c.msgcount for c in reader.connections}[POINTS] == 0
    summary = segment_bag(tmp_path / "in", tmp_path / "out2", COLOR, segmenter, progress=False,
                          depth_topic=DEPTH, camera_info_topic="/camera/other/camera_info")
    assert summary.points == 1
    xyz, _ = expected_points(scene_mm() / 1000.0, np.zeros((48, 64), np.uint8))
    [(_, raw)] = read_bag(tmp_path / "out2")[POINTS]
    cloud = cloud_points(TYPESTORE.deserialize_cdr(raw, CLOUD))
    np.testing.assert_allclose(np.stack([cloud[k] for k in "xyz"], axis=1), xyz, atol=1e-6)


def test_an_undecodable_frame_is_skipped_not_counted_without_points(
        tmp_path: Path, segmenter: Segmenter) -> None:
    """A frame that cannot be decoded takes no depth image (skipped, not counted among the
    frames without points); the decodable frame of the same stamp still gets its points."""
    stamp = frame_stamp(0)
    bad = TYPESTORE.types["sensor_msgs/msg/Image"](
        header=header(stamp // 10**9, "color", stamp % 10**9), height=48, width=64,
        encoding="rgb8", is_bigendian=0, step=192, data=np.zeros(10, np.uint8))  # truncated
    write_messages(tmp_path / "in", StoragePlugin.SQLITE3, [
        (COLOR, 10, bad),
        (COLOR, 11, image_msg(stamp, blocks_frame(), "rgb8", "color")),
        (DEPTH, 12, image_msg(stamp, scene_mm(), "16UC1", DEPTH_FRAME)),
        (INFO, 13, camera_info_msg(stamp, K, P))])
    summary = segment_bag(tmp_path / "in", tmp_path / "out", COLOR, segmenter, progress=False,
                          depth_topic=DEPTH)
    assert (summary.skipped, summary.frames, summary.points) == (1, 1, 1)
    assert sum(summary.points_skipped.values()) == 0


def test_bad_points_requests_are_one_line_bag_errors(tmp_path: Path,
                                                     segmenter: Segmenter) -> None:
    write_points_bag(tmp_path / "in")
    images = f"its image topics: {DEPTH}, {COLOR}"
    cases = [
        ({"depth_topic": "/camera/depth"}, f"no topic '/camera/depth'; {images} \\(all: "),
        ({"depth_topic": INFO}, f"{INFO} carries sensor_msgs/msg/CameraInfo, not an Image "
                                f"\\(a depth image registered to the camera image: 16UC1 or "
                                f"32FC1\\); {images}$"),
        ({"depth_topic": COLOR}, f"the depth topic {COLOR} is the image topic"),
        ({"depth_topic": DEPTH, "camera_info_topic": "/info"},
         f"no topic '/info'; its CameraInfo topics: {INFO} \\(all"),
        ({"depth_topic": DEPTH, "points_classes": "red,Car"},
         "^points_classes names Car, which the model does not have; its classes: dark, red, "
         "green, blue$"),
        ({"depth_topic": DEPTH, "depth_slop": 2.0}, "^depth_slop must be between 0.0 and 1.0"),
        ({"depth_topic": DEPTH, "points_max_range": -1.0}, "^points_max_range must be between"),
    ]
    for index, (options, message) in enumerate(cases):
        with pytest.raises(BagError, match=message):
            segment_bag(tmp_path / "in", tmp_path / f"out{index}", COLOR, segmenter, **options)
        assert not (tmp_path / f"out{index}").exists()
    write_messages(tmp_path / "clash", StoragePlugin.SQLITE3, [
        (COLOR, 10, image_msg(frame_stamp(0), blocks_frame(), "rgb8", "color")),
        (POINTS, 11, TYPESTORE.types["std_msgs/msg/String"](data="taken"))])
    segment_bag(tmp_path / "clash", tmp_path / "no_points", COLOR, segmenter, progress=False)
    with pytest.raises(BagError, match=f"already has {POINTS}; choose another prefix"):
        segment_bag(tmp_path / "clash", tmp_path / "out", COLOR, segmenter, depth_topic=DEPTH)


def test_the_camera_info_beside_an_image_topic() -> None:
    assert camera_info_beside("/camera/color/image_raw") == "/camera/color/camera_info"
    assert camera_info_beside("/camera/color/image_raw/compressed") == \
        "/camera/color/camera_info"
    assert camera_info_beside("/image") == "/camera_info"
