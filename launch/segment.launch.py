"""Segment one camera with ENet and, if asked, show the result in rviz.

    ros2 launch enet_ros segment.launch.py image:=/camera/image_raw rviz:=true

Outputs: enet/labels (mono8 class ids), enet/color, enet/overlay, enet/camera_info, relative
to `namespace` (so /enet/... without one). Parameters come from `params_file`
(config/segment.yaml by default); the launch arguments that set parameters override it, and
their defaults equal the file's defaults.
"""
from __future__ import annotations  # ROS 2 on Python 3.8 (JetPack 5)

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import IfElseSubstitution, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

BOOLEAN = ["true", "false"]


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare("enet_ros")
    arg = LaunchConfiguration
    arguments = [
        DeclareLaunchArgument(
            "image", default_value="/camera/image_raw",
            description="Camera image topic to segment (its /compressed sibling when "
                        "use_compressed is true)."),
        DeclareLaunchArgument(
            "camera_info", default_value="/camera/camera_info",
            description="CameraInfo topic of that camera; republished scaled to the labels "
                        "as enet/camera_info."),
        DeclareLaunchArgument(
            "model", default_value="",
            description="ENet model file (.onnx); empty: the shipped models/enet_camvid.onnx."),
        DeclareLaunchArgument(
            "input_width", default_value="0",
            description="Network input width, a multiple of 8; 0: the model's own."),
        DeclareLaunchArgument(
            "input_height", default_value="0",
            description="Network input height, a multiple of 8; 0: the model's own."),
        DeclareLaunchArgument(
            "palette", default_value="",
            description="Palette name (config/palettes) or YAML file; empty: the model's."),
        DeclareLaunchArgument(
            "overlay_alpha", default_value="0.5",
            description="Weight of the class colours in enet/overlay, 0.0 to 1.0."),
        DeclareLaunchArgument(
            "params_file", default_value=PathJoinSubstitution([share, "config", "segment.yaml"]),
            description="Parameter file of the node (keys under /**: ros__parameters:)."),
        DeclareLaunchArgument(
            "namespace", default_value="",
            description="Namespace of the node and its enet/* outputs, e.g. front_camera."),
        DeclareLaunchArgument(
            "use_compressed", default_value="false", choices=BOOLEAN,
            description="Subscribe to <image>/compressed (sensor_msgs/CompressedImage) "
                        "instead of the raw image."),
        DeclareLaunchArgument(
            "rviz", default_value="false", choices=BOOLEAN,
            description="Start rviz2 showing enet/overlay and enet/color."),
    ]
    node = Node(
        package="enet_ros",
        executable="segment_node",
        name="enet_segment",
        namespace=arg("namespace"),
        output="screen",
        emulate_tty=True,
        parameters=[
            arg("params_file"),
            {
                "model": ParameterValue(arg("model"), value_type=str),
                "input_width": ParameterValue(arg("input_width"), value_type=int),
                "input_height": ParameterValue(arg("input_height"), value_type=int),
                "palette": ParameterValue(arg("palette"), value_type=str),
                "overlay_alpha": ParameterValue(arg("overlay_alpha"), value_type=float),
                "transport": IfElseSubstitution(arg("use_compressed"), "compressed", "raw"),
            },
        ],
        remappings=[
            ("image", arg("image")),
            ("image/compressed", [arg("image"), "/compressed"]),
            ("camera_info", arg("camera_info")),
        ],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="enet_rviz",
        arguments=["-d", PathJoinSubstitution([share, "rviz", "segment.rviz"])],
        condition=IfCondition(arg("rviz")),
    )
    return LaunchDescription([*arguments, node, rviz])
