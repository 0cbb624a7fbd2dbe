"""Small rosbag2 files for the bag tool's tests, written with rosbags."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from enet_ros.image_codec import encode_image

TYPESTORE = get_typestore(Stores.ROS2_JAZZY)


def header(seconds: int, frame_id: str = "camera") -> object:
    time = TYPESTORE.types["builtin_interfaces/msg/Time"](sec=seconds, nanosec=7)
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
