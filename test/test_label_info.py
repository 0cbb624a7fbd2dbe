"""enet/label_info's vision_msgs/LabelInfo, filled from the model's class names.

vision_msgs is not on PyPI, so where it is missing (here) the real-type test is skipped and the
fill is checked on stand-ins with exactly LabelInfo's and VisionClass's fields (vision_msgs
4.x, Humble on: LabelInfo header, class_map, threshold; VisionClass class_id, class_name).
That proves which values go in which field, not that the field names match the real message:
the real-type test does that where vision_msgs is installed (a ROS 2 workspace's colcon test).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

import pytest
from std_msgs.msg import Header

from enet_ros.ros.label_info import fill_label_info

NAMES = ("Sky", "Building", "Road")
HAVE_LABEL_INFO = importlib.util.find_spec("vision_msgs") is not None and hasattr(
    importlib.import_module("vision_msgs.msg"), "LabelInfo")


@dataclass
class StandInVisionClass:
    class_id: int = 0
    class_name: str = ""


class StandInLabelInfo:
    """LabelInfo's three fields and no others (slots: a misspelt field is an error)."""

    __slots__ = ("header", "class_map", "threshold")

    def __init__(self) -> None:
        self.header, self.class_map, self.threshold = Header(), [], 0.0


def _check(msg: Any) -> None:
    assert [(c.class_id, c.class_name) for c in msg.class_map] == [
        (0, "Sky"), (1, "Building"), (2, "Road")]
    assert msg.threshold == 0.0
    assert (msg.header.stamp.sec, msg.header.frame_id) == (7, "")


def test_fill_on_stand_ins_of_the_message_fields():
    msg = fill_label_info(StandInLabelInfo(), StandInVisionClass, NAMES,
                          Header(stamp=Header().stamp.__class__(sec=7)))
    _check(msg)
    with pytest.raises(AttributeError):  # a field LabelInfo lacks is not silently added
        msg.classes = []


@pytest.mark.skipif(not HAVE_LABEL_INFO, reason="vision_msgs (LabelInfo) is not installed: "
                                                "it is not on PyPI; runs under colcon test")
def test_fill_on_the_real_message_types():
    from vision_msgs.msg import LabelInfo, VisionClass

    _check(fill_label_info(LabelInfo(), VisionClass, NAMES,
                           Header(stamp=Header().stamp.__class__(sec=7))))
