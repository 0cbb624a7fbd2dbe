"""Small rosbag2 files for the bag tool's tests, written with rosbags: frames and chatter
(``write_bag``), and a colour camera with registered depth and camera_info
(``write_points_bag``, the known scene of _depth_scene)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from enet_ros.image_codec import encode_image

TYPESTORE = get_typestore(Stores.ROS2_JAZZY)


def header(seconds: int, frame_id: str = "camera", nanosec: int = 7) -> object:
    time = TYPESTORE.types["builtin_interfaces/msg/Time"](sec=seconds, nanosec=nanosec)
    return TYPESTORE.types["std_msgs/msg/Header"](stamp=time, frame_id=frame_id)


def write_bag(path: Path, storage: StoragePlugin, frames: list[np.ndarray],
              compressed: bool = False) -> list[bytes]:
    """A bag with the frames on /camera/image_raw (bgr8 or png) and chatter; returns the raw
    serialized messages in write order."""
    raws = []
    image_type = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
    with Writer(path, version=Writer.VERSION_LATEST, storage_plugin=storage) as writer:
        camera = writer.add_connection("/camera/image_raw", image_type, typestore=TYPESTORE)
        chatter = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=TYPESTORE)
        for index, rgb in enumerate(frames):
            if compressed:
                png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1]
                msg = TYPESTORE.types[image_type](header=header(index), format="png",
                                                  data=png.reshape(-1))
            else:
                step, data = encode_image(rgb, "bgr8")
                msg = TYPESTORE.types[image_type](
                    header=header(index), height=rgb.shape[0], width=rgb.shape[1],
                    encoding="bgr8", is_bigendian=0, step=step,
                    data=np.frombuffer(data, np.uint8))
            raw = TYPESTORE.serialize_cdr(msg, image_type)
            writer.write(camera, 1000 + index, raw)
            text = TYPESTORE.serialize_cdr(TYPESTORE.types["std_msgs/msg/String"](
                data=f"hello {index}"), "std_msgs/msg/String")
            writer.write(chatter, 1000 + index, text)
            raws += [bytes(raw), bytes(text)]
    return raws


# The topics of a camera with depth registered to colour (RealSense's names).
COLOR, DEPTH, INFO = ("/camera/color/image_raw", "/camera/aligned_depth_to_color/image_raw",
                      "/camera/color/camera_info")
DEPTH_FRAME = "camera_depth_optical_frame"
FX_LATER = 70.0           # fx of the second camera_info (the first has _depth_scene's)
STAMP_S, STEP_NS, BASE_NS = 100, 100_000_000, 10**9  # frame i: stamp 100 s + i x 0.1 s


def image_msg(stamp_ns: int, array: np.ndarray, encoding: str, frame_id: str,
              step: int | None = None, data: bytes | None = None) -> object:
    """A sensor_msgs/Image of the array's bytes (or ``data``) as they are."""
    return TYPESTORE.types["sensor_msgs/msg/Image"](
        header=header(stamp_ns // 10**9, frame_id, stamp_ns % 10**9),
        height=array.shape[0], width=array.shape[1], encoding=encoding, is_bigendian=0,
        step=array.strides[0] if step is None else step,
        data=np.frombuffer(array.tobytes() if data is None else data, np.uint8))


def camera_info_msg(stamp_ns: int, k: tuple, p: tuple, width: int = 64,
                    height: int = 48) -> object:
    types = TYPESTORE.types
    return types["sensor_msgs/msg/CameraInfo"](
        header=header(stamp_ns // 10**9, "camera_color_optical_frame", stamp_ns % 10**9),
        height=height, width=width, distortion_model="plumb_bob", d=np.zeros(5),
        k=np.array(k), r=np.eye(3).ravel(), p=np.array(p), binning_x=0, binning_y=0,
        roi=types["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0,
                                                     width=0, do_rectify=False))


def write_messages(path: Path, storage: StoragePlugin,
                   messages: list[tuple[str, int, object]]) -> list[tuple[str, int, bytes]]:
    """A bag of (topic, bag timestamp, message), written in the order given (a bag sorts by
    timestamp); returns (topic, timestamp, serialized bytes) of each."""
    written = []
    with Writer(path, version=Writer.VERSION_LATEST, storage_plugin=storage) as writer:
        connections: dict[str, object] = {}
        for topic, timestamp, msg in messages:
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msg.__msgtype__,
                                                           typestore=TYPESTORE)
            raw = TYPESTORE.serialize_cdr(msg, msg.__msgtype__)
            writer.write(connections[topic], timestamp, raw)
            written.append((topic, timestamp, bytes(raw)))
    return written


def write_points_bag(path: Path, storage: StoragePlugin = StoragePlugin.SQLITE3
                     ) -> list[tuple[str, int, bytes]]:
    """Six rgb8 frames (blocks of the fixture model's classes, 64x48) on COLOR, the
    _depth_scene on DEPTH and camera_info on INFO; frame i is stamped frame_stamp(i) and
    recorded at BASE_NS + i x STEP_NS. Frame 0: 16UC1 depth of its stamp, recorded before it;
    frame 1: 32FC1 depth of its stamp (NaN in a corner), recorded after frame 2; frame 2:
    16UC1 depth stamped 3 ms later (paired with a slop of 3 ms or more); frame 3: none; frame
    4: mono16 depth (bad); frame 5: all-zero depth (bad). camera_info: _depth_scene's
    intrinsics stamped as frame 0, recorded after it; fx FX_LATER stamped as frame 1,
    recorded last (the nearer for frames 1 and 2). Returns what write_messages does."""
    from _depth_scene import K, P, scene_mm
    from _runtime_fixtures import blocks_frame

    mm = scene_mm()
    metres = (mm / 1000.0).astype(np.float32)
    metres[0, 0] = np.nan
    later = (FX_LATER,) + P[1:]
    messages = [(COLOR, frame_time(i), image_msg(frame_stamp(i), blocks_frame(seed=i), "rgb8",
                                                 "camera_color_optical_frame"))
                for i in range(6)]
    messages[0:0] = [(DEPTH, frame_time(0) - 1, image_msg(frame_stamp(0), mm, "16UC1",
                                                           DEPTH_FRAME))]
    messages += [
        (INFO, frame_time(0) + 1, camera_info_msg(frame_stamp(0), K, P)),
        (DEPTH, frame_time(2) + 5, image_msg(frame_stamp(1), metres, "32FC1", DEPTH_FRAME)),
        (DEPTH, frame_time(2) + 6, image_msg(frame_stamp(2) + 3_000_000, mm, "16UC1",
                                             DEPTH_FRAME)),
        (DEPTH, frame_time(4) + 1, image_msg(frame_stamp(4), mm, "mono16", DEPTH_FRAME)),
        (DEPTH, frame_time(5) + 1, image_msg(frame_stamp(5), np.zeros_like(mm), "16UC1",
                                             DEPTH_FRAME)),
        (INFO, frame_time(5) + 2, camera_info_msg(frame_stamp(1), (FX_LATER,) + K[1:], later)),
    ]
    return write_messages(path, storage, messages)


def frame_stamp(index: int) -> int:
    """Header stamp (ns) of frame ``index`` of write_points_bag."""
    return STAMP_S * 10**9 + index * STEP_NS


def frame_time(index: int) -> int:
    """Bag timestamp (ns) of frame ``index`` of write_points_bag."""
    return BASE_NS + index * STEP_NS
