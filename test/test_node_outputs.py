"""What robot stacks consume from segment_node, with real rclpy in a separate process: the class
mask and the confidence image of the shipped model, the class parameters, the LabelInfo
fallback, and the lifecycle variant driven through its real lifecycle services.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from sensor_msgs.msg import Image

from _node_harness import NodeProcess, Probe, blocks_frame, node_command, probe_environment
from _runtime_fixtures import make_model_file
from enet_ros.ros import label_info

ROOT = Path(__file__).resolve().parents[1]
NODE = "/enet_segment"
CAMVID = ("Sky", "Building", "Pole", "Road", "Sidewalk", "Tree", "SignSymbol", "Fence", "Car",
          "Pedestrian", "Bicyclist")


@pytest.fixture
def env(tmp_path):
    """ROS environment for the node and the probe."""
    with probe_environment(tmp_path / "ros_log") as env:
        yield env


def _pixels(msg: Image) -> np.ndarray:
    assert msg.encoding == "mono8" and msg.step == msg.width
    return np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width)


def test_mask_and_confidence_of_the_shipped_model(env, tmp_path):
    """segment_node --ros-args -p mask_classes:=Road,Sidewalk: enet/mask is 255 exactly where
    enet/labels of the same frame is Road or Sidewalk; enet/confidence is mono8 with the same
    header and size; the classes are read-only parameters; no vision_msgs: one log line."""
    node = NodeProcess(["-p", "mask_classes:=Road,Sidewalk", "-r", "image:=/cam/image_raw"],
                       env, tmp_path / "node.log")
    probe = None
    try:
        node.wait_ready(timeout=120)
        probe = Probe(int(env["ROS_DOMAIN_ID"]))
        for key in ("labels", "mask", "confidence"):
            probe.listen(key, Image)
            probe.wait_subscribed(key)
        probe.wait_camera_matched(probe.image_pub)
        rgb = cv2.cvtColor(cv2.imread(str(ROOT / "samples" / "route66.jpg")), cv2.COLOR_BGR2RGB)
        stamp = (int(time.time()), 12345)
        probe.publish_image(rgb, "rgb8", stamp, frame_id="cam_optical")
        labels, mask, confidence = (probe.frame(k, stamp, timeout=60)
                                    for k in ("labels", "mask", "confidence"))
        for msg in (mask, confidence):
            assert msg.header == labels.header and msg.header.frame_id == "cam_optical"
            assert (msg.height, msg.width) == (labels.height, labels.width) == rgb.shape[:2]
        ids = _pixels(labels)
        road_or_sidewalk = np.isin(ids, (CAMVID.index("Road"), CAMVID.index("Sidewalk")))
        assert 0.05 < road_or_sidewalk.mean() < 0.95  # the street scene has both kinds
        np.testing.assert_array_equal(_pixels(mask), np.where(road_or_sidewalk, 255, 0))
        certainty = _pixels(confidence)
        assert certainty.min() >= 255 // len(CAMVID) and len(np.unique(certainty)) > 50
        assert probe.get_parameter(NODE, "class_names") == list(CAMVID)
        assert list(probe.get_parameter(NODE, "class_ids")) == list(range(len(CAMVID)))
        refused = probe.set_parameter(NODE, "class_ids", [0, 1])
        assert not refused.successful
        assert node.log().count(label_info.UNAVAILABLE) == 1
    finally:
        if probe is not None:
            probe.close()
        assert node.stop(signal.SIGTERM) == 0 and "Traceback" not in node.log(), node.log()


def test_an_unknown_mask_class_stops_the_node_naming_the_classes(env, tmp_path):
    node = NodeProcess(["-p", "mask_classes:=Road,Grass"], env, tmp_path / "node.log")
    assert node.proc.wait(120) == 1
    assert "cannot start: mask_classes names Grass, which the model lacks; its classes are " \
           "Sky, Building" in node.log()
    node.stop()


def _lifecycle_command() -> list[str]:
    command = node_command()
    if command[-1].endswith("segment_node"):  # the installed executable: its sibling
        return [str(Path(command[-1]).with_name("segment_lifecycle_node"))]
    return [*command[:-1], "-c", "from enet_ros.ros.segment_node import lifecycle_main; "
                                 "import sys; sys.exit(lifecycle_main())"]


def test_lifecycle_node_works_only_while_active_and_releases_its_engine(env, tmp_path):
    """configure -> activate -> deactivate -> cleanup -> configure -> activate through the
    real lifecycle services; labels flow only while active; a model without confidence has no
    enet/confidence and says so."""
    model = make_model_file(tmp_path / "tiny.onnx")
    node = NodeProcess(["-p", f"model:={model}", "-r", "image:=/cam/image_raw"], env,
                       tmp_path / "node.log", command=_lifecycle_command())
    probe = Probe(int(env["ROS_DOMAIN_ID"]))
    try:
        def transition(transition_id: int) -> None:
            reply = probe.call(ChangeState, f"{NODE}/change_state", ChangeState.Request(
                transition=Transition(id=transition_id)), timeout=60)
            assert reply.success, node.log()

        def state() -> int:
            return probe.call(GetState, f"{NODE}/get_state", GetState.Request()).current_state.id

        assert state() == State.PRIMARY_STATE_UNCONFIGURED
        assert probe.image_pub.get_subscription_count() == 0
        probe.listen("labels", Image)
        frame = blocks_frame(48, 64)

        def segments(stamp: tuple[int, int]) -> None:
            probe.wait_subscribed("labels")
            probe.wait_camera_matched(probe.image_pub)
            probe.publish_image(frame, "rgb8", stamp)
            probe.frame("labels", stamp)

        transition(Transition.TRANSITION_CONFIGURE)
        assert state() == State.PRIMARY_STATE_INACTIVE
        assert "enet/confidence is unavailable" in node.log()
        assert probe.image_pub.get_subscription_count() == 0  # configured, not subscribed
        transition(Transition.TRANSITION_ACTIVATE)
        assert state() == State.PRIMARY_STATE_ACTIVE
        segments((1, 1))
        assert probe.node.get_publishers_info_by_topic("/enet/confidence") == []
        transition(Transition.TRANSITION_DEACTIVATE)
        assert state() == State.PRIMARY_STATE_INACTIVE
        probe.wait_for(lambda: probe.image_pub.get_subscription_count() == 0
                       and probe._subs["labels"].get_publisher_count() == 0, 10,
                       "the camera unsubscribed and enet/labels withdrawn")
        probe.publish_image(frame, "rgb8", (2, 2))  # inactive: nobody takes it
        transition(Transition.TRANSITION_CLEANUP)
        assert state() == State.PRIMARY_STATE_UNCONFIGURED
        assert node.log().count("engine released") == 1
        transition(Transition.TRANSITION_CONFIGURE)
        transition(Transition.TRANSITION_ACTIVATE)
        segments((3, 3))
        stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in probe.messages("labels")]
        assert stamps == [(1, 1), (3, 3)]  # nothing of the frame sent while inactive
        assert node.log().count("loading model") == 2
        assert probe.get_parameter(NODE, "class_names") == ["dark", "red", "green", "blue"]
    finally:
        probe.close()
        assert node.stop(signal.SIGINT) == 0 and "Traceback" not in node.log(), node.log()
