"""Launch files, config/segment.yaml and rviz/segment.rviz, checked without ROS 2 launch.

launch and launch_ros are not on PyPI. The launch files are read as syntax trees (nothing runs at
import), and run against a stand-in for the launch API of each distribution (_launch_stand_in.py,
built from the API lists in _ros_distro_api.py): what they declare and the nodes, parameters and
remappings they would start are compared with the node's parameter table (enet_ros.ros.params),
config/segment.yaml and rviz/segment.rviz.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

import _launch_stand_in as stand_in
from _ros_distro_api import DISTROS
from enet_ros.ros import params

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))
SEGMENT = ROOT / "launch" / "segment.launch.py"
MULTI = ROOT / "launch" / "multi_camera.launch.py"
NODE_TOPICS = {"image", "image/compressed", "camera_info"}
PARAMS_FILE = f"{stand_in.SHARE}/enet_ros/config/segment.yaml"


def _tree(path: Path) -> ast.Module:
    source = path.read_text(encoding="utf-8")
    compile(source, str(path), "exec")  # a syntax error fails here, with its line
    return ast.parse(source, str(path))


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(
        func, ast.Attribute) else ""


def _config() -> dict:
    document = yaml.safe_load((ROOT / "config" / "segment.yaml").read_text(encoding="utf-8"))
    assert list(document) == ["/**"] and list(document["/**"]) == ["ros__parameters"]
    return document["/**"]["ros__parameters"]


def node_parameters(launched: stand_in.Launched, node: stand_in.LaunchObject,
                    files: dict[str, dict]) -> dict:
    """The parameters the node ends up with: launch_ros hands over the list in order, params
    files and dicts alike, and a later entry overrides an earlier one."""
    merged: dict = {}
    for entry in node.arg("parameters"):
        if isinstance(entry, dict):
            merged.update({k: launched.resolve(v) for k, v in entry.items()})
        else:
            merged.update(files[launched.resolve(entry)])
    return merged


@pytest.fixture(params=LAUNCH_FILES, ids=lambda p: p.name)
def launch_file(request) -> Path:
    return request.param


def test_both_launch_files_exist():
    assert {p.name for p in LAUNCH_FILES} >= {"segment.launch.py", "multi_camera.launch.py"}


def test_launch_file_is_plain_and_declarative(launch_file):
    """Only imports, constants and functions at module level: importing it does nothing."""
    tree = _tree(launch_file)
    for stmt in tree.body:
        ok = isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef)) or (
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)) or (
            isinstance(stmt, ast.Assign) and isinstance(stmt.value, (ast.Constant, ast.List)))
        assert ok, f"{launch_file.name}:{stmt.lineno}: a statement that runs at import"
    assert "generate_launch_description" in {f.name for f in tree.body
                                             if isinstance(f, ast.FunctionDef)}
    banned = {"eval", "exec", "system", "Popen", "run", "check_call", "PythonExpression"}
    used = {_name(c.func) for c in ast.walk(tree) if isinstance(c, ast.Call)}
    assert not used & banned, f"{launch_file.name} calls {used & banned}"


@pytest.mark.parametrize("distro", DISTROS)
def test_every_argument_has_a_description_and_valid_choices(launch_file, distro):
    """Runs on each distribution's launch API: a keyword it lacks fails the stand-in."""
    launched = stand_in.run(launch_file, distro)
    assert launched.arguments and launched.nodes
    for name, argument in launched.arguments.items():
        assert len(argument.arg("description") or "") > 15, name
        choices = argument.arg("choices")
        if choices is not None:
            assert argument.arg("default_value") in choices, name


def test_segment_launch_declares_the_documented_arguments():
    launched = stand_in.run(SEGMENT, "humble")
    assert set(launched.arguments) >= {"image", "camera_info", "model", "input_width",
                                       "input_height", "palette", "overlay_alpha", "params_file",
                                       "namespace", "use_compressed", "rviz"}
    assert launched.arguments["rviz"].arg("default_value") == "false"
    assert launched.node("rviz2") == []  # rviz only when asked


def test_lifecycle_argument_starts_the_managed_node():
    assert [n.arg("executable") for n in stand_in.run(SEGMENT, "humble").node("enet_ros")] == \
        ["segment_node"]
    launched = stand_in.run(SEGMENT, "humble", {"lifecycle": "true"})
    assert [n.arg("executable") for n in launched.node("enet_ros")] == ["segment_lifecycle_node"]


@pytest.mark.parametrize("path", [SEGMENT, MULTI], ids=lambda p: p.name)
def test_launched_parameters_exist_in_node_and_config(path):
    """Each parameter a launch file can set is declared by the node and documented in the
    config, with a value of the node's type."""
    config = _config()
    given = {"model": "/m.onnx", "input_width": "320", "input_height": "240",
             "palette": "camvid", "overlay_alpha": "0.3", "use_compressed": "true"}
    launched = stand_in.run(path, "humble", {k: v for k, v in given.items()
                                             if k in _declared(path)})
    for node in launched.node("enet_ros"):
        assert node.arg("executable") == "segment_node"
        dicts = [e for e in node.arg("parameters") if isinstance(e, dict)]
        assert dicts, "given arguments set no parameter"
        for key, value in dicts[0].items():
            assert key in params.PARAM_NAMES and key in config, key
            assert type(value) is type(params.spec(key).default), (key, value)


def _declared(path: Path) -> set[str]:
    return set(stand_in.run(path, "humble").arguments)


USER_FILE = {"model": "/robot/models/mine.onnx", "palette": "cityscapes", "input_width": 320,
             "input_height": 240, "overlay_alpha": 0.8, "transport": "compressed"}


@pytest.mark.parametrize("distro", DISTROS)
def test_a_params_file_wins_over_launch_defaults(distro):
    """The bug this guards against: a dict of launch defaults after params_file replaced the
    user's model, palette, size and transport with the shipped defaults."""
    files = {"/robot/mine.yaml": USER_FILE}
    launched = stand_in.run(SEGMENT, distro, {"params_file": "/robot/mine.yaml"})
    (node,) = launched.node("enet_ros")
    assert node_parameters(launched, node, files) == USER_FILE
    assert node.arg("parameters")[1:] == []  # nothing but the file

    for_multi = stand_in.run(MULTI, distro, {"params_file": "/robot/mine.yaml",
                                             "cameras": "front,rear"})
    for node in for_multi.node("enet_ros"):
        assert node_parameters(for_multi, node, files) == USER_FILE


@pytest.mark.parametrize("distro", DISTROS)
def test_a_launch_argument_given_explicitly_wins_over_the_params_file(distro):
    files = {"/robot/mine.yaml": USER_FILE}
    launched = stand_in.run(SEGMENT, distro, {
        "params_file": "/robot/mine.yaml", "model": "/tmp/other.onnx", "input_width": "640",
        "overlay_alpha": "0.25", "use_compressed": "false"})
    (node,) = launched.node("enet_ros")
    assert node_parameters(launched, node, files) == {
        **USER_FILE, "model": "/tmp/other.onnx", "input_width": 640, "overlay_alpha": 0.25,
        "transport": "raw"}
    multi = stand_in.run(MULTI, distro, {"params_file": "/robot/mine.yaml",
                                         "use_compressed": "false"})
    (node,) = multi.node("enet_ros")
    assert node_parameters(multi, node, files)["transport"] == "raw"


def test_the_shipped_params_file_is_the_default():
    files = {PARAMS_FILE: _config()}
    for path in LAUNCH_FILES:
        launched = stand_in.run(path, "jazzy")
        for node in launched.node("enet_ros"):
            assert node_parameters(launched, node, files) == _config()


def test_a_malformed_number_is_a_clear_error():
    with pytest.raises(ValueError, match=r"input_width:='wide' is not a valid int"):
        stand_in.run(SEGMENT, "humble", {"input_width": "wide"})
    with pytest.raises(RuntimeError, match="use_compressed"):
        stand_in.run(SEGMENT, "humble", {"use_compressed": "yes"})


def test_segment_launch_remaps_node_topics():
    launched = stand_in.run(SEGMENT, "kilted", {"image": "/front/image_raw",
                                                "camera_info": "/front/info",
                                                "depth": "/front/depth_registered"})
    (node,) = launched.node("enet_ros")
    remaps = {k: launched.resolve(v) for k, v in node.arg("remappings")}
    assert remaps == {"image": "/front/image_raw", "image/compressed":
                      "/front/image_raw/compressed", "camera_info": "/front/info",
                      "depth": "/front/depth_registered"}


def _rviz_topics() -> set[str]:
    config = yaml.safe_load((ROOT / "rviz" / "segment.rviz").read_text(encoding="utf-8"))
    manager = config["Visualization Manager"]
    assert manager["Transformation"]["Current"]["Class"] == "rviz_common/Identity"
    return {d["Topic"]["Value"] for d in manager["Displays"]
            if d["Class"] == "rviz_default_plugins/Image" and d["Enabled"]}


def test_rviz_shows_the_points_coloured_by_class():
    config = yaml.safe_load((ROOT / "rviz" / "segment.rviz").read_text(encoding="utf-8"))
    (cloud,) = [d for d in config["Visualization Manager"]["Displays"]
                if d["Class"] == "rviz_default_plugins/PointCloud2"]
    assert cloud["Enabled"] and cloud["Topic"]["Value"] == "enet/points"
    assert (cloud["Color Transformer"], cloud["Position Transformer"]) == ("RGB8", "XYZ")


def _resolve_topic(namespace: str, topic: str) -> str:
    """ROS 2 name resolution of a relative or absolute topic in a node's namespace."""
    if topic.startswith("/"):
        return topic
    namespace = namespace.strip("/")
    return f"/{namespace}/{topic}" if namespace else f"/{topic}"


@pytest.mark.parametrize("namespace", ["", "front"])
def test_rviz_in_a_namespace_shows_that_cameras_overlay(namespace):
    """Relative topics in segment.rviz, rviz started in the node's namespace: rviz subscribes to
    exactly the node's enet/overlay and enet/color, and needs no TF for them."""
    launched = stand_in.run(SEGMENT, "humble", {"namespace": namespace, "rviz": "true"})
    (rviz,) = launched.node("rviz2")
    (node,) = launched.node("enet_ros")
    rviz_ns, node_ns = launched.resolve(rviz.arg("namespace")), launched.resolve(
        node.arg("namespace"))
    assert rviz_ns == node_ns == namespace
    shown = {_resolve_topic(rviz_ns, t) for t in _rviz_topics()}
    published = {_resolve_topic(node_ns, f"enet/{o}") for o in ("overlay", "color")}
    assert shown == published
    config_arg = launched.resolve(rviz.arg("arguments")[1])
    assert config_arg == f"{stand_in.SHARE}/enet_ros/rviz/segment.rviz"
    assert (ROOT / "rviz" / "segment.rviz").is_file()


def test_multi_camera_starts_one_distinguishable_node_per_camera():
    launched = stand_in.run(MULTI, "humble", {"cameras": "front, rear"})
    nodes = launched.node("enet_ros")
    names = {f"/{n.arg('namespace')}/{n.arg('name')}" for n in nodes}
    assert names == {"/front/enet_segment", "/rear/enet_segment"}
    for node in nodes:
        assert {k for k, _ in node.arg("remappings")} == NODE_TOPICS
    with pytest.raises(ValueError, match="cameras is empty"):
        stand_in.run(MULTI, "humble", {"cameras": " , "})


def _load_function(path: Path, name: str):
    """One function of a launch file, compiled alone: no launch import needed."""
    tree = _tree(path)
    (func,) = [f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == name]
    namespace: dict = {}
    exec(compile(ast.Module([func], []), str(path), "exec"), namespace)
    return namespace[name]


def test_multi_camera_parses_the_camera_list():
    split = _load_function(MULTI, "camera_namespaces")
    assert split("front,rear") == ["front", "rear"]
    assert split(" [ '/front' , rear, front, ] ") == ["front", "rear"]
    assert split("") == []


def test_config_documents_every_parameter_with_the_node_defaults():
    config = _config()
    assert set(config) == set(params.PARAM_NAMES)
    for spec in params.PARAMS:
        assert config[spec.name] == spec.default and type(config[spec.name]) is type(
            spec.default), spec.name
    lines = (ROOT / "config" / "segment.yaml").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^    (\w+):", line)
        if match:
            previous = next(l for l in reversed(lines[:i]) if l.strip())
            commented = "#" in line or previous.strip().startswith("#") or re.match(
                r"^    \w+:", previous)  # a key sharing the comment above a group
            assert commented, f"{match.group(1)} has no comment"
