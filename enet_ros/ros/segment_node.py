"""The ``segment_node`` and ``segment_lifecycle_node`` executables: start the node, or say in
one line what is missing.

enet_ros.ros.node imports rclpy, the ROS messages, numpy and OpenCV at its top, so a missing
one would end in a traceback before the node could log anything. Importing it here turns that
ModuleNotFoundError into one line naming the package to install, and exit status 1.
"""
import sys

from enet_ros.ros.dependencies import missing_message


def main(args: "list[str] | None" = None, lifecycle: bool = False) -> int:
    try:
        from enet_ros.ros import node
    except ModuleNotFoundError as err:
        print(f"[FATAL] [segment_node]: cannot start: {missing_message(err)}", file=sys.stderr)
        return 1
    return node.main(args, lifecycle)


def lifecycle_main(args: "list[str] | None" = None) -> int:
    """The ``segment_lifecycle_node`` executable: the same node as a managed (lifecycle) node."""
    return main(args, lifecycle=True)


if __name__ == "__main__":
    sys.exit(main())
