"""The package as ROS 2 sees it: colcon builds it (the `install` fixture, conftest.py), the
install tree has what `ros2 launch` and `ros2 run` look for, package.xml parses, and the
installed executable starts (and fails clearly without a model)."""
from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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


# -- package.xml against the imports ----------------------------------------------------------

# rosdep keys of package.xml, each checked to exist in ros/rosdistro (rosdep/python.yaml or
# base.yaml, master at 8468e88c, 2026-08-22), and the ROS 2 packages released in humble, jazzy
# and kilted (their distribution.yaml at the same commit) that package.xml names.
ROSDISTRO_KEYS = {"python3-numpy", "python3-opencv", "python3-yaml", "python3-onnxruntime-pip",
                  "python3-rosbags-pip", "python3-tqdm", "python3-pytest", "python3-hypothesis",
                  "python3-catkin-pkg", "python3-colcon-common-extensions", "python3-pil",
                  "python3-packaging"}
ROS_PACKAGES = {"rclpy", "rcl_interfaces", "sensor_msgs", "std_msgs", "diagnostic_msgs", "launch",
                "launch_ros", "ros2launch", "rviz2", "sensor_msgs_py", "vision_msgs",
                "lifecycle_msgs"}
# Imports of the tests that are not run-time dependencies: test tools with their rosdep keys,
# and the offline training stack, whose tests conftest.py leaves out where torch is missing.
TEST_KEYS = {"pytest": "python3-pytest", "hypothesis": "python3-hypothesis",
             "catkin_pkg": "python3-catkin-pkg", "colcon": "python3-colcon-common-extensions",
             "PIL": "python3-pil", "packaging": "python3-packaging",
             "lifecycle_msgs": "lifecycle_msgs",  # the lifecycle node's services, in its test
             # the reference enet/points' bytes are checked against (test_pointcloud.py)
             "sensor_msgs_py": "sensor_msgs_py",
             # _ros2_launch.py: `ros2 launch` itself, already a run-time dependency
             "ros2launch": "ros2launch"}
TRAINING_ONLY = {"torch", "torchmetrics", "enet_train", "onnxscript", "matplotlib",
                 "tensorboard"}


def third_party_imports(paths: list[Path], own: set[str]) -> dict[str, set[str]]:
    """Top-level modules imported by ``paths`` that are neither stdlib nor ``own``: file names."""
    found: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in own:
                    found.setdefault(top, set()).add(path.name)
    return found


def _package_xml():
    from catkin_pkg.package import parse_package

    return parse_package(str(ROOT / "package.xml"))


def _own_rosdep_keys() -> set[str]:
    import yaml

    return set(yaml.safe_load((ROOT / "rosdep.yaml").read_text(encoding="utf-8")))


def test_package_xml_declares_every_import_of_the_runtime_under_its_rosdep_key():
    """Each import of the installed runtime (enet_ros/) and of the launch files maps to a
    dependency (enet_ros/ros/dependencies.py) whose key package.xml declares; package.xml
    declares nothing else except the executables the launch files and `ros2 launch` need."""
    from enet_ros.ros import dependencies

    imports = third_party_imports(sorted((ROOT / "enet_ros").rglob("*.py")), {"enet_ros"})
    unknown = {m: f for m, f in imports.items() if dependencies.find(m) is None}
    assert not unknown, f"imports missing from enet_ros/ros/dependencies.py: {unknown}"
    runtime = {dependencies.find(m).rosdep for m in imports
               if not (dependencies.find(m).optional or dependencies.find(m).backport)}
    launch_imports = third_party_imports(sorted((ROOT / "launch").glob("*.launch.py")), set())
    executables = {"ros2launch", "rviz2"}  # `ros2 launch` itself; rviz:=true starts rviz2
    declared = {d.name for d in _package_xml().exec_depends}
    assert declared == runtime | set(launch_imports) | executables
    listed = {d.module for d in dependencies.DEPENDENCIES
              if not (d.backport and d.module in sys.stdlib_module_names)}
    assert listed == set(imports), "dependencies.py lists a module nothing imports"


def test_every_rosdep_key_is_valid():
    keys = {d.name for d in _package_xml().exec_depends + _package_xml().test_depends}
    own = _own_rosdep_keys()
    assert own == {"python3-onnx-pip"}  # onnx has no key in rosdistro
    invalid = keys - ROSDISTRO_KEYS - ROS_PACKAGES - own
    assert not invalid, f"not a rosdep key: {invalid}"


def test_package_xml_declares_what_the_tests_import():
    from enet_ros.ros import dependencies

    tests = sorted((ROOT / "test").glob("*.py"))
    own = {p.stem for p in tests} | {"enet_ros"}
    imports = set(third_party_imports(tests, own)) - TRAINING_ONLY
    package = _package_xml()
    declared = {d.name for d in package.exec_depends + package.test_depends}
    for module in imports:
        dep = dependencies.find(module)
        key = dep.rosdep if dep else TEST_KEYS.get(module)
        assert key in declared, f"test import {module}: no rosdep key in package.xml"


def test_pip_requirements_match_the_dependency_table():
    """pip users get the same run-time packages as rosdep users (ROS 2 ones come with ROS)."""
    from enet_ros.ros import dependencies

    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    requires = ast.literal_eval(re.search(r"install_requires=(\[.*?\])", setup, re.S).group(1))
    names = {re.split(r"[<>=!~\[;]", r)[0].strip() for r in requires}
    # ONNX Runtime comes from the [cpu] or [gpu] extra (or a Jetson's own wheel), never from the
    # base install, so that pip never replaces onnxruntime-gpu with the CPU build
    assert names == {d.pip for d in dependencies.DEPENDENCIES
                     if d.pip and not d.optional} - {"onnxruntime"}
    for extra, name in (("cpu", "onnxruntime"), ("gpu", "onnxruntime-gpu")):
        listed = ast.literal_eval(re.search(rf'"{extra}": (\[.*?\]),', setup, re.S).group(1))
        assert {re.split(r"[<>=!~\[;]", r)[0].strip() for r in listed} == {name}


def test_a_missing_dependency_is_one_start_up_line(tmp_path):
    """segment_node without onnxruntime: one line naming what to install, exit 1."""
    blocker = tmp_path / "onnxruntime.py"
    blocker.write_text("raise ModuleNotFoundError(\"No module named 'onnxruntime'\", "
                       "name='onnxruntime')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
           "ROS_LOG_DIR": str(tmp_path)}
    model = ROOT / "models" / "enet_camvid.onnx"
    if not model.is_file():
        pytest.skip("no shipped model")
    result = subprocess.run(
        [sys.executable, "-m", "enet_ros.ros.segment_node", "--ros-args", "-p",
         f"model:={model}", "-p", "engine:=onnxruntime"],
        env=env, capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "cannot start: Python module 'onnxruntime' is missing" in output, output
    assert "python3-onnxruntime-pip" in output and "pip install onnxruntime" in output
    assert "Traceback" not in output, output


def test_a_missing_ros_module_names_the_ros_package(tmp_path):
    """Without ROS 2 sourced (rclpy missing), before the node module can even load."""
    blocker = tmp_path / "rclpy.py"
    blocker.write_text("raise ModuleNotFoundError(\"No module named 'rclpy'\", name='rclpy')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    result = subprocess.run([sys.executable, "-m", "enet_ros.ros.segment_node"], env=env,
                            capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert output.strip().splitlines() == [
        "[FATAL] [segment_node]: cannot start: Python module 'rclpy' (ROS 2 package rclpy) is "
        "missing: source /opt/ros/$ROS_DISTRO/setup.bash (and the workspace's "
        "install/setup.bash), or `rosdep install --from-paths src --ignore-src -y` in the "
        "workspace"]


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
