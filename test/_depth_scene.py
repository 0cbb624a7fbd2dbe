"""A known depth scene for the point cloud tests: a plane at 2.0 m and a box nearer.

Depth is written in millimetres (16UC1) or metres (32FC1), registered to a camera frame of
the same size; ``expected_points`` is the pinhole model evaluated independently in float64.
"""
from __future__ import annotations

import numpy as np

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
