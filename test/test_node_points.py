"""segment_node's enet/points end to end, with real rclpy: this process publishes a colour
frame, a registered depth image of a known scene (a plane at 2.0 m, a box nearer) and
camera_info, and checks the cloud the node publishes against the pinhole model and against
the node's own enet/labels.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from _depth_scene import BOX_MM, K, P, cloud_points, expected_points, scene_mm
from _node_harness import NodeProcess, Probe, blocks_frame, raw_image, ros_env
from _runtime_fixtures import make_model_file

ROOT = Path(__file__).resolve().parents[1]
NS = "/pts_cam"
H, W = 48, 64
KEEP = (1, 3)                     # red, blue of the fixture model
STRIDE = 2
DEPTH_TOPIC = "/cam/aligned_depth"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """The node, remapped to the probe's camera and depth topics."""
    env = ros_env(tmp_path_factory.mktemp("ros_log"))
    model = make_model_file(tmp_path_factory.mktemp("model") / "tiny.onnx")
    proc = NodeProcess(["-p", f"model:={model}", "-r", f"__ns:={NS}",
                        "-p", "points_classes:=red, blue", "-p", f"points_stride:={STRIDE}",
                        "-p", "depth_slop:=0.004", "-r", "image:=/cam/image_raw",
                        "-r", "camera_info:=/cam/camera_info", "-r", f"depth:={DEPTH_TOPIC}"],
                       env, tmp_path_factory.mktemp("node") / "node.log")
    saved = {k: os.environ.get(k) for k in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOG_DIR")}
    os.environ.update({k: env[k] for k in saved})
    probe = None
    try:
        proc.wait_ready()
        probe = Probe(int(env["ROS_DOMAIN_ID"]), namespace=NS)
        probe.depth_pub = probe.node.create_publisher(
            Image, DEPTH_TOPIC, QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
        for key, msg_type in (("labels", Image), ("points", PointCloud2)):
            probe.listen(key, msg_type)
            probe.wait_subscribed(key)
        probe.wait_camera_matched(probe.image_pub)
        # the node subscribes to depth once it sees enet/points wanted, reliable like ours
        probe.wait_for(lambda: [s.qos_profile.reliability for s in
                                probe.node_subscriptions(DEPTH_TOPIC)]
                       == [ReliabilityPolicy.RELIABLE] and
                       probe.depth_pub.get_subscription_count() == 1, 15,
                       "the node's reliable depth subscription")
        probe.wait_matched(probe.info_pub)
        yield proc, probe
    finally:
        if probe is not None:
            probe.close()
        status = proc.stop(signal.SIGTERM)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert status == 0 and "Traceback" not in proc.log(), proc.log()


_last = [0]


def _stamp() -> tuple[int, int]:
    ns = max(time.time_ns(), _last[0] + 10_000_000)  # 10 ms apart: more than depth_slop
    _last[0] = ns
    return divmod(ns, 10**9)


def _depth_msg(stamp: tuple[int, int], depth: np.ndarray, encoding: str = "16UC1",
               step: int | None = None, data: bytes | None = None) -> Image:
    msg = Image(height=depth.shape[0], width=depth.shape[1], encoding=encoding,
                step=depth.strides[0] if step is None else step, is_bigendian=0)
    msg.data = depth.tobytes() if data is None else data
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    msg.header.frame_id = "depth_optical"
    return msg


def _send(probe: Probe, stamp: tuple[int, int], depth: Image | None, seed: int = 3) -> None:
    """camera_info (best effort on the node's side, so sent with every frame), the depth
    image, then the colour frame."""
    probe.info_pub.publish(CameraInfo(width=W, height=H, k=K, p=P))
    if depth is not None:
        probe.depth_pub.publish(depth)
    probe.image_pub.publish(raw_image(blocks_frame(H, W, seed=seed), "rgb8", stamp))


def _points_of(probe: Probe, depth_of: Callable[[tuple[int, int]], tuple], tries: int = 5
               ) -> tuple:
    """Send frames until one comes back as points (the first may beat camera_info to the
    node); (stamp, depth sent in metres, points message, labels message)."""
    for _ in range(tries):
        stamp = _stamp()
        msg, metres = depth_of(stamp)
        _send(probe, stamp, msg)
        labels = probe.frame("labels", stamp)
        try:
            return stamp, metres, probe.frame("points", stamp, timeout=3.0), labels
        except AssertionError:
            continue
    raise AssertionError("no enet/points came back")


@pytest.mark.parametrize("encoding", ["16UC1", "32FC1"])
def test_points_are_where_the_pinhole_model_puts_the_pixels(node, encoding):
    _, probe = node
    mm = scene_mm(H, W)
    if encoding == "16UC1":
        depth_of = lambda s: (_depth_msg(s, mm), mm / 1000.0)           # noqa: E731
    else:
        metres = (mm / 1000.0).astype(np.float32)
        metres[0, 0] = np.nan
        depth_of = lambda s: (_depth_msg(s, metres, "32FC1"), metres)   # noqa: E731
    stamp, metres, msg, labels_msg = _points_of(probe, depth_of)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == stamp
    assert msg.header.frame_id == "depth_optical"
    assert [(f.name, f.offset, f.datatype) for f in msg.fields] == [
        ("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("rgb", 12, 7), ("label", 16, 2)]
    labels = np.frombuffer(labels_msg.data, np.uint8).reshape(H, W)
    xyz, kept = expected_points(metres, labels, STRIDE, KEEP)
    cloud = cloud_points(msg)
    assert len(cloud) == len(xyz) and set(kept) == set(KEEP)      # both classes present
    got = np.stack([cloud[k] for k in "xyz"], axis=1).astype(np.float64)
    np.testing.assert_allclose(got, xyz, rtol=0, atol=1e-3)       # to 1 mm (in fact to 1e-6)
    np.testing.assert_allclose(got, xyz, rtol=0, atol=1e-6)
    assert np.float32(BOX_MM / 1000) in cloud["z"]
    np.testing.assert_array_equal(cloud["label"], kept)
    np.testing.assert_array_equal(cloud["rgb"].view(np.uint32),
                                  np.where(kept == 1, 0xFF0000, 0x0000FF))  # red, blue
    diagnostics = probe.fresh_diagnostics(lambda d: int(d["points: frames published"]) >= 1)
    assert int(diagnostics["points: frames published"]) >= 1


def test_malformed_or_missing_depth_is_skipped_counted_and_the_node_lives(node):
    proc, probe = node
    _points_of(probe, lambda s: (_depth_msg(s, scene_mm(H, W)), None))  # camera_info is in
    before = probe.fresh_diagnostics(lambda d: True)
    mm = scene_mm(H, W)
    bad = [
        lambda s: _depth_msg(s, mm, encoding="mono16"),
        lambda s: _depth_msg(s, mm, step=2 * W - 2),                    # step < width x 2
        lambda s: _depth_msg(s, mm, data=mm.tobytes()[:-2]),            # size
        lambda s: _depth_msg(s, np.zeros((H, W), np.uint16)),           # no depth at all
    ]
    stamps = [_stamp() for _ in range(len(bad) + 1)]
    for stamp, make in zip(stamps, bad + [lambda s: None]):             # the last: no depth
        _send(probe, stamp, make(stamp))
        probe.frame("labels", stamp)   # segmented all the same (one at a time: no frame queue)
    missing = stamps[-1]
    stamps = stamps[:-1]
    after = probe.fresh_diagnostics(
        lambda d: int(d["points: frames bad depth"]) - int(before["points: frames bad depth"])
        >= 4 and int(d["points: frames no depth"]) > int(before["points: frames no depth"]))
    assert int(after["points: frames bad depth"]) - int(before["points: frames bad depth"]) == 4
    sent = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in probe.messages("points")}
    assert not sent & set(stamps + [missing])
    _points_of(probe, lambda s: (_depth_msg(s, mm), None), tries=2)     # and it goes on
    assert proc.proc.poll() is None
    assert "enet/points: skipping a frame: malformed depth image" in proc.log()
