"""`ros2 launch enet_ros segment.launch.py` and `multi_camera.launch.py`, for real.

Each launch runs in a subprocess with the real launch, launch_ros and ros2launch of Foxy, Humble,
Jazzy or Kilted (../shared/ros2-launch, released source) through ros2launch.api, against the
package as colcon installs it, with Jazzy's rclpy from PyPI under the nodes. A probe (real
rclpy) sends frames and reads labels and parameters back. Three launches a distribution start
nodes, each checking several things that need them (arguments, params files, remapping,
namespaces, rviz, Ctrl-C); the launches that end before any node starts (--show-args, refused
values) run as one batch a distribution, each forked from a process that has imported launch.
After every launch no process it started may be left (they carry a mark in their environment;
_launch_harness.py).
"""
from __future__ import annotations

import contextlib
import os
import random
import re
import sys
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pytest
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from sensor_msgs.msg import Image, PointCloud2

from _launch_harness import (DISTROS, ROS2_LAUNCH, Launch, launch_env, run_launches,
                             shown_arguments, write_composition_interfaces)
from _node_harness import Probe, blocks_frame, decoded, write_palette
from _runtime_fixtures import make_model_file

if not ROS2_LAUNCH.is_dir():
    pytest.skip("no ../shared/ros2-launch (the released launch libraries of ROS 2) beside the "
                "repository", allow_module_level=True)

SEGMENT, MULTI = "segment.launch.py", "multi_camera.launch.py"
FILE_COLOURS = ((200, 0, 0), (0, 200, 0), (0, 0, 200), (90, 90, 90))
ARGUMENT_COLOURS = ((250, 250, 0), (0, 250, 250), (250, 0, 250), (90, 90, 90))
FILE_SIZE = (24, 40)           # input_height, input_width in the params file
FRAME = (48, 64)               # camera frames (height, width)
CLEAN = "process has finished cleanly"
# rviz2 is not on PyPI: a stand-in executable in a package prefix of its own records the command
# line launch gives it and, like rviz2, ends cleanly on Ctrl-C.
RVIZ2 = '''"""rviz2 stand-in: writes its arguments to argv.txt beside it, waits for Ctrl-C."""
import pathlib
import signal
import sys

try:
    pathlib.Path(__file__).with_name("argv.txt").write_text("\\n".join(sys.argv[1:]))
    signal.pause()
except KeyboardInterrupt:
    pass
'''


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """The fixture model, two palettes for it, params files (raw and compressed transport),
    the composition_interfaces stand-in and an rviz2 stand-in prefix."""
    folder = tmp_path_factory.mktemp("launch_files")
    model = make_model_file(folder / "tiny.onnx")
    found = {"model": model,
             "file_palette": write_palette(folder / "file_palette.yaml", FILE_COLOURS),
             "argument_palette": write_palette(folder / "argument_palette.yaml",
                                               ARGUMENT_COLOURS),
             "stand_ins": write_composition_interfaces(folder / "stand_ins")}
    for transport in ("raw", "compressed"):
        found[transport] = folder / f"params_{transport}.yaml"
        found[transport].write_text(
            "/**:\n  ros__parameters:\n"
            f"    model: {model}\n    engine: onnxruntime\n"
            f"    palette: {found['file_palette']}\n    input_height: {FILE_SIZE[0]}\n"
            f"    input_width: {FILE_SIZE[1]}\n    overlay_alpha: 0.8\n"
            f"    output_resolution: network\n    transport: {transport}\n")
    rviz = folder / "rviz_prefix"
    (rviz / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True)
    (rviz / "share" / "ament_index" / "resource_index" / "packages" / "rviz2").write_text("")
    executable = rviz / "lib" / "rviz2" / "rviz2"
    executable.parent.mkdir(parents=True)
    executable.write_text(f"#!{sys.executable}\n{RVIZ2}")
    executable.chmod(0o755)
    found["rviz_prefix"] = rviz
    return found


@pytest.fixture
def ros(tmp_path) -> dict[str, str]:
    """Loopback discovery in a random private domain; the probe reads it from os.environ."""
    env = {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_LOG_DIR": str(tmp_path / "log"),
           "ROS_DOMAIN_ID": str(random.randrange(1, 200)), "RCUTILS_COLORIZED_OUTPUT": "0",
           "PYTHONUNBUFFERED": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield dict(os.environ)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _env(distro: str, install: Path, files: dict[str, Path], ros: dict[str, str],
         rviz: bool = False) -> dict[str, str]:
    prefixes = [install, *([files["rviz_prefix"]] if rviz else [])]
    return launch_env(distro, prefixes, files["stand_ins"], ros)


def _stopped_cleanly(launch: Launch, processes: int) -> None:
    """Ctrl-C ends launch with exit 0, every process finished cleanly, nothing left behind,
    and launch complained of nothing on the way (a params file that is not there is only a
    warning of launch_ros's, and the node then runs on its defaults)."""
    status = launch.interrupt()
    output = launch.output()
    left = launch.left_behind()
    assert status == 0, output
    assert output.count(CLEAN) == processes, output
    assert "Traceback" not in output and not left, (left, output)
    complaints = [line for line in output.splitlines()
                  if re.match(r"\[(WARNING|ERROR)\] \[launch", line) and "ctrl-c" not in line]
    assert not complaints, output


@contextlib.contextmanager
def _probing(ros: dict[str, str], **where: str) -> Iterator[Probe]:
    """A probe in the launch's domain (namespace, camera: see Probe), closed afterwards."""
    probe = Probe(int(ros["ROS_DOMAIN_ID"]), **where)
    try:
        yield probe
    finally:
        probe.close()


def _wait_ready(probe: Probe, keys: tuple[str, ...], publisher) -> None:
    for key in keys:
        probe.listen(key, Image)
        probe.wait_subscribed(key, timeout=30)
    probe.wait_camera_matched(publisher, timeout=30)


def _parameters(probe: Probe, node: str, names: tuple[str, ...]) -> dict:
    return {name: probe.get_parameter(node, name) for name in names}


@pytest.mark.parametrize("distro", DISTROS)
def test_segment_launch_with_the_shipped_params_file(distro, install, files, ros, tmp_path):
    """Every argument reaches the node or rviz, over the shipped config/segment.yaml (the
    default params_file): namespace, topics, model, input size, palette, overlay_alpha,
    use_compressed; rviz runs in the node's namespace with the installed rviz config."""
    launch = Launch(SEGMENT, [
        "namespace:=front", "image:=/cam/image_raw", "camera_info:=/cam/camera_info",
        "depth:=/cam/depth_registered",
        f"model:={files['model']}", "input_width:=32", "input_height:=16",
        f"palette:={files['argument_palette']}", "overlay_alpha:=0.25",
        "use_compressed:=false", "rviz:=true"],
        _env(distro, install, files, ros, rviz=True), tmp_path / "launch.log")
    try:
        with _probing(ros, namespace="/front") as probe:   # its discovery overlaps the start
            launch.wait_for("segmenting ")
            _wait_ready(probe, ("labels", "color"), probe.image_pub)
            labels, color = probe.send_until(lambda: probe.publish_image(
                np.full((*FRAME, 3), 10, np.uint8), "rgb8", (1, 0)), (1, 0), ("labels", "color"))
            assert (labels.height, labels.width) == FRAME    # the shipped file: camera size
            assert np.all(decoded(labels) == 0)
            assert np.all(decoded(color) == ARGUMENT_COLOURS[0])
            assert _parameters(probe, "/front/enet_segment", (
                "model", "input_height", "input_width", "palette", "overlay_alpha",
                "transport", "output_resolution")) == {
                "model": str(files["model"]), "input_height": 16, "input_width": 32,
                "palette": str(files["argument_palette"]), "overlay_alpha": 0.25,
                "transport": "raw", "output_resolution": "camera"}
            probe.listen("points", PointCloud2)  # the node subscribes to depth only for it
            probe.wait_for(lambda: probe.node_subscriptions("/cam/depth_registered"),
                           what="the node's subscription to the remapped depth topic")
        rviz_argv = (files["rviz_prefix"] / "lib" / "rviz2" / "argv.txt").read_text().split()
        share = install / "share" / "enet_ros"
        assert rviz_argv[:2] == ["-d", str(share / "rviz" / "segment.rviz")]
        assert {"__node:=enet_rviz", "__ns:=/front"} <= set(rviz_argv)
    finally:
        _stopped_cleanly(launch, processes=2)


@pytest.mark.parametrize("distro", DISTROS)
def test_a_params_file_wins_over_launch_defaults_and_loses_to_given_arguments(
        distro, install, files, ros, tmp_path):
    """The user's params file gives what no argument gives, although segment.launch.py declares
    an argument for it (model, input_height, palette, overlay_alpha, transport: compressed);
    input_width, given, overrides the file. Default image topic and namespace."""
    launch = Launch(SEGMENT, [f"params_file:={files['compressed']}", "input_width:=32"],
                    _env(distro, install, files, ros), tmp_path / "launch.log")
    try:
        with _probing(ros, camera="/camera") as probe:
            launch.wait_for("segmenting ")
            _wait_ready(probe, ("labels", "color"), probe.compressed_pub)
            frame = cv2.imencode(".png", np.full((*FRAME, 3), 10, np.uint8))[1].tobytes()
            labels, color = probe.send_until(lambda: probe.publish_compressed(
                frame, "png", (1, 0)), (1, 0), ("labels", "color"))
            assert (labels.height, labels.width) == (FILE_SIZE[0], 32)
            assert np.all(decoded(color) == FILE_COLOURS[0])
            assert _parameters(probe, "/enet_segment", (
                "model", "palette", "overlay_alpha", "transport")) == {
                "model": str(files["model"]), "palette": str(files["file_palette"]),
                "overlay_alpha": 0.8, "transport": "compressed"}
    finally:
        _stopped_cleanly(launch, processes=1)


@pytest.mark.parametrize("distro", DISTROS)
def test_lifecycle_argument_launches_the_managed_node(distro, install, files, ros, tmp_path):
    """lifecycle:=true starts segment_lifecycle_node: unconfigured until told, then labels
    after configure and activate through its lifecycle services."""
    launch = Launch(SEGMENT, ["lifecycle:=true", f"model:={files['model']}",
                              "image:=/cam/image_raw"],
                    _env(distro, install, files, ros), tmp_path / "launch.log")
    try:
        with _probing(ros) as probe:
            def state() -> int:
                return probe.call(GetState, "/enet_segment/get_state", GetState.Request(),
                                  timeout=60).current_state.id

            assert state() == State.PRIMARY_STATE_UNCONFIGURED
            for transition in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
                assert probe.call(ChangeState, "/enet_segment/change_state", ChangeState.Request(
                    transition=Transition(id=transition)), timeout=60).success
            assert state() == State.PRIMARY_STATE_ACTIVE
            _wait_ready(probe, ("labels",), probe.image_pub)
            (labels,) = probe.send_until(lambda: probe.publish_image(
                np.full((*FRAME, 3), 10, np.uint8), "rgb8", (1, 0)), (1, 0), ("labels",))
            assert (labels.height, labels.width) == FRAME
    finally:
        _stopped_cleanly(launch, processes=1)


@pytest.mark.parametrize("distro", DISTROS)
def test_multi_camera_launch(distro, install, files, ros, tmp_path):
    """One node per camera namespace, each on its camera's compressed images (use_compressed
    given, over the params file's raw transport), input size from the params file."""
    launch = Launch(MULTI, ["cameras:=cam, rear", f"params_file:={files['raw']}",
                            "use_compressed:=true"],
                    _env(distro, install, files, ros), tmp_path / "launch.log")
    try:
        with _probing(ros, namespace="/cam", camera="/cam") as cam, \
                _probing(ros, namespace="/rear", camera="/rear") as rear:
            launch.wait_for("segmenting ", count=2)
            frame = cv2.imencode(".png", blocks_frame(*FRAME)[:, :, ::-1])[1].tobytes()
            for seconds, probe in enumerate((cam, rear), start=1):
                _wait_ready(probe, ("labels",), probe.compressed_pub)
                (labels,) = probe.send_until(lambda: probe.publish_compressed(
                    frame, "png", (seconds, 0)), (seconds, 0), ("labels",))
                assert (labels.height, labels.width) == FILE_SIZE
                assert probe.get_parameter(f"{probe.namespace}/enet_segment",
                                           "transport") == "compressed"
    finally:
        _stopped_cleanly(launch, processes=2)


EXPECTED_ARGUMENTS = {
    SEGMENT: {"image", "camera_info", "depth", "model", "input_width", "input_height",
              "palette", "overlay_alpha", "use_compressed", "params_file", "namespace", "rviz",
              "lifecycle"},
    MULTI: {"cameras", "image", "camera_info", "use_compressed", "params_file"},
}
REFUSED = [
    (SEGMENT, ["input_width:=wide"], "launch argument input_width:='wide' is not a valid int"),
    (SEGMENT, ["use_compressed:=yes"], 'Argument "use_compressed" provided value "yes" is not '
                                       "valid"),
    (MULTI, ["cameras:= , "], "cameras is empty: give camera namespaces"),
    # rviz2 is not installed here: the launch must fail before segment_node starts
    (SEGMENT, ["rviz:=true"], "rviz:=true but rviz2 cannot be started (package 'rviz2' not "
                              "found"),
]
SHORT = [[file_name, "--show-args"] for file_name in EXPECTED_ARGUMENTS] + [
    [file_name, *arguments] for file_name, arguments, _ in REFUSED]


@pytest.fixture(scope="module")
def short_launches(install, files, tmp_path_factory):
    """distro -> {SHORT command: (exit status, output, processes left behind)}: the launches
    that end by themselves, run once a distribution in one batch (_ros2_launch.py --each),
    since importing launch is most of their time."""
    done: dict[str, dict[tuple[str, ...], tuple[int, str, list[str]]]] = {}

    def results(distro: str) -> dict[tuple[str, ...], tuple[int, str, list[str]]]:
        if distro not in done:
            folder = tmp_path_factory.mktemp(f"short_{distro}")
            env = launch_env(distro, [install], files["stand_ins"],
                             {**os.environ, "ROS_LOG_DIR": str(folder / "log")})
            done[distro] = dict(zip(map(tuple, SHORT), run_launches(SHORT, env, folder)))
        return done[distro]
    return results


@pytest.mark.parametrize("distro", DISTROS)
@pytest.mark.parametrize("file_name", list(EXPECTED_ARGUMENTS))
def test_show_args_lists_every_argument_with_its_description(distro, file_name,
                                                             short_launches):
    """`ros2 launch enet_ros FILE --show-args`: every argument, described; the shipped
    parameters and rviz off unless asked."""
    status, output, left = short_launches(distro)[(file_name, "--show-args")]
    assert status == 0 and not left, (left, output)
    arguments = shown_arguments(output)
    assert set(arguments) == EXPECTED_ARGUMENTS[file_name], output
    for name, (description, _) in arguments.items():
        assert len(description) > 15 and description != "no description given", name
    # the shipped parameters by default (only segment.launch.py's default is also launched)
    assert re.search(r"FindPackageShare\(pkg='enet_ros'\).*'config'.*'segment\.yaml'",
                     arguments["params_file"][1]), arguments["params_file"]
    if file_name == SEGMENT:
        assert arguments["rviz"][1] == "'false'"


@pytest.mark.parametrize("distro", DISTROS)
@pytest.mark.parametrize("file_name, arguments, message", REFUSED,
                         ids=[f"{f.split('.')[0]}-{a[0].split(':=')[0]}" for f, a, _ in REFUSED])
def test_a_refused_value_is_one_error_and_starts_nothing(distro, file_name, arguments, message,
                                                         short_launches):
    status, output, left = short_launches(distro)[(file_name, *arguments)]
    assert status == 1 and not left, (left, output)
    lines = output.strip().splitlines()
    assert message in lines[-1], output      # launch's last word (Foxy: after a traceback)
    assert "process started" not in output, output
