"""The README's first commands are the ones CI and users run; keep them from drifting."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import REPO_ROOT


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO_ROOT / "README.md").read_text()
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    test_command = _bash_blocks(readme)[1]
    assert "pytest" in test_command
    assert test_command in ci.splitlines()


def test_readme_main_command_runs_the_demo_on_a_fresh_clone():
    """Installs the ROS extra and runs the demo on what the repository ships: nothing outside
    the clone (no ../shared), no --model (the shipped one is the default)."""
    readme = (REPO_ROOT / "README.md").read_text()
    main_command = _bash_blocks(readme)[0]
    assert '.venv/bin/pip install -q ".[cpu,ros]"' in main_command
    assert re.search(r"\.venv/bin/enet-ros demo( |$)", main_command)
    assert "../" not in main_command and "--model" not in main_command


def _workspace_section(readme: str) -> str:
    return readme.split("## ROS 2 workspace", 1)[1].split("\n## ", 1)[0]


def test_readme_workspace_steps_work_as_written(install, tmp_path):
    """The ROS 2 workspace block, followed command by command with its working directory
    (it starts at the repository root): ROS 2 sourced before rosdep and colcon, the clone in
    the workspace's src/, rosdep and colcon run in the workspace, files that exist, and
    `ros2 launch` given only arguments the launch file declares (Humble's launch says which)."""
    from _launch_harness import (ROS2_LAUNCH, launch_env, run_launches, shown_arguments,
                                 write_composition_interfaces)
    from _ros_distro_api import DISTROS

    section = _workspace_section((REPO_ROOT / "README.md").read_text())
    for distro in DISTROS:
        assert distro.capitalize() in section.split("```")[0], distro
    home = "/home/user"
    cwd, clone, sourced, built, updated = str(REPO_ROOT), None, False, False, False
    rosdep_sources: list[str] = []
    steps: list[str] = []
    launches: list[tuple[str, set[str]]] = []   # (launch file, argument names given)
    for line in _bash_blocks(section)[0].splitlines():
        for command in (c.strip() for c in line.split("&&")):
            words = command.replace("~", home).replace("$HOME", home).split()
            steps.append(words[0] if words[0] not in ("sudo", "source", "echo") else command)
            if words[0] == "cd":
                cwd = words[1]
            elif command == "source /opt/ros/$ROS_DISTRO/setup.bash":
                sourced = True
            elif words[:2] == ["git", "clone"]:
                assert words[2] == '"$PWD"' and cwd == str(REPO_ROOT)  # this repository
                clone = Path(words[3])
                assert clone.name == "enet_ros" and clone.parent.name == "src"
            elif words[0] == "echo":
                source = re.search(r"file://(\S+?)\"", command).group(1).replace("$HOME", home)
                relative = Path(source).relative_to(clone)
                assert (REPO_ROOT / relative).is_file(), relative
                assert "/etc/ros/rosdep/sources.list.d/" in command
                rosdep_sources.append(source)
            elif words[0] == "rosdep":
                assert sourced, f"{command}: ROS 2 not sourced yet"
                if words[1] == "update":
                    assert rosdep_sources, "rosdep.yaml not added before rosdep update"
                    updated = True
                if words[1] == "install":
                    assert updated, "rosdep install before rosdep update"
                    assert cwd == str(clone.parents[1]) and "--from-paths src" in command
            elif words[0] == "colcon":
                assert sourced and cwd == str(clone.parents[1]), command
                assert words[1] == "build" and words[-1] == "enet_ros"
                built = True
            elif command == "source install/setup.bash":
                assert built and cwd == str(clone.parents[1])
            elif words[:2] == ["ros2", "launch"]:
                assert words[2] == "enet_ros"
                launches.append((words[3], {w.split(":=", 1)[0] for w in words[4:]}))
    assert steps[-1] == "ros2" and built
    assert "colcon test --packages-select enet_ros" in section
    if not ROS2_LAUNCH.is_dir():
        pytest.skip("no ../shared/ros2-launch (the released launch libraries of ROS 2) beside "
                    "the repository: the `ros2 launch` arguments are unchecked")
    env = launch_env("humble", [install], write_composition_interfaces(tmp_path / "stand_ins"),
                     {**os.environ, "ROS_LOG_DIR": str(tmp_path / "log")})
    outcomes = run_launches([[f, "--show-args"] for f, _ in launches], env, tmp_path / "runs")
    for (file_name, given), (status, output, left) in zip(launches, outcomes):
        assert status == 0 and not left and given <= set(shown_arguments(output)), output
