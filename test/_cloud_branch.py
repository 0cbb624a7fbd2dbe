"""Run in a subprocess with one distribution's sensor_msgs_py on PYTHONPATH (test_pointcloud):
builds the known scene's cloud with its create_cloud and with enet_ros (numpy alone), and prints,
as JSON, which sensor_msgs_py was used, whether the two messages are equal field by field, and
the points as that sensor_msgs_py's own read_points reads enet_ros's message back."""
from __future__ import annotations

import json
import sys

import numpy as np
from sensor_msgs_py import point_cloud2
from std_msgs.msg import Header

from _depth_scene import K, P, scene_mm
from enet_ros import pointcloud
from enet_ros.ros import camera_info as caminfo
from enet_ros.ros import cloud_msg


def main() -> None:
    depth = scene_mm()
    labels = (np.arange(depth.size).reshape(depth.shape) // 7 % 4).astype(np.uint8)
    cfg = pointcloud.settings(["dark", "red", "green", "blue"],
                              np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [1, 2, 3]]),
                              "red,blue", stride=2)
    camera = pointcloud.pinhole(caminfo.Intrinsics(64, 48, K, P), 64, 48)
    points = pointcloud.labelled_points(depth, 0.001, labels, camera, cfg)
    header = Header(frame_id="depth_optical")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    built = point_cloud2.create_cloud(header, cloud_msg.point_fields(), points)
    ours = cloud_msg.to_msg(header, points)
    read = [[float(v) for v in p[:3]] + [np.float32(p[3]).view(np.uint32).item(), int(p[4])]
            for p in map(tuple, point_cloud2.read_points(ours))]
    json.dump({"module": point_cloud2.__file__, "equal": built == ours,
               "data_equal": bytes(built.data) == bytes(ours.data), "points": read}, sys.stdout)


if __name__ == "__main__":
    main()
