"""Segment one camera with ENet and, if asked, show the result in rviz.

    ros2 launch enet_ros segment.launch.py image:=/camera/image_raw rviz:=true

Outputs: enet/labels (mono8 class ids), enet/color, enet/overlay, enet/camera_info, relative
to `namespace` (so /enet/... without one). Parameters come from `params_file`
(config/segment.yaml by default). A launch argument that sets a parameter (model, palette,
input size, overlay_alpha, use_compressed) overrides the file only when given: its default ""
means "not set", so a user's params file is never overruled by a launch default.

Humble, Jazzy and Kilted: only launch API their first releases all have (no IfElseSubstitution,
which reached Humble in 2025); test/test_ros_distro_api.py checks each name used here.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, SubstitutionFailure
from launch_ros.actions import Node
from launch_ros.substitutions import ExecutableInPackage, FindPackageShare

BOOLEAN = ["true", "false"]
UNSET_OR_BOOLEAN = ["", "true", "false"]
# Launch arguments that set a node parameter: (argument, parameter type, description).
PARAMETER_ARGUMENTS = [
    ("model", "str", "ENet model file (.onnx); not given: params_file's model (empty there: "
                     "the shipped models/enet_camvid.onnx)."),
    ("input_width", "int", "Network input width, a multiple of 8 (0: the model's own); not "
                           "given: params_file's."),
    ("input_height", "int", "Network input height, a multiple of 8 (0: the model's own); not "
                            "given: params_file's."),
    ("palette", "str", "Palette name (config/palettes) or YAML file; not given: params_file's "
                       "(empty there: the model's)."),
    ("overlay_alpha", "float", "Weight of the class colours in enet/overlay, 0.0 to 1.0; not "
                               "given: params_file's."),
]


def typed_value(name: str, text: str, kind: str) -> "bool | int | float | str":
    """A launch argument's text as the parameter's type; a clear error when it is not one."""
    if kind == "str":
        return text
    try:
        return int(text) if kind == "int" else float(text)
    except ValueError:
        raise ValueError(f"launch argument {name}:={text!r} is not a valid {kind}") from None


def given_parameters(context) -> dict:
    """The parameters set by launch arguments given explicitly (non-empty), typed."""
    overrides = {}
    for name, kind, _ in PARAMETER_ARGUMENTS:
        text = LaunchConfiguration(name).perform(context)
        if text:
            overrides[name] = typed_value(name, text, kind)
    compressed = LaunchConfiguration("use_compressed").perform(context)
    if compressed:
        overrides["transport"] = "compressed" if compressed == "true" else "raw"
    return overrides


def require_rviz(context) -> None:
    """Fail the launch, before any node starts, when rviz:=true and rviz2 cannot be found.

    launch looks a Node's executable up only as it starts that Node: a missing rviz2 ended the
    launch with exit 1 after segment_node had started, and under Humble, Jazzy and Kilted left
    segment_node running, orphaned. The same lookup done first starts nothing.
    """
    try:
        ExecutableInPackage(executable="rviz2", package="rviz2").perform(context)
    except (LookupError, SubstitutionFailure) as error:  # LookupError: package not found
        reason = error.args[0] if error.args else error
        raise RuntimeError(f"rviz:=true but rviz2 cannot be started ({reason}): install rviz2 "
                           f"(ros-$ROS_DISTRO-rviz2) or launch with rviz:=false") from None


def _nodes(context, *args, **kwargs) -> "list[Node]":
    """The segment node and rviz; runs at launch time, when the arguments have values."""
    if LaunchConfiguration("rviz").perform(context) == "true":  # choices: true or false
        require_rviz(context)
    overrides = given_parameters(context)
    image = LaunchConfiguration("image").perform(context)
    share = FindPackageShare("enet_ros")
    lifecycle = LaunchConfiguration("lifecycle").perform(context) == "true"
    segment = Node(
        package="enet_ros",
        executable="segment_lifecycle_node" if lifecycle else "segment_node",
        name="enet_segment",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        emulate_tty=True,
        parameters=[LaunchConfiguration("params_file"), *([overrides] if overrides else [])],
        remappings=[
            ("image", image),
            ("image/compressed", f"{image}/compressed"),
            ("camera_info", LaunchConfiguration("camera_info")),
            ("depth", LaunchConfiguration("depth")),
        ],
    )
    # rviz/segment.rviz shows the relative topics enet/overlay and enet/color, so rviz in the
    # node's namespace shows that camera. Its fixed frame needs no TF (identity transformer).
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="enet_rviz",
        namespace=LaunchConfiguration("namespace"),
        arguments=["-d", PathJoinSubstitution([share, "rviz", "segment.rviz"])],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return [segment, rviz]


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare("enet_ros")
    return LaunchDescription([
        DeclareLaunchArgument(
            "image", default_value="/camera/image_raw",
            description="Camera image topic to segment (its /compressed sibling when "
                        "use_compressed is true)."),
        DeclareLaunchArgument(
            "camera_info", default_value="/camera/camera_info",
            description="CameraInfo topic of that camera; republished scaled to the labels "
                        "as enet/camera_info."),
        DeclareLaunchArgument(
            "depth", default_value="/camera/aligned_depth_to_color/image_raw",
            description="Depth image registered to the camera image (16UC1 mm or 32FC1 m); "
                        "subscribed while someone listens to enet/points."),
        *[DeclareLaunchArgument(name, default_value="", description=description)
          for name, _, description in PARAMETER_ARGUMENTS],
        DeclareLaunchArgument(
            "use_compressed", default_value="", choices=UNSET_OR_BOOLEAN,
            description="true: subscribe to <image>/compressed (sensor_msgs/CompressedImage) "
                        "instead of the raw image; not given: params_file's transport."),
        DeclareLaunchArgument(
            "params_file", default_value=PathJoinSubstitution([share, "config", "segment.yaml"]),
            description="Parameter file of the node (keys under /**: ros__parameters:)."),
        DeclareLaunchArgument(
            "namespace", default_value="",
            description="Namespace of the node and its enet/* outputs, e.g. front_camera."),
        DeclareLaunchArgument(
            "lifecycle", default_value="false", choices=BOOLEAN,
            description="true: the managed (lifecycle) node, which waits unconfigured for "
                        "`ros2 lifecycle set <node> configure`, then activate (Humble on)."),
        DeclareLaunchArgument(
            "rviz", default_value="false", choices=BOOLEAN,
            description="Start rviz2 (in the same namespace) showing enet/overlay and "
                        "enet/color."),
        OpaqueFunction(function=_nodes),
    ])
