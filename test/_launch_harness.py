"""`ros2 launch enet_ros FILE ...` in tests, with the real launch library of each distribution.

launch, launch_ros and ros2launch are not on PyPI; their released source for Foxy, Humble, Jazzy
and Kilted lies beside the project in ../shared/ros2-launch (its README says how to use it).
Two distributions cannot be imported side by side, so each launch is a subprocess
(_ros2_launch.py, what the `ros2 launch` verb calls) with one distribution on PYTHONPATH, the
package as colcon installs it on AMENT_PREFIX_PATH, and Jazzy's rclpy from PyPI underneath.
Every process a launch starts carries a mark in its environment, so that anything left behind
is found even after it has been orphaned (its parent PID 1).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from _processes import marked_processes

REPO_ROOT = Path(__file__).resolve().parents[1]
ROS2_LAUNCH = REPO_ROOT.parent / "shared" / "ros2-launch"
DISTROS = ("foxy", "humble", "jazzy", "kilted")
RUNNER = Path(__file__).with_name("_ros2_launch.py")
MARK = "ENET_ROS_TEST_LAUNCH"     # _ros2_launch.py --each adds /<i> for its i-th command
# launch_ros imports composition_interfaces (a message package, not on PyPI) for composable
# nodes only, with LoadNode.Request in annotations evaluated at import: this much of it.
COMPOSITION_INTERFACES_SRV = '''"""Stand-in: what launch_ros imports (composable nodes unused)."""


class LoadNode:
    class Request:
        pass

    class Response:
        pass
'''


def write_composition_interfaces(folder: Path) -> Path:
    """The stand-in package composition_interfaces in ``folder``; the folder, for PYTHONPATH."""
    package = folder / "composition_interfaces"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "srv.py").write_text(COMPOSITION_INTERFACES_SRV)
    return folder


def launch_env(distro: str, prefixes: list[Path], stand_ins: Path,
               base: dict[str, str]) -> dict[str, str]:
    """``base`` with ``distro``'s launch packages importable and ``prefixes`` as ament prefixes.

    ``prefixes`` are colcon install prefixes (the package's own first); their Python packages
    go on PYTHONPATH as colcon's setup scripts put them. ``<distro>/launch`` is an ament prefix
    too, since Foxy's launch finds its frontend grammar through the ament index.
    """
    source = ROS2_LAUNCH / distro
    sites = [str(site) for prefix in prefixes for site in (prefix / "lib").glob(
        "python3*/site-packages")]
    python_path = [str(source / p) for p in ("launch", "launch_ros", "ros2launch")]
    python_path += [str(stand_ins), *sites, base.get("PYTHONPATH", "")]
    return {**base, "PYTHONPATH": os.pathsep.join(p for p in python_path if p),
            "AMENT_PREFIX_PATH": os.pathsep.join([*map(str, prefixes), str(source / "launch")])}


class Launch:
    """`ros2 launch enet_ros FILE ARGS` running in its own session, output in a file.

    Its own session (process group) is a terminal's foreground job: ``interrupt`` is Ctrl-C,
    SIGINT to launch and to every node at once, which is what launch expects when interactive.
    Like a foreground job it starts with SIGINT's default action even when the tests do not
    (a shell's background job, `cmd &`, ignores SIGINT, and exec passes an ignored signal on:
    Python's launch and the rviz2 stand-in would then sleep through Ctrl-C).
    """

    def __init__(self, file_name: str, arguments: list[str], env: dict[str, str],
                 log_path: Path) -> None:
        self.mark = uuid.uuid4().hex
        self.log_path = log_path
        with log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(RUNNER), "enet_ros", file_name, *arguments],
                env={**env, MARK: self.mark}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, count: int = 1, timeout: float = 60.0) -> None:
        """Until ``text`` is in the output ``count`` times; fail with the output if launch
        exits first or it takes longer than ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.output().count(text) < count:
            if self.proc.poll() is not None:
                raise AssertionError(f"launch exited with {self.proc.returncode} before "
                                     f"{text!r} x{count}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} x{count} after {timeout} s:\n"
                                     f"{self.output()}")
            time.sleep(0.05)

    def interrupt(self, timeout: float = 60.0) -> int:
        """Ctrl-C: SIGINT to the whole process group; launch's exit status."""
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
        except ProcessLookupError:  # launch, and all it started, ended already
            pass
        return self.wait(timeout)

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"launch still running after {timeout} s:\n"
                                 f"{self.output()}") from None

    def left_behind(self) -> list[str]:
        """Processes this launch started that still run (killed here, so none outlives the
        test): their command lines."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        return kill_marked(self.mark)


def kill_marked(mark: str) -> list[str]:
    """Kill every process with ``mark`` in the environment; their command lines."""
    found = marked_processes(MARK, mark)
    for pid in found:
        os.kill(pid, signal.SIGKILL)
    return list(found.values())


def run_launches(commands: list[list[str]], env: dict[str, str],
                 folder: Path) -> list[tuple[int, str, list[str]]]:
    """Launches that end by themselves (an error, --show-args), each `ros2 launch enet_ros
    FILE ARGS` in a process of its own forked from one that imports launch once: for each,
    its exit status, output and the command lines of the processes it left behind (killed)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "commands.json").write_text(json.dumps([["enet_ros", *c] for c in commands]))
    mark = uuid.uuid4().hex
    runner = subprocess.run([sys.executable, str(RUNNER), "--each", str(folder)],
                            env={**env, MARK: mark}, capture_output=True, text=True,
                            timeout=60 + 15 * len(commands))
    assert runner.returncode == 0, runner.stdout + runner.stderr
    return [(int((folder / f"{i}.status").read_text()),
             (folder / f"{i}.log").read_text(errors="replace"), kill_marked(f"{mark}/{i}"))
            for i in range(len(commands))]


def shown_arguments(output: str) -> dict[str, tuple[str, str]]:
    """The output of `ros2 launch ... --show-args`, read: argument -> (description, default)."""
    found = re.findall(r"^    '(\w+)':\n        (.+)\n        \(default: (.*)\)$", output,
                       re.M)
    return {name: (description, default) for name, description, default in found}
