"""Segment the camera frames of a recorded rosbag2 (sqlite3 or MCAP) into a new bag.

The new bag holds every original message byte for byte, plus labels (mono8), colour (rgb8) and
overlay images for each frame of the image topic, stamped with that frame's header and
receive time, so it replays in rviz or feeds an evaluation exactly like the live node's output.
Given a registered depth topic it adds the labelled point cloud the node publishes on
enet/points, built by the node's code (enet_ros.ros.points, enet_ros.pointcloud): a first
pass reads the stamps of the frames, depth images and camera_info, then the copy pass pairs
them (depth_pairing.RecordedPairing) holding only what is pending, whichever of a frame and
its depth image was recorded first.
Uses rosbags (pure Python), so no ROS installation is needed.
"""
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.interfaces import Connection
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer, WriterError
from rosbags.serde import SerdeError
from rosbags.typesys import Stores, get_typestore
from tqdm import tqdm

from enet_ros import pointcloud
from enet_ros.depth_pairing import RecordedPairing, nearest, stamp_ns
from enet_ros.image_codec import (ImageCodecError, decode_compressed, decode_image,
                                  encode_image, overlay_encoding)
from enet_ros.inputs import BagError, Frame, Unreadable, is_bag
from enet_ros.ros import camera_info as caminfo
from enet_ros.ros import params
from enet_ros.ros.points import PointsBuilder, depth_frame
from enet_ros.segmenter import Segmenter

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
POINT_CLOUD = "sensor_msgs/msg/PointCloud2"
BAG_FILE_SUFFIXES = (".mcap", ".db3")
IMAGE_OUTPUTS = ("labels", "color", "overlay")
# The node's defaults (config/segment.yaml): equal stamps only, every class, pixel, depth.
DEPTH_SLOP, POINTS_STRIDE, POINTS_MAX_RANGE = (
    params.spec(name).default for name in ("depth_slop", "points_stride", "points_max_range"))


@dataclass
class BagSummary:
    """What segment_bag did: messages copied, frames segmented, frames it could not decode,
    points messages written and the frames without."""

    messages: int = 0
    frames: int = 0
    skipped: int = 0
    first_skip_reason: str = ""
    class_pixels: np.ndarray = field(default_factory=lambda: np.zeros(256, np.int64))
    # <prefix>/points (with a depth topic): messages written, and the segmented frames without
    # one by the node's reasons (no depth, no camera_info, bad depth) with the first problem
    points: int = 0
    points_skipped: "dict[str, int]" = field(default_factory=dict)
    points_first_problem: "dict[str, str]" = field(default_factory=dict)


def _storage_of(path: Path) -> StoragePlugin:
    return StoragePlugin.MCAP if any(path.glob("*.mcap")) else StoragePlugin.SQLITE3


def _check_is_bag(src: Path) -> None:
    """BagError, saying what src is instead, unless it is a rosbag2 folder."""
    if not src.exists():
        raise BagError(f"input bag {src} does not exist")
    if not src.is_dir():
        raise BagError(f"{src} is not a bag: a rosbag2 is the folder `ros2 bag record` writes, "
                       f"with metadata.yaml and .mcap or .db3 files")
    if not is_bag(src):
        storage = sorted(p.name for p in src.iterdir() if p.suffix in BAG_FILE_SUFFIXES)
        hint = (f"; it holds {', '.join(storage)}: an interrupted recording? "
                f"`ros2 bag reindex {src}` restores metadata.yaml") if storage else ""
        raise BagError(f"{src} is not a rosbag2 folder (no metadata.yaml){hint}")


def _check_topic(src: Path, topics: "dict[str, str]", topic: str,
                 kinds: "tuple[str, ...]" = (IMAGE, COMPRESSED),
                 what: str = "an Image or CompressedImage", listed: str = "image") -> None:
    """BagError naming the bag's ``listed`` topics (those of ``kinds``) unless it has
    ``topic`` and it carries one of ``kinds`` (default: images)."""
    if topic in topics and topics[topic] in kinds:
        return
    named = sorted(t for t, kind in topics.items() if kind in kinds)
    of_kind = f"its {listed} topics: {', '.join(named) or 'none'}"
    if topic not in topics:
        raise BagError(f"bag {src} has no topic {topic!r}; {of_kind} (all: "
                       f"{', '.join(sorted(topics))})")
    raise BagError(f"{topic} carries {topics[topic]}, not {what}; {of_kind}")


def camera_info_beside(image_topic: str) -> str:
    """The camera_info topic of an image topic, as drivers and image_transport name them:
    /camera/color/image_raw (or its /compressed) -> /camera/color/camera_info."""
    base = image_topic[:-len("/compressed")] if image_topic.endswith("/compressed") \
        else image_topic
    return base.rpartition("/")[0] + "/camera_info"


@dataclass
class _Segmented:
    """A segmented frame that may wait for its depth image."""

    header: Any
    timestamp: int
    labels: np.ndarray
    info: "caminfo.Intrinsics | None"


class _BagPoints:
    """<prefix>/points of a bag: the pairing planned from a first pass over the stamps of the
    frames, depth images and camera_info (the one nearest a frame's stamp gives its
    intrinsics), then fed the messages of the copy pass; the points and the counts come from
    the node's PointsBuilder."""

    def __init__(self, reader: Reader, typestore: Any, image_topic: str, depth_topic: str,
                 info_topic: str, builder: PointsBuilder, progress: bool = True) -> None:
        self._typestore = typestore
        self._builder = builder
        self._problems: "dict[str, str]" = {}
        stamps: "dict[str, list[int]]" = {image_topic: [], depth_topic: [], info_topic: []}
        infos: "dict[caminfo.Intrinsics, caminfo.Intrinsics]" = {}  # one object each
        found: "list[tuple[int, caminfo.Intrinsics]]" = []
        connections = [c for c in reader.connections if c.topic in stamps]
        for conn, _, raw in tqdm(reader.messages(connections), unit="message",
                                 total=sum(c.msgcount for c in connections),
                                 disable=not progress, desc="reading stamps"):
            msg = typestore.deserialize_cdr(raw, conn.msgtype)
            stamps[conn.topic].append(stamp_ns(msg.header))
            if conn.topic == info_topic:
                info = caminfo.from_msg(msg)
                found.append((stamps[info_topic][-1], infos.setdefault(info, info)))
        found.sort(key=lambda stamped: stamped[0])
        self._info_stamps = [stamp for stamp, _ in found]
        self._infos = [info for _, info in found]
        self._pairing = RecordedPairing(stamps[depth_topic], stamps[image_topic],
                                        builder.slop_ns)

    def frame(self, header: Any, timestamp: int, labels: np.ndarray
              ) -> "list[tuple[int, bytes]]":
        """Points messages (bag timestamp, CDR) that a segmented frame completes."""
        stamp = stamp_ns(header)
        index = nearest(self._info_stamps, stamp)
        info = None if index is None else self._infos[index]
        segmented = _Segmented(header, timestamp, labels.copy(), info)  # engines reuse buffers
        if info is None:  # counted now, as the node does, without waiting for the depth
            self._pairing.drop_frame(stamp)
            return self._messages([(segmented, None)])
        return self._messages(self._pairing.add_frame(stamp, segmented))

    def undecodable(self, header: Any) -> None:
        """A frame that takes no depth image."""
        self._pairing.drop_frame(stamp_ns(header))

    def depth(self, msg: Any) -> "list[tuple[int, bytes]]":
        """Points messages of the frames that waited for this depth image."""
        depth = depth_frame(msg)._replace(data=bytes(msg.data))  # not a view of the bag
        return self._messages(self._pairing.add_depth(stamp_ns(msg.header), depth))

    def finish(self) -> "list[tuple[int, bytes]]":
        """Points messages still due (none: every frame's depth image came)."""
        return self._messages(self._pairing.finish())

    def report(self, summary: BagSummary) -> None:
        """The points written and the frames without, by reason, into ``summary``."""
        counts = self._builder.counts()
        summary.points = counts.pop("published")
        summary.points_skipped = counts
        summary.points_first_problem = dict(self._problems)

    def _messages(self, pairs: list) -> "list[tuple[int, bytes]]":
        """Points messages of (frame, depth image or None) pairs; a frame without points is
        counted by the builder, and the first problem of each reason kept."""
        done = []
        for frame, depth in pairs:
            result = self._builder.build(depth, frame.labels, frame.info)
            if result.points is None:
                self._problems.setdefault(result.reason, result.problem)
                continue
            done.append((frame.timestamp, self._cloud(frame.header.stamp, result.frame_id,
                                                      result.points)))
        return done

    def _cloud(self, stamp: Any, frame_id: str, points: np.ndarray) -> bytes:
        """A PointCloud2 of the points, laid out by pointcloud.cloud_fields as the node's numpy
        path lays them out, in the depth image's frame with the colour frame's stamp."""
        types = self._typestore.types
        plain = pointcloud.cloud_fields(points)
        fields = [types["sensor_msgs/msg/PointField"](*f) for f in plain.fields]
        msg = types[POINT_CLOUD](header=types["std_msgs/msg/Header"](stamp=stamp,
                                                                     frame_id=frame_id),
                                 **plain._replace(fields=fields)._asdict())
        return self._typestore.serialize_cdr(msg, POINT_CLOUD)


def _copy_connection(writer: Writer, conn: Connection, added: "dict[tuple, Connection]"
                     ) -> Connection:
    """The output connection for an input one; bags may split one topic over several."""
    key = (conn.topic, conn.msgtype, repr(conn.ext))  # ext holds a list: not hashable
    if key not in added:
        added[key] = writer.add_connection(
            conn.topic, conn.msgtype, msgdef=conn.msgdef.data, rihs01=conn.digest,
            serialization_format=conn.ext.serialization_format,
            offered_qos_profiles=conn.ext.offered_qos_profiles)
    return added[key]


def _decode(msg: Any, msgtype: str) -> "tuple[np.ndarray, str]":
    """RGB pixels of an Image or CompressedImage, and the encoding to publish an overlay in."""
    if msgtype == COMPRESSED:
        return decode_compressed(msg.format, msg.data), "rgb8"
    return (decode_image(msg.encoding, msg.height, msg.width, msg.step, bool(msg.is_bigendian),
                         msg.data), overlay_encoding(msg.encoding))


def _points_builder(segmenter: Segmenter, depth_slop: float, classes: str, stride: int,
                    max_range: float) -> PointsBuilder:
    """The node's points builder for the model's classes and palette; BagError for a value
    the node would refuse as its parameter (a class the model lacks, a slop out of range)."""
    for name, value in (("depth_slop", depth_slop), ("points_max_range", max_range)):
        if (refused := params.refuse_update(name, value)) is not None:
            raise BagError(refused)
    palette = segmenter.palette
    try:
        cfg = pointcloud.settings(palette.class_names, palette.colours, classes, stride,
                                  max_range)
    except ValueError as err:
        raise BagError(str(err)) from None
    return PointsBuilder(cfg, depth_slop)


def _check_points_topics(src: Path, topics: "dict[str, str]", image_topic: str,
                         depth_topic: str, info_topic: str) -> None:
    """BagError unless depth_topic carries images other than the frames, and info_topic
    CameraInfo."""
    _check_topic(src, topics, depth_topic, (IMAGE,), "an Image (a depth image registered to "
                 "the camera image: 16UC1 or 32FC1)")
    if depth_topic == image_topic:
        raise BagError(f"the depth topic {depth_topic} is the image topic; name the depth "
                       f"image registered to it (aligned_depth_to_color)")
    _check_topic(src, topics, info_topic, (CAMERA_INFO,), "a CameraInfo", "CameraInfo")


def _write_images(writer: Writer, out: "dict[str, Connection]", typestore: Any, header: Any,
                  timestamp: int, result: Any, overlay_as: str) -> None:
    """<prefix>/labels, /color and /overlay of a segmented frame, with the frame's header."""
    image_type = typestore.types[IMAGE]
    for name, array, enc in (("labels", result.labels, "mono8"),
                             ("color", result.color, "rgb8"),
                             ("overlay", result.overlay, overlay_as)):
        step, data = encode_image(array, enc)
        image = image_type(header=header, height=array.shape[0], width=array.shape[1],
                           encoding=enc, is_bigendian=0, step=step,
                           data=np.frombuffer(data, np.uint8))
        writer.write(out[name], timestamp, typestore.serialize_cdr(image, IMAGE))


def segment_bag(src: "str | Path", dst: "str | Path", image_topic: str, segmenter: Segmenter,
                overlay_alpha: float = 0.5, prefix: str = "/enet", progress: bool = True,
                depth_topic: "str | None" = None, camera_info_topic: "str | None" = None,
                depth_slop: float = DEPTH_SLOP, points_classes: str = "",
                points_stride: int = POINTS_STRIDE, points_max_range: float = POINTS_MAX_RANGE
                ) -> BagSummary:
    """Copy src to dst, adding <prefix>/labels, /color and /overlay for each image_topic frame,
    and <prefix>/points when depth_topic names a depth image registered to the frames.

    dst must not exist; it is written in src's storage format. Frames that cannot be decoded
    are skipped and counted (a bag with one corrupt frame is still worth segmenting). The
    points are the node's enet/points, its parameters depth_slop, points_classes (class names,
    comma-separated; empty: all), points_stride and points_max_range as keywords here, the
    intrinsics from camera_info_topic (default: camera_info beside image_topic); a frame
    without points is counted by the node's reason.
    """
    src, dst = Path(src), Path(dst)
    _check_is_bag(src)
    if dst.exists():
        raise BagError(f"output bag {dst} exists already; choose a new path")
    builder = None if depth_topic is None else _points_builder(
        segmenter, depth_slop, points_classes, points_stride, points_max_range)
    typestore = get_typestore(Stores.ROS2_JAZZY)
    summary = BagSummary()
    try:
        with Reader(src) as reader:
            topics = {c.topic: c.msgtype for c in reader.connections}
            _check_topic(src, topics, image_topic)
            names = IMAGE_OUTPUTS + (("points",) if builder is not None else ())
            if clash := {f"{prefix}/{name}" for name in names} & set(topics):
                raise BagError(f"bag {src} already has {', '.join(sorted(clash))}; choose "
                               f"another prefix")
            points = None
            if builder is not None:
                info_topic = camera_info_topic or camera_info_beside(image_topic)
                _check_points_topics(src, topics, image_topic, depth_topic, info_topic)
                points = _BagPoints(reader, typestore, image_topic, depth_topic, info_topic,
                                    builder, progress)
            total = sum(c.msgcount for c in reader.connections if c.topic == image_topic)
            writer = Writer(dst, version=Writer.VERSION_LATEST, storage_plugin=_storage_of(src))
            with writer, tqdm(total=total, unit="frame", disable=not progress,
                              desc=f"segmenting {image_topic}") as bar:
                added: "dict[tuple[str, str, str], Connection]" = {}
                out = {name: writer.add_connection(
                    f"{prefix}/{name}", POINT_CLOUD if name == "points" else IMAGE,
                    typestore=typestore) for name in names}

                def write_points(clouds: "list[tuple[int, bytes]]") -> None:
                    for stamp, cloud in clouds:
                        writer.write(out["points"], stamp, cloud)

                for conn, timestamp, raw in reader.messages():
                    writer.write(_copy_connection(writer, conn, added), timestamp, raw)
                    summary.messages += 1
                    if points is not None and conn.topic == depth_topic:
                        write_points(points.depth(typestore.deserialize_cdr(raw, conn.msgtype)))
                    if conn.topic != image_topic:
                        continue
                    bar.update()
                    msg = typestore.deserialize_cdr(raw, conn.msgtype)
                    try:
                        rgb, encoding = _decode(msg, conn.msgtype)
                    except ImageCodecError as err:
                        summary.skipped += 1
                        summary.first_skip_reason = summary.first_skip_reason or str(err)
                        if points is not None:
                            points.undecodable(msg.header)
                        continue
                    result = segmenter.segment(rgb, overlay_alpha=overlay_alpha)
                    summary.frames += 1
                    summary.class_pixels += np.bincount(result.labels.ravel(), minlength=256)
                    _write_images(writer, out, typestore, msg.header, timestamp, result,
                                  encoding)
                    if points is not None:
                        write_points(points.frame(msg.header, timestamp, result.labels))
                if points is not None:
                    write_points(points.finish())
                    points.report(summary)
    except (ReaderError, WriterError, SerdeError) as err:
        raise BagError(f"cannot segment bag {src} into {dst}: {err}") from None
    return summary


def bag_frames(src: "str | Path", image_topic: "str | None" = None) -> "Iterator[Frame | Unreadable]":
    """The frames of a bag's image topic (default: its first Image or CompressedImage topic) in
    recording order, as inputs.read_frames gives those of files: an Unreadable for each
    message that cannot be decoded."""
    src = Path(src)
    _check_is_bag(src)
    typestore = get_typestore(Stores.ROS2_JAZZY)
    try:
        with Reader(src) as reader:
            topics = {c.topic: c.msgtype for c in reader.connections}
            if image_topic is None:
                image_topic = next((t for t, kind in sorted(topics.items())
                                    if kind in (IMAGE, COMPRESSED)), None)
                if image_topic is None:
                    raise BagError(f"bag {src} has no Image or CompressedImage topic; it has: "
                                   f"{', '.join(sorted(topics)) or 'none'}")
            _check_topic(src, topics, image_topic)
            wanted = [c for c in reader.connections if c.topic == image_topic]
            for index, (conn, _, raw) in enumerate(reader.messages(connections=wanted)):
                try:
                    rgb = _decode(typestore.deserialize_cdr(raw, conn.msgtype), conn.msgtype)[0]
                except ImageCodecError as err:
                    yield Unreadable(src, f"{image_topic} message {index}: {err}")
                    continue
                yield Frame(src, index, rgb)
    except (ReaderError, SerdeError) as err:
        raise BagError(f"cannot read bag {src}: {err}") from None
