"""enet_ros: an ament_python ROS 2 package that also installs with plain pip.

`pip install .` gives the robot runtime (no torch) without an ONNX Runtime, so that it never
replaces the one the user chose: add `[cpu]` (onnxruntime) or `[gpu]` (onnxruntime-gpu), or
install a Jetson's onnxruntime-gpu wheel first. `[openvino]` adds the OpenVINO engine; `[ros]`
adds ROS 2 Jazzy's rclpy from PyPI for the node and `enet-ros demo`. `pip install .[train]` adds
what the offline training needs; `pip install .[test]` adds the test tools, onnxruntime,
OpenVINO and the same rclpy. colcon builds the same file as an ament_python package. The
runtime runs on Python 3.6 (JetPack 4.6) to 3.12; `enet-ros bag` needs 3.10, the demo 3.8.
"""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "enet_ros"
# ROS 2 Jazzy's Python stack as community wheels on PyPI (cp311): what segment_node and
# `enet-ros demo` need where no ROS 2 installation brings its own rclpy.
ROS_JAZZY_WHEELS = [
    "ros-rclpy[fastrtps]==7.1.6",
    "ros-sensor-msgs==5.3.6",
    "ros-std-msgs==5.3.6",
    "ros-diagnostic-msgs==5.3.6",
]


def share(folder: str, pattern: str = "*") -> "tuple[str, list[str]]":
    """One data_files entry installing folder/pattern under share/enet_ros/folder."""
    return (f"share/{PACKAGE}/{folder}", sorted(f for f in glob(f"{folder}/{pattern}")))


setup(
    name=PACKAGE,
    version="0.1.0",
    description="ENet real-time semantic segmentation for ROS 2, with its training code",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.6",
    packages=find_packages(exclude=["test", "test.*", "benchmarks"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        share("launch", "*.launch.py"),
        share("config", "*.yaml"),
        share("config", "*.xml"),
        share("config/palettes", "*.yaml"),
        share("rviz", "*.rviz"),
        share("models", "*.onnx"),
        share("models", "*.md"),
        share("samples", "*.jpg"),
        share("samples", "*.md"),
    ],
    install_requires=[
        "numpy>=1.24; python_version >= '3.8'",
        "numpy>=1.19; python_version < '3.8'",
        # JetPack 4.6 (Python 3.6) brings OpenCV 4.1 built for the board (apt python3-opencv);
        # a pip wheel would shadow it, and none newer than 4.6 exists for 3.6
        "opencv-python-headless>=4.8; python_version >= '3.7'",
        "onnx>=1.15; python_version >= '3.8'",
        "onnx>=1.10,<1.12; python_version < '3.8'",  # 1.11: the last with Python 3.6 wheels
        "pyyaml>=6",
        "tqdm>=4.60",
        "rosbags>=0.10; python_version >= '3.10'",  # `enet-ros bag` only; 0.10 needs 3.10
        # what Python 3.6 and 3.7 lack, as backports
        "dataclasses; python_version < '3.7'",
        "typing-extensions; python_version < '3.8'",
        "importlib-metadata; python_version < '3.8'",
    ],
    extras_require={
        # The ONNX Runtime flavour is the user's: both install the module `onnxruntime`, and
        # whichever comes last wins, so the base install pulls neither.
        "cpu": ["onnxruntime>=1.17; python_version >= '3.8'",
                "onnxruntime>=1.10; python_version < '3.8'"],  # 1.10: the last for 3.6
        "gpu": ["onnxruntime-gpu>=1.17; python_version >= '3.8'",
                "onnxruntime-gpu>=1.10; python_version < '3.8'"],
        # torch is not pinned here: install the wheel you want first (CPU or CUDA);
        # anything >= 2.1 satisfies this and nothing else is pulled in.
        "train": [
            "torch>=2.1",
            "onnxscript>=0.1",
            "tensorboard>=2.14",
            "matplotlib>=3.7",
        ],
        # The node and the demo without a ROS 2 installation: `pip install ".[ros]"`. Never a
        # plain dependency, since a ROS 2 installation brings its own rclpy.
        "ros": ROS_JAZZY_WHEELS,
        # OpenVINO engine: Intel CPUs (bfloat16 where the CPU has it) and Intel GPUs.
        "openvino": ["openvino>=2024.0"],
        # Tests run the node for real, with the same wheels.
        "test": [
            "onnxruntime>=1.17",
            "pytest>=7",
            "pytest-randomly>=3.12",  # test order shuffled each run: order dependence shows
            "hypothesis>=6",
            "torchmetrics>=1.0",
            "openvino>=2024.0",  # the OpenVINO engine's tests run it for real
            *ROS_JAZZY_WHEELS,
            "colcon-core",
            "colcon-ros",
            "catkin_pkg",
            # launch's process handling: test/test_ros2_launch.py runs the launch files with
            # the real launch library of each distribution (../shared/ros2-launch)
            "osrf-pycommon",
        ],
    },
    zip_safe=True,
    entry_points={
        "console_scripts": [
            "enet-ros = enet_ros.cli:main",
            "enet-train = enet_train.cli:main",
            "segment_node = enet_ros.ros.segment_node:main",
            "segment_lifecycle_node = enet_ros.ros.segment_node:lifecycle_main",
        ],
    },
)
