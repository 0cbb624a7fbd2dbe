"""A known depth scene for the point cloud tests: a plane at 2.0 m and a box nearer.

Depth is written in millimetres (16UC1) or metres (32FC1), registered to a camera frame of
the same size; ``expected_points`` is the pinhole model evaluated independently in float64,
``cloud_points`` reads a PointCloud2 (rclpy's or rosbags') by its own fields.
"""
from __future__ import annotations

import numpy as np

# sensor_msgs/PointField datatypes -> numpy, to read a cloud independently of the code writing it
DTYPES = {2: "u1", 7: "<f4"}
PLANE_MM, BOX_MM = 2000, 1200
FX, FY, CX, CY = 60.0, 58.0, 31.5, 23.0   # the camera_info's P (and K) at 64x48
K = (FX, 0.0, CX, 0.0, FY, CY, 0.0, 0.0, 1.0)
P = (FX, 0.0, CX, 0.0, 0.0, FY, CY, 0.0, 0.0, 0.0, 1.0, 0.0)


def scene_mm(height: int = 48, width: int = 64) -> np.ndarray:
    """uint16 millimetres: the plane, a box over rows 1/4..1/2 and columns 1/4..5/8, and a
    hole (zero: no reading) in the top-left corner."""
    depth = np.full((height, width), PLANE_MM, np.uint16)
    depth[height // 4:height // 2, width // 4:5 * width // 8] = BOX_MM
    depth[:2, :3] = 0
    return depth


def expected_points(depth_m: np.ndarray, labels: np.ndarray, stride: int = 1,
                    keep: tuple[int, ...] | None = None, max_range: float = 0.0,
                    fx: float = FX, fy: float = FY, cx: float = CX, cy: float = CY
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(N x 3 float64 metres, N labels) row by row: labels at the depth image's size."""
    xyz, kept = [], []
    for v in range(0, depth_m.shape[0], stride):
        for u in range(0, depth_m.shape[1], stride):
            z = float(depth_m[v, u])
            label = int(labels[v, u])
            if not (np.isfinite(z) and z > 0) or (max_range and z > max_range):
                continue
            if keep is not None and label not in keep:
                continue
            xyz.append(((u - cx) * z / fx, (v - cy) * z / fy, z))
            kept.append(label)
    return np.array(xyz, np.float64).reshape(-1, 3), np.array(kept, np.uint8)


def cloud_points(msg: object) -> np.ndarray:
    """The points of a sensor_msgs/PointCloud2 as a structured array named by its fields."""
    dtype = np.dtype({"names": [f.name for f in msg.fields],
                      "formats": [DTYPES[f.datatype] for f in msg.fields],
                      "offsets": [f.offset for f in msg.fields], "itemsize": msg.point_step})
    return np.frombuffer(bytes(msg.data), dtype, count=msg.width * msg.height)
