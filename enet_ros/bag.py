"""Segment the camera frames of a recorded rosbag2 (sqlite3 or MCAP) into a new bag.

The new bag holds every original message byte for byte, plus labels (mono8), colour (rgb8) and
overlay images for each frame of the image topic, stamped with that frame's header and
receive time, so it replays in rviz or feeds an evaluation exactly like the live node's output.
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

from enet_ros.image_codec import (ImageCodecError, decode_compressed, decode_image,
                                  encode_image, overlay_encoding)
from enet_ros.inputs import BagError, Frame, Unreadable, is_bag
from enet_ros.segmenter import Segmenter

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
BAG_FILE_SUFFIXES = (".mcap", ".db3")


@dataclass
class BagSummary:
    """What segment_bag did: messages copied, frames segmented, frames it could not decode."""

    messages: int = 0
    frames: int = 0
    skipped: int = 0
    first_skip_reason: str = ""
    class_pixels: np.ndarray = field(default_factory=lambda: np.zeros(256, np.int64))


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


def _check_image_topic(src: Path, topics: "dict[str, str]", topic: str) -> None:
    """BagError unless the bag has ``topic`` and it carries images."""
    if topic not in topics:
        images = sorted(t for t, kind in topics.items() if kind in (IMAGE, COMPRESSED))
        raise BagError(f"bag {src} has no topic {topic!r}; its image topics: "
                       f"{', '.join(images) or 'none'} (all: {', '.join(sorted(topics))})")
    if topics[topic] not in (IMAGE, COMPRESSED):
        raise BagError(f"{topic} carries {topics[topic]}, not an Image or CompressedImage")


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


def segment_bag(src: "str | Path", dst: "str | Path", image_topic: str, segmenter: Segmenter,
                overlay_alpha: float = 0.5, prefix: str = "/enet", progress: bool = True
                ) -> BagSummary:
    """Copy src to dst, adding <prefix>/labels, /color and /overlay for each image_topic frame.

    dst must not exist; it is written in src's storage format. Frames that cannot be decoded
    are skipped and counted (a bag with one corrupt frame is still worth segmenting).
    """
    src, dst = Path(src), Path(dst)
    _check_is_bag(src)
    if dst.exists():
        raise BagError(f"output bag {dst} exists already; choose a new path")
    typestore = get_typestore(Stores.ROS2_JAZZY)
    image_type = typestore.types[IMAGE]
    summary = BagSummary()
    try:
        with Reader(src) as reader:
            topics = {c.topic: c.msgtype for c in reader.connections}
            _check_image_topic(src, topics, image_topic)
            outputs = {f"{prefix}/{name}" for name in ("labels", "color", "overlay")}
            if clash := outputs & set(topics):
                raise BagError(f"bag {src} already has {', '.join(sorted(clash))}; choose "
                               f"another prefix")
            total = sum(c.msgcount for c in reader.connections if c.topic == image_topic)
            writer = Writer(dst, version=Writer.VERSION_LATEST, storage_plugin=_storage_of(src))
            with writer, tqdm(total=total, unit="frame", disable=not progress,
                              desc=f"segmenting {image_topic}") as bar:
                added: "dict[tuple[str, str, str], Connection]" = {}
                out = {name: writer.add_connection(f"{prefix}/{name}", IMAGE,
                                                   typestore=typestore)
                       for name in ("labels", "color", "overlay")}
                for conn, timestamp, raw in reader.messages():
                    writer.write(_copy_connection(writer, conn, added), timestamp, raw)
                    summary.messages += 1
                    if conn.topic != image_topic:
                        continue
                    bar.update()
                    msg = typestore.deserialize_cdr(raw, conn.msgtype)
                    try:
                        rgb, encoding = _decode(msg, conn.msgtype)
                    except ImageCodecError as err:
                        summary.skipped += 1
                        summary.first_skip_reason = summary.first_skip_reason or str(err)
                        continue
                    result = segmenter.segment(rgb, overlay_alpha=overlay_alpha)
                    summary.frames += 1
                    summary.class_pixels += np.bincount(result.labels.ravel(), minlength=256)
                    for name, array, enc in (("labels", result.labels, "mono8"),
                                             ("color", result.color, "rgb8"),
                                             ("overlay", result.overlay, encoding)):
                        step, data = encode_image(array, enc)
                        image = image_type(header=msg.header, height=array.shape[0],
                                           width=array.shape[1], encoding=enc, is_bigendian=0,
                                           step=step, data=np.frombuffer(data, np.uint8))
                        writer.write(out[name], timestamp,
                                     typestore.serialize_cdr(image, IMAGE))
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
            _check_image_topic(src, topics, image_topic)
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
