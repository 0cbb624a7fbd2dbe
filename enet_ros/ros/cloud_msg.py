"""sensor_msgs/PointCloud2 messages of labelled points (enet_ros.pointcloud's layout).

Built with ``sensor_msgs_py.point_cloud2.create_cloud`` where it is importable (every ROS 2
installation has it; PyPI does not), otherwise from ``pointcloud.cloud_fields`` with numpy
alone: the same bytes either way (test/test_pointcloud.py checks both with the sensor_msgs_py
of Foxy, Humble, Jazzy and Rolling). Needs the sensor_msgs messages, not rclpy.
"""
import array
from typing import Any, List

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField

from enet_ros import pointcloud

try:
    from sensor_msgs_py import point_cloud2
except ImportError:  # rclpy from PyPI: no sensor_msgs_py
    point_cloud2 = None

BUILDERS = ("sensor_msgs_py", "numpy")
BUILDER = "sensor_msgs_py" if point_cloud2 is not None else "numpy"


def point_fields() -> "List[PointField]":
    return [PointField(name=name, offset=offset, datatype=datatype, count=count)
            for name, offset, datatype, count in pointcloud.FIELDS]


def to_msg(header: Any, points: np.ndarray, builder: str = BUILDER) -> PointCloud2:
    """A PointCloud2 of ``points`` (POINT_DTYPE) with ``header`` (std_msgs/Header)."""
    if builder == "sensor_msgs_py":
        if point_cloud2 is None:
            raise ImportError("sensor_msgs_py is not installed")
        return point_cloud2.create_cloud(header, point_fields(), points)
    plain = pointcloud.cloud_fields(points)
    msg = PointCloud2(header=header, height=plain.height, width=plain.width,
                      fields=point_fields(), is_bigendian=plain.is_bigendian,
                      point_step=plain.point_step, row_step=plain.row_step,
                      is_dense=plain.is_dense)
    data = array.array("B")
    data.frombytes(plain.data)  # one copy, and array.array is the fast path into uint8[]
    msg.data = data
    return msg
