"""One ENet node per camera, each in the camera's namespace.

    ros2 launch enet_ros multi_camera.launch.py cameras:=front,rear

For camera `front` the node subscribes to /front/image_raw and /front/camera_info and
publishes /front/enet/labels, /front/enet/color, /front/enet/overlay, /front/enet/camera_info.
All nodes share one parameter file (its keys are under /**, so it applies in any namespace);
use_compressed overrides its transport only when given. Each node is /<camera>/enet_segment,
and its diagnostics carry that name and its camera topic, so the cameras stay apart.
Only launch API that Humble, Jazzy and Kilted all have (test/test_ros_distro_api.py).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

UNSET_OR_BOOLEAN = ["", "true", "false"]


def camera_namespaces(text: str) -> "list[str]":
    """'front, rear' or '[front, rear]' -> ['front', 'rear']: the list argument's items.

    Leading slashes are dropped (namespaces are made absolute by the node); empty items and
    repeats are ignored, so a trailing comma is harmless.
    """
    names: "list[str]" = []
    for item in text.strip().strip("[]").split(","):
        name = item.strip().strip("'\"").strip("/")
        if name and name not in names:
            names.append(name)
    return names


def _nodes(context, *args, **kwargs) -> "list[Node]":
    """A segment_node for each camera; runs at launch time, when the argument has a value."""
    cameras = camera_namespaces(LaunchConfiguration("cameras").perform(context))
    if not cameras:
        raise ValueError("cameras is empty: give camera namespaces, e.g. cameras:=front,rear")
    image = LaunchConfiguration("image").perform(context)
    camera_info = LaunchConfiguration("camera_info").perform(context)
    compressed = LaunchConfiguration("use_compressed").perform(context)
    overrides = [{"transport": "compressed" if compressed == "true" else "raw"}] \
        if compressed else []
    return [
        Node(
            package="enet_ros",
            executable="segment_node",
            name="enet_segment",
            namespace=camera,
            output="screen",
            parameters=[LaunchConfiguration("params_file"), *overrides],
            remappings=[
                ("image", image),
                ("image/compressed", f"{image}/compressed"),
                ("camera_info", camera_info),
            ],
        )
        for camera in cameras
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument(
            "cameras", default_value="camera",
            description="Comma-separated camera namespaces, one node each, e.g. front,rear."),
        DeclareLaunchArgument(
            "image", default_value="image_raw",
            description="Image topic relative to each camera's namespace."),
        DeclareLaunchArgument(
            "camera_info", default_value="camera_info",
            description="CameraInfo topic relative to each camera's namespace."),
        DeclareLaunchArgument(
            "use_compressed", default_value="", choices=UNSET_OR_BOOLEAN,
            description="true: subscribe to <image>/compressed instead of the raw image; not "
                        "given: params_file's transport."),
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("enet_ros"), "config",
                                                "segment.yaml"]),
            description="Parameter file shared by all nodes (keys under /**)."),
        OpaqueFunction(function=_nodes),
    ])
