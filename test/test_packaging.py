"""The package as ROS 2 sees it: colcon builds it, the install tree has what `ros2 launch` and
`ros2 run` look for, package.xml parses, and the installed executable starts (and fails
clearly without a model)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "install", "log", "__pycache__",
                              "*.egg-info", ".pytest_cache", "test")


@pytest.fixture(scope="module")
def install(tmp_path_factory) -> Path:
    """`colcon build` of a copy of the repository; the install prefix of enet_ros."""
    base = tmp_path_factory.mktemp("colcon")
    shutil.copytree(ROOT, base / "src" / "enet_ros", ignore=SKIP)
    result = subprocess.run(
        [sys.executable, "-m", "colcon", "--log-base", str(base / "log"), "build",
         "--base-paths", str(base / "src"), "--build-base", str(base / "build"),
         "--install-base", str(base / "install"), "--event-handlers", "console_direct-"],
        cwd=base, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return base / "install" / "enet_ros"


def test_colcon_install_tree_has_executable_and_share_files(install):
    share = install / "share" / "enet_ros"
    node = install / "lib" / "enet_ros" / "segment_node"
    assert node.is_file() and os.access(node, os.X_OK)
    assert (install / "share" / "ament_index" / "resource_index" / "packages" / "enet_ros").is_file()
    for rel in ("package.xml", "launch/segment.launch.py", "launch/multi_camera.launch.py",
                "config/segment.yaml", "rviz/segment.rviz"):
        assert (share / rel).is_file(), rel
    shipped = sorted(p.name for p in (ROOT / "models").glob("*") if p.suffix in (".onnx", ".md"))
    if shipped:
        assert sorted(p.name for p in (share / "models").iterdir()) == shipped


def test_installed_executable_fails_clearly_without_a_model(install, tmp_path):
    """The colcon-installed segment_node runs; a missing model is one error line and exit 1."""
    site = next((install / "lib").glob("python3*/site-packages"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(site), os.environ.get("PYTHONPATH", "")]), "ROS_AUTOMATIC_DISCOVERY_RANGE":
        "LOCALHOST", "ROS_DOMAIN_ID": str(100 + os.getpid() % 100), "ROS_LOG_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(install / "lib" / "enet_ros" / "segment_node"), "--ros-args",
         "-p", f"model:={tmp_path / 'missing.onnx'}"],
        env=env, capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "missing.onnx does not exist" in output and "Traceback" not in output, output


def test_package_xml_parses_as_an_ament_python_package():
    from catkin_pkg.package import parse_package

    package = parse_package(str(ROOT / "package.xml"))
    assert package.name == "enet_ros"
    assert package.get_build_type() == "ament_python"
    runtime = {d.name for d in package.exec_depends}
    assert {"rclpy", "sensor_msgs", "std_msgs", "diagnostic_msgs"} <= runtime
    assert f'version="{package.version}"' in (ROOT / "setup.py").read_text(encoding="utf-8")


def test_installed_package_finds_its_shipped_files_through_the_ament_prefix(install, tmp_path):
    """Under ROS 2 the shipped model and samples come from share/enet_ros of the install."""
    site = next((install / "lib").glob("python3*/site-packages"))
    env = {**os.environ, "PYTHONPATH": str(site), "AMENT_PREFIX_PATH": str(install)}
    probe = subprocess.run(
        [sys.executable, "-c", "from enet_ros import shipped; from enet_ros.ros.params import "
         "resolve_model; print(resolve_model('')); print(shipped.sample_frames()[0].parent)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    share = install / "share" / "enet_ros"
    assert probe.stdout.split() == [str(share / "models" / "enet_camvid.onnx"),
                                    str(share / "samples")]
