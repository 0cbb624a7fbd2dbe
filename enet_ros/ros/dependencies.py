"""What segment_node imports from outside the standard library, and how each gets installed.

One table serves two readers: the node, which turns a missing module into one start-up line
naming what to install, and test/test_packaging.py, which checks that every import of the
runtime is in this table and that package.xml declares each one under its rosdep key.
"""
from dataclasses import dataclass

ROS_SOURCE_HINT = "source /opt/ros/$ROS_DISTRO/setup.bash (and the workspace's install/setup.bash)"
ROSDEP_HINT = "rosdep install --from-paths src --ignore-src -y"


@dataclass(frozen=True)
class Dependency:
    """A top-level import name, its rosdep key, and its PyPI name (None: comes with ROS 2)."""

    module: str
    rosdep: "str | None"
    pip: "str | None"
    optional: bool = False  # only needed by an engine the user chose (TensorRT, OpenVINO)
    backport: bool = False  # only on an old Python (JetPack 4.6's 3.6): pip only, by marker


DEPENDENCIES: "tuple[Dependency, ...]" = (
    Dependency("numpy", "python3-numpy", "numpy"),
    Dependency("cv2", "python3-opencv", "opencv-python-headless"),
    Dependency("yaml", "python3-yaml", "pyyaml"),
    # onnx has no key in rosdistro; rosdep.yaml at the repository root defines this one.
    Dependency("onnx", "python3-onnx-pip", "onnx"),
    Dependency("onnxruntime", "python3-onnxruntime-pip", "onnxruntime"),
    Dependency("rosbags", "python3-rosbags-pip", "rosbags"),
    Dependency("tqdm", "python3-tqdm", "tqdm"),
    Dependency("rclpy", "rclpy", None),
    Dependency("rcl_interfaces", "rcl_interfaces", None),
    Dependency("sensor_msgs", "sensor_msgs", None),
    Dependency("std_msgs", "std_msgs", None),
    Dependency("diagnostic_msgs", "diagnostic_msgs", None),
    # enet/label_info where its LabelInfo exists (vision_msgs 4.1: Humble on); else one log line,
    # so rosdep installs it and the node imports it only if it can.
    Dependency("vision_msgs", "vision_msgs", None),
    # What Python 3.6 lacks (setup.py pulls them there by marker; imported under ImportError):
    Dependency("dataclasses", None, "dataclasses", backport=True),  # standard library from 3.7
    Dependency("typing_extensions", None, "typing-extensions", backport=True),  # Protocol, 3.8
    Dependency("importlib_metadata", None, "importlib-metadata", backport=True),  # 3.8
    # TensorRT and its CUDA bindings come with JetPack or NVIDIA's wheels; rosdep has no key.
    Dependency("tensorrt", None, "tensorrt", optional=True),
    Dependency("cuda", None, "cuda-python", optional=True),
    # OpenVINO for Intel CPUs and GPUs: pip only (`pip install "enet_ros[openvino]"`).
    Dependency("openvino", None, "openvino", optional=True),
)


def find(module: str) -> "Dependency | None":
    """The dependency providing ``module`` (a dotted name is looked up by its top level)."""
    top = module.partition(".")[0]
    return next((d for d in DEPENDENCIES if d.module == top), None)


def missing_message(err: ModuleNotFoundError) -> str:
    """One line saying which module is missing and how to install it."""
    name = err.name or str(err)
    dep = find(name)
    if dep is None:
        return f"Python module {name!r} is missing: reinstall enet_ros ({err})"
    if dep.pip is None:
        return (f"Python module {dep.module!r} (ROS 2 package {dep.rosdep}) is missing: "
                f"{ROS_SOURCE_HINT}, or `{ROSDEP_HINT}` in the workspace")
    via_rosdep = f"`{ROSDEP_HINT}` in the workspace (key {dep.rosdep}), or " if dep.rosdep else ""
    return f"Python module {dep.module!r} is missing: install it with {via_rosdep}" \
           f"`pip install {dep.pip}`"
