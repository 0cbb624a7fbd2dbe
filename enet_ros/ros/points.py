"""The node's ``enet/points``: depth pairing, projection and the counts, without rclpy.

The node hands depth images over as plain fields from its subscription callback and asks,
for each segmented frame, for the labelled points; everything that can go wrong (no depth image
for the frame, no camera_info, a malformed depth image) is counted here, reported in
diagnostics, and answered with the reason instead of points, so the node skips the frame.
``enet-ros bag`` pairs a recording's depth images itself and uses ``PointsBuilder`` alone: the
same points and the same reasons.
"""
from typing import Any, Dict, NamedTuple, Optional

import numpy as np

from enet_ros import pointcloud
from enet_ros.depth_pairing import DepthPairer
from enet_ros.ros import camera_info as caminfo

# The longest a segmented frame waits for its depth image (published after it by drivers that
# register depth to colour); a frame whose depth is later than this is counted without depth.
DEPTH_WAIT_S = 0.2


class DepthFrame(NamedTuple):
    """The fields of a sensor_msgs/Image depth message that the points need."""

    frame_id: str
    encoding: str
    height: int
    width: int
    step: int
    is_bigendian: bool
    data: Any  # bytes-like


class PointsResult(NamedTuple):
    """Points of POINT_DTYPE and the depth image's frame, or None and why not: the problem,
    and the reason it is counted under (no depth, no camera_info, bad depth)."""

    points: "Optional[np.ndarray]"
    frame_id: str = ""
    problem: str = ""
    reason: str = ""


def depth_frame(msg: Any) -> DepthFrame:
    """The DepthFrame of a sensor_msgs/Image (read by attribute: rclpy's or rosbags')."""
    return DepthFrame(msg.header.frame_id, msg.encoding, msg.height, msg.width, msg.step,
                      bool(msg.is_bigendian), msg.data)


class PointsBuilder:
    """Turns a frame's labels, its depth image and the camera's intrinsics into labelled
    points, counting each frame as published or by the reason it has none."""

    def __init__(self, cfg: pointcloud.CloudSettings, slop_s: float) -> None:
        self._cfg = cfg
        self.slop_ns = int(round(slop_s * 1e9))
        self._counts = {"published": 0, "no depth": 0, "no camera_info": 0, "bad depth": 0}

    def build(self, depth: "Optional[DepthFrame]", labels: np.ndarray,
              info: "Optional[caminfo.Intrinsics]") -> PointsResult:
        """The points of a frame whose labels (uint8 HxW) are given, from the depth image
        paired with it (None: none within the slop) and ``info`` (the camera's intrinsics;
        None: none known); counted either way."""
        if info is None:
            return self._skip("no camera_info", "no camera_info received yet")
        if depth is None:
            return self._skip("no depth", f"no depth image within {self.slop_ns * 1e-9:g} s "
                                          f"of the frame's stamp")
        try:
            samples = pointcloud.decode_depth(depth.encoding, depth.height, depth.width,
                                              depth.step, depth.is_bigendian, depth.data)
            camera = pointcloud.pinhole(info, depth.width, depth.height)
            points = pointcloud.labelled_points(
                samples, pointcloud.DEPTH_ENCODINGS[depth.encoding][1], labels, camera, self._cfg)
        except pointcloud.DepthError as err:
            return self._skip("bad depth", f"malformed depth image: {err}")
        except ValueError as err:  # from pinhole: P without focal lengths, no size
            return self._skip("no camera_info", f"unusable camera_info: {err}")
        self._counts["published"] += 1
        return PointsResult(points, depth.frame_id)

    def _skip(self, counter: str, problem: str) -> PointsResult:
        self._counts[counter] += 1
        return PointsResult(None, problem=problem, reason=counter)

    def counts(self) -> "Dict[str, int]":
        """Frames published, and frames without points by reason: no depth, no camera_info,
        bad depth."""
        return dict(self._counts)

    def diagnostics(self) -> "Dict[str, str]":
        """Key/values for the node's diagnostics status."""
        return {f"points: frames {name}": str(n) for name, n in self.counts().items()}


class PointsOutput(PointsBuilder):
    """Pairs depth images with segmented frames and turns the pair into labelled points."""

    def __init__(self, cfg: pointcloud.CloudSettings, slop_s: float,
                 wait_s: float = DEPTH_WAIT_S) -> None:
        super().__init__(cfg, slop_s)
        self._wait_s = wait_s
        self._depths = DepthPairer()

    def add_depth(self, stamp_ns: int, depth: DepthFrame) -> None:
        """Keep a depth image until a frame takes it (subscription callback; cheap)."""
        self._depths.put(stamp_ns, depth)

    def make(self, stamp_ns: int, labels: np.ndarray,
             info: "Optional[caminfo.Intrinsics]") -> PointsResult:
        """The points of the frame stamped ``stamp_ns`` whose labels (uint8 HxW) are given,
        from its depth image and ``info`` (the camera's intrinsics); counted either way."""
        depth = None if info is None else self._depths.take(stamp_ns, self.slop_ns,
                                                             self._wait_s)
        return self.build(depth, labels, info)
