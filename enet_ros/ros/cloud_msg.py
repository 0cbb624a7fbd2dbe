"""sensor_msgs/PointCloud2 messages of labelled points (enet_ros.pointcloud's layout).

Built from ``pointcloud.cloud_fields`` with numpy alone on every distribution: the same
message, byte for byte, as ``sensor_msgs_py.point_cloud2.create_cloud`` of Foxy, Humble, Jazzy
and Rolling builds (test/test_pointcloud.py checks each), without its per-point packing, which
Foxy's does in Python (1.8 s for a 640x360 depth image against 34 ms:
benchmarks/pointcloud_speed.py). Needs the sensor_msgs messages, not rclpy.
"""
import array
from typing import Any, List

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField

from enet_ros import pointcloud


def point_fields() -> "List[PointField]":
    return [PointField(name=name, offset=offset, datatype=datatype, count=count)
            for name, offset, datatype, count in pointcloud.FIELDS]


def to_msg(header: Any, points: np.ndarray) -> PointCloud2:
    """A PointCloud2 of ``points`` (POINT_DTYPE) with ``header`` (std_msgs/Header)."""
    plain = pointcloud.cloud_fields(points)
    msg = PointCloud2(header=header, height=plain.height, width=plain.width,
                      fields=point_fields(), is_bigendian=plain.is_bigendian,
                      point_step=plain.point_step, row_step=plain.row_step,
                      is_dense=plain.is_dense)
    data = array.array("B")
    data.frombytes(plain.data)  # one copy, and array.array is the fast path into uint8[]
    msg.data = data
    return msg
