"""vision_msgs/LabelInfo from a model's class names, without importing ROS.

LabelInfo (vision_msgs from Humble on) tells consumers of a segmentation what each pixel value
means: ``class_map``, one VisionClass (``class_id`` uint16, ``class_name``) a class, and the
``threshold`` of the inference (0: the node applies none, every pixel gets its top class).
vision_msgs is not on PyPI, so the node imports it only where a ROS 2 installation has it and
hands the two message types to ``fill_label_info``; the tests here run it with the real types
where they exist and with stand-ins of the same fields where they do not.
"""
from typing import Any, Callable, Sequence

# Where a ROS 2 installation has no vision_msgs (or one without LabelInfo: Foxy's): what the
# node logs once at start instead of publishing enet/label_info.
UNAVAILABLE = ("vision_msgs/LabelInfo is not installed (apt install ros-$ROS_DISTRO-vision-msgs): "
               "enet/label_info is not published; `ros2 param get <node> class_names` and "
               "class_ids list the classes")


def fill_label_info(msg: Any, vision_class: "Callable[..., Any]", class_names: "Sequence[str]",
                    header: Any = None, threshold: float = 0.0) -> Any:
    """``msg`` (a LabelInfo) with ``class_map`` set to one ``vision_class`` per class, its id
    the label value of enet/labels; header (a std_msgs/Header) and threshold as given."""
    if header is not None:
        msg.header = header
    msg.class_map = [vision_class(class_id=i, class_name=name)
                     for i, name in enumerate(class_names)]
    msg.threshold = float(threshold)
    return msg
