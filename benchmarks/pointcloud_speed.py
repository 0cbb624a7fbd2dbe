"""What enet/points costs a frame: depth decoding, projection and the PointCloud2 message.

For each size and stride, what the node's worker does a frame: PointsOutput.make (pair, decode
the 16UC1 depth, pinhole projection, labels, filter; the depth image already waiting), then the
PointCloud2 message as the node builds it (numpy alone), and, interleaved, with sensor_msgs_py's
create_cloud instead (when it is importable: put a branch of ../shared/ros2-python on
PYTHONPATH), the same bytes, which the node once used. The scene: a
plane at 2 m with a nearer box, a hole of no depth, every class kept. Medians in milliseconds.

    PYTHONPATH=../shared/ros2-python/jazzy/sensor_msgs_py python benchmarks/pointcloud_speed.py
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, Dict, List

import numpy as np
from std_msgs.msg import Header

from enet_ros import pointcloud
from enet_ros.ros import camera_info as caminfo
from enet_ros.ros import cloud_msg
from enet_ros.ros.points import DepthFrame, PointsOutput

try:
    from sensor_msgs_py import point_cloud2
except ImportError:
    point_cloud2 = None

SIZES = ((640, 360), (1280, 720))
CLASSES = tuple(f"class{i}" for i in range(12))
COLOURS = np.random.default_rng(0).integers(0, 256, (12, 3)).astype(np.uint8)


def _medians_ms(steps: Dict[str, Callable[[], object]], runs: int) -> Dict[str, float]:
    """Each step timed ``runs`` times, interleaved (so a busy moment hits them all alike) in
    an order rotated every run: the step after another pays for the pages it freed (fresh
    pages fault on first touch, milliseconds for a large cloud on a busy VM)."""
    times: Dict[str, List[float]] = {name: [] for name in steps}
    names = list(steps)
    for run in range(runs):
        for name in names[run % len(names):] + names[:run % len(names)]:
            start = time.perf_counter()
            steps[name]()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def _scene(width: int, height: int) -> tuple[DepthFrame, np.ndarray, caminfo.Intrinsics]:
    depth = np.full((height, width), 2000, np.uint16)
    depth[height // 4:height // 2, width // 4:width // 2] = 1200
    depth[:height // 10, :width // 10] = 0
    labels = np.random.default_rng(1).integers(0, 12, (height, width)).astype(np.uint8)
    f = 0.8 * width
    info = caminfo.Intrinsics(width, height, (f, 0.0, width / 2, 0.0, f, height / 2, 0, 0, 1),
                              (f, 0.0, width / 2, 0.0, 0.0, f, height / 2, 0.0, 0, 0, 1, 0))
    frame = DepthFrame("depth", "16UC1", height, width, width * 2, False, depth.tobytes())
    return frame, labels, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each step")
    args = parser.parse_args()
    print(f"sensor_msgs_py: {point_cloud2.__file__ if point_cloud2 else 'absent'}")
    print("| size | stride | points | numpy (ms) | sensor_msgs_py (ms) |")
    print("|---|---|---|---|---|")
    for width, height in SIZES:
        frame, labels, info = _scene(width, height)
        for stride in (1, 2):
            out = PointsOutput(pointcloud.settings(CLASSES, COLOURS, stride=stride), 0.0, 0.0)
            out.add_depth(1, frame)
            points = out.make(1, labels, info).points
            steps = {"numpy": lambda: cloud_msg.to_msg(Header(), out.make(1, labels, info).points)}
            if point_cloud2 is not None:
                steps["sensor_msgs_py"] = lambda: point_cloud2.create_cloud(
                    Header(), cloud_msg.point_fields(), out.make(1, labels, info).points)
            ms = _medians_ms(steps, args.runs)
            smp = f"{ms['sensor_msgs_py']:.1f}" if "sensor_msgs_py" in ms else "n/a"
            print(f"| {width}x{height} | {stride} | {len(points)} | {ms['numpy']:.1f} | {smp} |")


if __name__ == "__main__":
    main()
