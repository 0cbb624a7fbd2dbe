"""The README's first commands are the ones CI and users run; keep them from drifting."""
from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
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


def _debian_python_3_11() -> str | None:
    """Why the README's first command cannot be tried with /usr/bin/python3 here, or None."""
    system = Path("/usr/bin/python3")
    if not (system.is_file() and Path("/etc/debian_version").is_file()):
        return "no /usr/bin/python3 of a Debian or Ubuntu system here"
    probe = subprocess.run(
        [str(system), "-c", "import ensurepip, sys, sysconfig; "
         "print(sys.version_info[:2] == (3, 11), sysconfig.get_default_scheme())"],
        capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        return "/usr/bin/python3 has no venv module (apt install python3-venv)"
    is_3_11, scheme = probe.stdout.split()
    if scheme != "posix_local":  # Debian's patched sysconfig: a python from elsewhere
        return "/usr/bin/python3 is not Debian's own Python"
    if is_3_11 != "True":
        return "/usr/bin/python3 is not 3.11, and the ROS 2 wheels of `.[ros]` are cp311 only"
    return None


def test_readme_main_command_runs_as_written_with_debians_own_python(tmp_path):
    """The first command, word for word, in a fresh copy of the repository under Debian's
    /usr/bin/python3, whose venv brings pip 23.0.1: the pip that took the legacy
    `setup.py install` path before pyproject.toml and put the commands in lib/enet_ros.

    About 90 s with pip's download cache warm, most of it installing the wheels of
    `.[cpu,ros]` into the new venv; the install cannot be shared with another test, since
    building and installing the package with this pip is what is tested.
    """
    reason = _debian_python_3_11()
    if reason:
        pytest.skip(reason)
    clone = tmp_path / "enet_ros"
    shutil.copytree(REPO_ROOT, clone, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "install", "log", "runs", "demo_out", "__pycache__",
        "*.egg-info", "training"))
    command = _bash_blocks((REPO_ROOT / "README.md").read_text())[0]
    assert command.startswith("python3 -m venv .venv && ")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(PATH=f"/usr/bin:{env.get('PATH', '')}", ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
               ROS_DOMAIN_ID=str(random.randrange(1, 200)), ROS_LOG_DIR=str(tmp_path / "ros"))
    done = subprocess.run(["bash", "-c", command], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=540)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    pip = subprocess.run([str(clone / ".venv" / "bin" / "python"), "-m", "pip", "--version"],
                         capture_output=True, text=True, timeout=60)
    print(pip.stdout)  # 23.0.1 on Debian 12
    assert (clone / ".venv" / "bin" / "enet-ros").is_file()
    assert not (clone / ".venv" / "lib" / "enet_ros").exists()  # the legacy install's folder
    for name in ("overlay.webm", "contact_sheet.png"):
        assert (clone / "demo_out" / name).stat().st_size > 1000, name
    assert "received" in done.stdout and "wrote demo_out/overlay.webm" in done.stdout
