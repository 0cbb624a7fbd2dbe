"""The node and the launch files use only API that every supported ROS 2 distribution has.

The tests run Jazzy's rclpy from PyPI, which cannot tell that Humble's Node lacks a method. So
node.py and the launch files are read as syntax trees and every rclpy / launch / launch_ros
name they use (imports, Node methods and their keywords, Publisher and logger methods, the
launch classes' keywords) is looked up in the API lists of Foxy, Humble, Jazzy and Kilted
(_ros_distro_api.py: read its docstring for where they come from). A name one distribution
lacks may be used only behind a feature check: ``hasattr(x, "name")`` in the same module, or
an import inside ``try`` whose ``except ImportError`` gives the fallback.

Foxy (JetPack 4.6 boards, in containers) is checked too, and what node.py still uses that Foxy
lacks is listed in FOXY_GAPS, so the test names each one and fails when one is added or fixed.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from _ros_distro_api import DISTROS, LAUNCH, RCLPY

ROOT = Path(__file__).resolve().parents[1]
NODE_PY = ROOT / "enet_ros" / "ros" / "node.py"
LAUNCH_FILES = sorted((ROOT / "launch").glob("*.launch.py"))
NODE_CLASS = "rclpy.node.Node"
# Methods called on objects the node gets from rclpy (publishers, loggers), by class.
HELD_CLASSES = ("rclpy.publisher.Publisher", "rclpy.impl.rcutils_logger.RcutilsLogger")
# node.py's uses of API that Foxy's rclpy (1.0.13) lacks, each with its fallback there: none left
# (QoSOverridingOptions, resolve_topic_name and get_fully_qualified_name are feature-checked).
FOXY_GAPS: list[str] = []


def _feature_checked(tree: ast.Module) -> set[str]:
    """Names tested with hasattr(...): used only where the distribution has them."""
    return {c.args[1].value for c in ast.walk(tree) if isinstance(c, ast.Call)
            and isinstance(c.func, ast.Name) and c.func.id == "hasattr"
            and isinstance(c.args[1], ast.Constant)}


def _guarded_imports(tree: ast.Module) -> set[int]:
    """ids of the imports inside a ``try`` that catches ImportError (the fallback's there)."""
    guarded = set()
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError",
                                                               "ModuleNotFoundError")
                for h in stmt.handlers):
            guarded |= {id(s) for s in stmt.body if isinstance(s, ast.ImportFrom)}
    return guarded


def rclpy_problems(source: str, distro: str) -> list[str]:
    """Every use of rclpy API in ``source`` (a node module) that ``distro`` lacks."""
    api = RCLPY[distro]
    tree = ast.parse(source)
    checked = _feature_checked(tree)
    guarded = _guarded_imports(tree)
    problems = []
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.ImportFrom) and (stmt.module or "").split(".")[0] == "rclpy":
            if id(stmt) in guarded:
                continue
            if stmt.module not in api:
                known = any(stmt.module in RCLPY[d] for d in DISTROS)
                problems.append(f"from {stmt.module}: {distro} has no such module" if known
                                else f"from {stmt.module}: module not in the API lists "
                                     f"(add it to _extract_ros_api.py)")
                continue
            problems += [f"{stmt.module}.{a.name}" for a in stmt.names
                         if a.name not in api[stmt.module].split()]
        elif isinstance(stmt, ast.Attribute) and isinstance(stmt.value, ast.Name) \
                and stmt.value.id == "rclpy":
            module = f"rclpy.{stmt.attr}"
            if stmt.attr not in api["rclpy"].split() and module not in api:
                problems.append(module)
    node_methods = api[NODE_CLASS]
    for cls in [c for c in tree.body if isinstance(c, ast.ClassDef)
                and any(isinstance(b, ast.Name) and b.id == "Node" for b in c.bases)]:
        own = {f.name for f in cls.body if isinstance(f, ast.FunctionDef)}
        for call in [c for c in ast.walk(cls) if isinstance(c, ast.Call)]:
            func = call.func
            if not isinstance(func, ast.Attribute):
                continue
            if isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name) \
                    and func.value.func.id == "super":
                method = func.attr          # super().__init__(...)
            elif isinstance(func.value, ast.Name) and func.value.id == "self" \
                    and func.attr not in own:
                method = func.attr
            else:
                continue
            if method in checked:
                continue
            if method not in node_methods:
                problems.append(f"Node.{method}")
                continue
            params = node_methods[method].split()
            problems += [f"Node.{method}({k.arg}=)" for k in call.keywords
                         if k.arg and k.arg not in params]
    held = {name for c in HELD_CLASSES for d in DISTROS for name in RCLPY[d][c]}
    for call in [c for c in ast.walk(tree) if isinstance(c, ast.Call)]:
        method = call.func.attr if isinstance(call.func, ast.Attribute) else None
        if method in held and method not in checked and not any(
                method in api[c] for c in HELD_CLASSES):
            problems.append(f"{method}() of a publisher or logger")
    return problems


def launch_problems(source: str, distro: str) -> list[str]:
    """Every launch / launch_ros import in ``source`` that ``distro`` lacks, and every keyword
    (or surplus positional argument) given to an imported class that its constructor in
    ``distro``'s first release does not take. The launch tests run the latest patch releases,
    which may take more."""
    api = LAUNCH[distro]
    tree = ast.parse(source)
    problems = []
    constructors: dict[str, list[str]] = {}  # imported name -> its constructor's parameters
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.ImportFrom) and (stmt.module or "").split(".")[0] in (
                "launch", "launch_ros"):
            names = api.get(stmt.module)
            if names is None:
                problems.append(f"from {stmt.module}: module not in the API lists")
                continue
            for alias in stmt.names:
                if alias.name not in names:
                    problems.append(f"{stmt.module}.{alias.name}")
                else:
                    constructors[alias.asname or alias.name] = names[alias.name].split()
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id in constructors):
            continue
        params = constructors[call.func.id]
        if len(call.args) > len(params) and not any(isinstance(a, ast.Starred)
                                                    for a in call.args):
            problems.append(f"{call.func.id}() with {len(call.args)} positional arguments")
        problems += [f"{call.func.id}({k.arg}=)" for k in call.keywords
                     if k.arg and k.arg not in params]
    return problems


@pytest.mark.parametrize("distro", DISTROS)
def test_node_uses_only_rclpy_api_the_distribution_has(distro):
    """Foxy: exactly the known gaps, each to be given a fallback (then removed from the list)."""
    problems = sorted(set(rclpy_problems(NODE_PY.read_text(encoding="utf-8"), distro)))
    assert problems == (FOXY_GAPS if distro == "foxy" else [])


@pytest.mark.parametrize("distro", DISTROS)
def test_the_demo_uses_only_rclpy_api_the_distribution_has(distro):
    """enet-ros demo is a ROS participant of its own (its camera and listener node)."""
    demo = ROOT / "enet_ros" / "ros" / "demo.py"
    assert rclpy_problems(demo.read_text(encoding="utf-8"), distro) == []


@pytest.mark.parametrize("distro", DISTROS)
@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_imports_only_what_the_distribution_has(path, distro):
    """Its imports and the keywords of the launch classes it constructs."""
    assert launch_problems(path.read_text(encoding="utf-8"), distro) == []


def test_the_checks_catch_what_humble_lacks():
    """The uses that kept the package off Humble, found by the same checks."""
    node = ("from rclpy.node import Node\nclass N(Node):\n    def start(self):\n"
            "        self.add_post_set_parameters_callback(self.f)\n"
            "        self.create_subscription(int, 't', self.f, 1, bogus=1)\n")
    assert rclpy_problems(node, "humble") == ["Node.add_post_set_parameters_callback",
                                              "Node.create_subscription(bogus=)"]
    assert rclpy_problems(node, "jazzy") == ["Node.create_subscription(bogus=)"]
    guarded = node.replace("        self.add_post", "        if hasattr(self, "
                           "'add_post_set_parameters_callback'):\n            self.add_post")
    assert rclpy_problems(guarded, "humble") == ["Node.create_subscription(bogus=)"]
    launch = "from launch.substitutions import IfElseSubstitution, LaunchConfiguration\n"
    assert launch_problems(launch, "humble") == ["launch.substitutions.IfElseSubstitution"]
    assert launch_problems(launch, "jazzy") == launch_problems(launch, "kilted") == []
    call = launch + "LaunchConfiguration('x', 'default', 'extra', bogus=1)\n"
    assert launch_problems(call, "jazzy") == ["LaunchConfiguration() with 3 positional "
                                              "arguments", "LaunchConfiguration(bogus=)"]


def test_imports_guarded_by_import_error_are_fallbacks_not_gaps():
    node = ("try:\n    from rclpy.lifecycle.node import LifecycleNode\nexcept ImportError:\n"
            "    LifecycleNode = None\n"
            "from rclpy.qos_overriding_options import QoSOverridingOptions\n")
    assert rclpy_problems(node, "foxy") == [
        "from rclpy.qos_overriding_options: foxy has no such module"]
    assert sorted(rclpy_problems(node.replace("ImportError", "KeyError"), "foxy")) == [
        "from rclpy.lifecycle.node: foxy has no such module",
        "from rclpy.qos_overriding_options: foxy has no such module"]
    assert rclpy_problems(node, "humble") == []


def test_api_lists_hold_what_the_node_relies_on():
    """Facts read off the released sources that the node's feature checks depend on."""
    subscription = "rclpy.subscription.Subscription"
    assert "rclpy.lifecycle.node" not in RCLPY["foxy"]             # plain node only
    assert "CallbackType" not in RCLPY["foxy"][subscription]
    assert "CallbackType" not in RCLPY["humble"][subscription]      # no message info
    assert "CallbackType" in RCLPY["jazzy"][subscription]
    assert "CallbackType" in RCLPY["kilted"][subscription]
    for distro in DISTROS:
        assert "add_on_set_parameters_callback" in RCLPY[distro][NODE_CLASS]
        assert ("get_fully_qualified_name" in RCLPY[distro][NODE_CLASS]) is (distro != "foxy")
