"""Launch files, config/segment.yaml and rviz/segment.rviz, checked without ROS 2 launch.

launch and launch_ros are not on PyPI, so the launch files are never imported here: they are
compiled and read as syntax trees, and what they set is compared with the node's parameter
table (enet_ros.ros.params), which the node declares from.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from enet_ros.ros import params

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))
NODE_TOPICS = {"image", "image/compressed", "camera_info"}


def _tree(path: Path) -> ast.Module:
    source = path.read_text(encoding="utf-8")
    compile(source, str(path), "exec")  # a syntax error fails here, with its line
    return ast.parse(source, str(path))


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(
        func, ast.Attribute) else ""


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _name(n.func) == name]


def _kw(call: ast.Call, key: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == key), None)


def _launch_config_aliases(tree: ast.Module) -> set[str]:
    """Names bound to LaunchConfiguration (e.g. ``arg = LaunchConfiguration``)."""
    aliases = {"LaunchConfiguration"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) \
                and node.value.id == "LaunchConfiguration":
            aliases |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return aliases


def _arguments(tree: ast.Module) -> dict[str, ast.Call]:
    args = {}
    for call in _calls(tree, "DeclareLaunchArgument"):
        name = call.args[0]
        assert isinstance(name, ast.Constant), ast.dump(call)
        assert name.value not in args, f"argument {name.value} declared twice"
        args[name.value] = call
    return args


def _config() -> dict:
    document = yaml.safe_load((ROOT / "config" / "segment.yaml").read_text(encoding="utf-8"))
    assert list(document) == ["/**"] and list(document["/**"]) == ["ros__parameters"]
    return document["/**"]["ros__parameters"]


def _enet_nodes(tree: ast.Module) -> list[ast.Call]:
    return [c for c in _calls(tree, "Node")
            if isinstance(_kw(c, "package"), ast.Constant) and _kw(c, "package").value == "enet_ros"]


def _parameter_dicts(node: ast.Call) -> list[ast.Dict]:
    parameters = _kw(node, "parameters")
    assert isinstance(parameters, ast.List), "parameters must be a list literal"
    return [item for item in parameters.elts if isinstance(item, ast.Dict)]


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


def test_every_argument_has_a_description_and_valid_choices(launch_file):
    arguments = _arguments(_tree(launch_file))
    assert arguments
    for name, call in arguments.items():
        description = _kw(call, "description")
        assert isinstance(description, ast.Constant) and len(description.value) > 15, name
        choices, default = _kw(call, "choices"), _kw(call, "default_value")
        if choices is not None:
            values = ast.literal_eval(choices) if isinstance(choices, ast.List) \
                else _module_constants(_tree(launch_file))[choices.id]  # e.g. BOOLEAN
            assert isinstance(default, ast.Constant) and default.value in values, name


def _module_constants(tree: ast.Module) -> dict[str, object]:
    out = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            out[stmt.targets[0].id] = ast.literal_eval(stmt.value)
    return out


def test_segment_launch_declares_the_documented_arguments():
    arguments = _arguments(_tree(ROOT / "launch" / "segment.launch.py"))
    assert set(arguments) >= {"image", "camera_info", "model", "input_width", "input_height",
                              "palette", "overlay_alpha", "params_file", "namespace",
                              "use_compressed", "rviz"}
    assert _kw(arguments["rviz"], "default_value").value == "false"


def test_launched_parameters_exist_in_node_and_config_and_defaults_agree():
    """Each parameter a launch file sets is declared by the node and documented in the config,
    and a launch argument feeding one defaults to the config's value (so the arguments'
    defaults never silently override a params file with something else)."""
    config = _config()
    for path in LAUNCH_FILES:
        tree = _tree(path)
        aliases, arguments = _launch_config_aliases(tree), _arguments(tree)
        nodes = _enet_nodes(tree)
        assert nodes, f"{path.name} starts no enet_ros node"
        for node in nodes:
            assert _kw(node, "executable").value == "segment_node"
            for mapping in _parameter_dicts(node):
                for key, value in zip(mapping.keys, mapping.values):
                    assert isinstance(key, ast.Constant)
                    assert key.value in params.PARAM_NAMES, f"{path.name}: {key.value}"
                    assert key.value in config, f"{key.value} missing from segment.yaml"
                    assert _launch_default(value, aliases, arguments, key.value) \
                        == config[key.value], (path.name, key.value)


def _launch_default(value: ast.expr, aliases: set[str], arguments: dict[str, ast.Call],
                    param: str) -> object:
    """The value a launch file gives ``param`` when every argument keeps its default."""
    def default_of(call: ast.Call) -> str:
        return _kw(arguments[call.args[0].value], "default_value").value

    kind = type(params.spec(param).default)
    if isinstance(value, ast.Constant):
        return value.value
    if isinstance(value, ast.Call) and _name(value.func) == "ParameterValue":
        value = value.args[0]
    if isinstance(value, ast.Call) and _name(value.func) in aliases:
        text = default_of(value)
        return kind(text) if text else ""
    if isinstance(value, ast.Call) and _name(value.func) == "IfElseSubstitution":
        condition, when_true, when_false = value.args
        chosen = when_true if default_of(condition) == "true" else when_false
        assert {when_true.value, when_false.value} <= set(params.spec(param).choices or ())
        return chosen.value
    raise AssertionError(f"{param}: cannot read {ast.dump(value)}")


def test_segment_launch_remaps_node_topics_and_loads_config_and_rviz():
    tree = _tree(ROOT / "launch" / "segment.launch.py")
    (node,) = _enet_nodes(tree)
    remapped = {ast.literal_eval(pair.elts[0]) for pair in _kw(node, "remappings").elts}
    assert remapped == NODE_TOPICS
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert {"segment.yaml", "segment.rviz", "rviz2"} <= strings
    for folder, name in (("config", "segment.yaml"), ("rviz", "segment.rviz")):
        assert (ROOT / folder / name).is_file()
    (rviz,) = [c for c in _calls(tree, "Node") if _kw(c, "package").value == "rviz2"]
    assert _name(_kw(rviz, "condition").func) == "IfCondition"


def _load_function(path: Path, name: str):
    """One function of a launch file, compiled alone: no launch import needed."""
    tree = _tree(path)
    (func,) = [f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == name]
    namespace: dict = {}
    exec(compile(ast.Module([func], []), str(path), "exec"), namespace)
    return namespace[name]


def test_multi_camera_parses_the_camera_list():
    split = _load_function(ROOT / "launch" / "multi_camera.launch.py", "camera_namespaces")
    assert split("front,rear") == ["front", "rear"]
    assert split(" [ '/front' , rear, front, ] ") == ["front", "rear"]
    assert split("") == []
    tree = _tree(ROOT / "launch" / "multi_camera.launch.py")
    assert "cameras" in _arguments(tree)
    (node,) = _enet_nodes(tree)
    assert {ast.literal_eval(p.elts[0]) for p in _kw(node, "remappings").elts} == NODE_TOPICS


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


def test_rviz_shows_overlay_and_colour_images():
    config = yaml.safe_load((ROOT / "rviz" / "segment.rviz").read_text(encoding="utf-8"))
    displays = config["Visualization Manager"]["Displays"]
    images = {d["Topic"]["Value"] for d in displays
              if d["Class"] == "rviz_default_plugins/Image" and d["Enabled"]}
    assert images == {"/enet/overlay", "/enet/color"}
