"""segment_bag: originals copied byte for byte, segmentation topics added with their headers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _runtime_bags import TYPESTORE, header, write_bag
from _runtime_fixtures import fixture_metadata, make_model_file, reference_labels
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from enet_ros.bag import BagError, bag_frames, segment_bag
from enet_ros.inputs import Unreadable
from enet_ros.engines import open_engine
from enet_ros.image_codec import decode_image
from enet_ros.model_file import open_model_file
from enet_ros.palette import load_palette
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
