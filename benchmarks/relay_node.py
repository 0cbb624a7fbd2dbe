"""A trivial stand-in for segment_node: the baseline of what DDS and this machine carry.

It subscribes to ``image`` as segment_node does (depth 1; its ``reliability`` parameter,
reliable or best_effort, stands for what segment_node's camera_reliability settles on) and
answers each frame with an all-zero mono8 ``enet/labels`` of the frame's size and header, computing
nothing. Frames a subscriber misses through it are lost to the middleware and the machine's
load, not to inference; benchmarks/node_speed.py and the node's frame-rate test run it beside
segment_node to tell the two apart.

    python benchmarks/relay_node.py --ros-args -r image:=/camera/image_raw -p reliability:=reliable
"""
from __future__ import annotations

import array
import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import Image


class RelayNode(Node):
    def __init__(self) -> None:
        super().__init__("enet_relay")
        self._labels = self.create_publisher(
            Image, "enet/labels", QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE))
        reliability = self.declare_parameter("reliability", "best_effort").value
        self.create_subscription(Image, "image", self._on_image, QoSProfile(
            depth=1, reliability=ReliabilityPolicy[reliability.upper()],
            durability=qos_profile_sensor_data.durability))
        self.get_logger().info(f"segmenting nothing: relaying image ({reliability}) -> "
                               f"enet/labels")

    def _on_image(self, msg: Image) -> None:
        labels = Image(header=msg.header, height=msg.height, width=msg.width,
                       encoding="mono8", step=msg.width)
        labels.data = array.array("B", bytes(msg.height * msg.width))
        self._labels.publish(labels)


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = RelayNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
