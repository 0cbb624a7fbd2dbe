"""Launch files, config/segment.yaml and rviz/segment.rviz: the checks real launch cannot make.

test_ros2_launch.py runs both launch files with the real launch library of each distribution
(arguments, parameters, params files, remapping, namespaces, rviz, errors). What stays here it
cannot see: what a launch file does when merely imported (launch imports and runs it and is
content with any side effect), what rviz shows (rviz2 is not on PyPI: the launch tests start a
stand-in that records its command line), the camera list's parsing rules one by one (cheaper as a
function than as launches), and the parameter file's documentation.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from enet_ros.ros import params

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))
MULTI = ROOT / "launch" / "multi_camera.launch.py"


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


def test_launch_files_are_plain_and_declarative():
    """Only imports, constants and functions at module level: importing one does nothing (no
    side effect at import, no eval or process of its own: DESIGN.md's anti-patterns)."""
    assert {p.name for p in LAUNCH_FILES} == {"segment.launch.py", "multi_camera.launch.py"}
    for launch_file in LAUNCH_FILES:
        _check_plain(launch_file)


def _check_plain(launch_file: Path) -> None:
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


def test_rviz_config_shows_the_relative_overlay_and_colour_without_tf():
    """segment.rviz names enet/overlay and enet/color relative, and needs no TF: rviz, started
    in the node's namespace (test_ros2_launch.py checks that it is), shows that camera's."""
    config = yaml.safe_load((ROOT / "rviz" / "segment.rviz").read_text(encoding="utf-8"))
    manager = config["Visualization Manager"]
    assert manager["Transformation"]["Current"]["Class"] == "rviz_common/Identity"
    shown = {d["Topic"]["Value"] for d in manager["Displays"]
             if d["Class"] == "rviz_default_plugins/Image" and d["Enabled"]}
    assert shown == {"enet/overlay", "enet/color"}


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


def _comments() -> dict[str, str]:
    """Each parameter of config/segment.yaml and its comment: the comment block above it (shared
    by a group of keys) and its own comment on the line, whitespace collapsed."""
    lines = (ROOT / "config" / "segment.yaml").read_text(encoding="utf-8").splitlines()
    comments = {}
    for i, line in enumerate(lines):
        match = re.match(r"^    (\w+):[^#]*(#.*)?$", line)
        if not match:
            continue
        block: list[str] = []
        for previous in reversed(lines[:i]):
            if previous.startswith("    # "):
                block.insert(0, previous.strip(" #"))
            elif block or not previous.startswith("    "):
                break  # the block ends; or the top of the parameters, with no block
        comments[match.group(1)] = " ".join(" ".join(block + [match.group(2) or ""]).split())
    return comments


def test_config_documents_each_parameters_limits_and_whether_it_changes_at_run_time():
    """What `ros2 param describe` shows (read-only, range, step, choices), the file says too."""
    comments = _comments()
    assert set(comments) == set(params.PARAM_NAMES)
    for spec in params.PARAMS:
        text = comments[spec.name]
        assert ("Read-only" in text) == spec.read_only, spec.name
        assert ("changeable at run time" in text.lower()) == (not spec.read_only), spec.name
        limits = spec.int_range or spec.float_range
        if limits:  # "lo to hi", either maybe followed by an aside in parentheses
            stated = {(float(lo), float(hi)) for lo, hi in re.findall(
                r"(\d+(?:\.\d+)?)(?: \([^)]*\))? to (\d+(?:\.\d+)?)", text)}
            assert (float(limits[0]), float(limits[1])) in stated, (spec.name, text)
        if spec.int_range:
            step = spec.int_range[2]
            assert (f"multiples of {step}" in text) == (step > 1), (spec.name, text)
        for choice in spec.choices or ():
            assert re.search(rf"(?<![\w-]){re.escape(choice)}(?![\w-])", text), (spec.name,
                                                                                  choice)


def test_rviz_shows_the_points_coloured_by_class():
    """The cloud display draws each point in its class colour (the rgb field) where it is."""
    config = yaml.safe_load((ROOT / "rviz" / "segment.rviz").read_text(encoding="utf-8"))
    (cloud,) = [d for d in config["Visualization Manager"]["Displays"]
                if d["Class"] == "rviz_default_plugins/PointCloud2"]
    assert cloud["Enabled"] and cloud["Topic"]["Value"] == "enet/points"
    assert (cloud["Color Transformer"], cloud["Position Transformer"]) == ("RGB8", "XYZ")
