"""Regenerate test/_ros_distro_api.py from the released sources of each ROS 2 distribution.

Not a test: a tool for the day a distribution is added or a release changes the API.

    python test/_extract_ros_api.py SRC [DISTRO ...] > new.py && mv new.py test/_ros_distro_api.py

With DISTRO names, only those are read from SRC and every other distribution's lists are kept
from the current test/_ros_distro_api.py (how Foxy was added).

SRC holds one folder per distribution, each with the Python packages rclpy, launch and
launch_ros as released (`git archive` of the release tags named in SOURCES below, from the
ros2-gbp release repositories rclpy-release, launch-release and launch_ros-release, which
carry each distribution's branch of ros2/rclpy, ros2/launch and ros2/launch_ros as shipped).
Each distribution's first release is used: releases only add API, so what the first one has,
every installation of that distribution has (IfElseSubstitution, for one, reached Humble only in
launch 1.0.9, 2025, so a Humble not updated since lacks it). The lists are read from the syntax
trees; nothing is imported. A module a distribution lacks (Foxy has no rclpy.lifecycle and no
rclpy.qos_overriding_options) is left out of its lists.

Foxy is the exception to the first release: it is end-of-life, built from source (JetPack 4.6
boards run it in containers), and a source build takes the foxy branch of ros2/rclpy, whose head
is its last release, 1.0.13; its launch and launch_ros are those of ../shared/ros2-launch/foxy
(0.10.10, 0.11.7), the ones the launch-file tests run.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path
from pprint import pformat

SOURCES = {
    "foxy": {"rclpy": "ros2/rclpy branch foxy (1.0.13, 8cf7680)",
             "launch": "launch 0.10.10 (../shared/ros2-launch/foxy)",
             "launch_ros": "launch_ros 0.11.7 (../shared/ros2-launch/foxy)"},
    "humble": {"rclpy": "release/humble/rclpy/3.3.2-2",
               "launch": "release/humble/launch/1.0.1-2",
               "launch_ros": "release/humble/launch_ros/0.19.2-2"},
    "jazzy": {"rclpy": "release/jazzy/rclpy/7.1.1-2",
              "launch": "release/jazzy/launch/3.4.2-2",
              "launch_ros": "release/jazzy/launch_ros/0.26.5-2"},
    "kilted": {"rclpy": "release/kilted/rclpy/9.1.0-2",
               "launch": "release/kilted/launch/3.8.1-2",
               "launch_ros": "release/kilted/launch_ros/0.28.1-2"},
}
# Said in the generated file's docstring: what was not read from the sources above.
HAND_ADDED = """rclpy.lifecycle.node was added by hand with the same tool's public_names (the
release tags above but Kilted's, whose rclpy 9.1.0 was not in the mirror at hand: Kilted's entry is
rclpy master at 7.7.0, 2024-11, whose lifecycle module is Jazzy's plus type hints).
rclpy.context and rclpy.expand_topic_name were added the same way from the foxy, humble and jazzy branches of
ros2/rclpy and 7.7.0 for Kilted (the demo's own context; the node's fallback where resolve_topic_name is missing)."""
# Modules whose public names the node or the launch files may import.
RCLPY_MODULES = ("rclpy", "rclpy.node", "rclpy.executors", "rclpy.exceptions", "rclpy.parameter",
                 "rclpy.lifecycle.node", "rclpy.expand_topic_name", "rclpy.context",
                 "rclpy.qos", "rclpy.qos_overriding_options", "rclpy.subscription",
                 "rclpy.publisher", "rclpy.logging")
# Classes whose methods (with their parameter names) the node calls.
RCLPY_CLASSES = ("rclpy.node.Node", "rclpy.publisher.Publisher", "rclpy.subscription.Subscription",
                 "rclpy.impl.rcutils_logger.RcutilsLogger")
LAUNCH_MODULES = ("launch", "launch.actions", "launch.conditions", "launch.substitutions",
                  "launch_ros.actions", "launch_ros.substitutions",
                  "launch_ros.parameter_descriptions")


def module_file(root: Path, module: str) -> Path:
    path = root.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def tree(root: Path, module: str) -> ast.Module:
    return ast.parse(module_file(root, module).read_text(encoding="utf-8"))


def public_names(root: Path, module: str) -> list[str]:
    """``__all__`` when the module has one, else its public top-level names."""
    body = tree(root, module).body
    for stmt in body:
        if isinstance(stmt, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets):
            return sorted(ast.literal_eval(stmt.value))
    names: set[str] = set()
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, ast.ImportFrom):
            names |= {a.asname or a.name for a in stmt.names}
        elif isinstance(stmt, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
        elif isinstance(stmt, ast.Assign):
            names |= {t.id for t in stmt.targets if isinstance(t, ast.Name)}
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            names.add(stmt.target.id)
    return sorted(n for n in names if not n.startswith("_"))


def find_class(root: Path, module: str, name: str) -> tuple[str, ast.ClassDef] | None:
    """Where class ``name`` as seen from ``module`` is defined, following imports."""
    body = tree(root, module).body
    for stmt in body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == name:
            return module, stmt
    for stmt in body:
        if isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                if (alias.asname or alias.name) != name:
                    continue
                source = stmt.module or ""
                if stmt.level:  # relative: from the package holding ``module``
                    package = module if module_file(root, module).name == "__init__.py" \
                        else module.rpartition(".")[0]
                    for _ in range(stmt.level - 1):
                        package = package.rpartition(".")[0]
                    source = f"{package}.{source}" if source else package
                if source != module and (root / source.split(".")[0]).is_dir():
                    return find_class(root, source, alias.name)
    return None


def init_parameters(root: Path, module: str, cls: ast.ClassDef) -> list[str]:
    """Keyword names the constructor takes, following **kwargs into the base classes."""
    init = next((s for s in cls.body if isinstance(s, ast.FunctionDef)
                 and s.name == "__init__"), None)
    names: list[str] = []
    forwards = init is None
    if init is not None:
        a = init.args
        names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs if x.arg != "self"]
        forwards = a.kwarg is not None
    if forwards:
        for base in cls.bases:
            base_name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
            found = find_class(root, module, base_name) if base_name else None
            if found:
                names += [n for n in init_parameters(root, *found) if n not in names]
    return names


def methods(root: Path, dotted: str) -> dict[str, str]:
    """Public methods and class attributes of a class, each with its parameter names."""
    module, _, name = dotted.rpartition(".")
    _, cls = find_class(root, module, name)
    out: dict[str, str] = {}
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                not stmt.name.startswith("_") or stmt.name == "__init__"):
            a = stmt.args
            out[stmt.name] = " ".join(x.arg for x in a.posonlyargs + a.args + a.kwonlyargs
                                      if x.arg not in ("self", "cls"))
        elif isinstance(stmt, ast.ClassDef) and not stmt.name.startswith("_"):
            out[stmt.name] = "<class>"
    return dict(sorted(out.items()))


def extract(src: Path, distros: list[str]) -> tuple[dict, dict]:
    rclpy_api: dict = {}
    launch_api: dict = {}
    for distro in distros:
        root = src / distro
        rclpy_api[distro] = {m: " ".join(public_names(root, m)) for m in RCLPY_MODULES
                             if module_file(root, m).is_file()}
        rclpy_api[distro].update({c: methods(root, c) for c in RCLPY_CLASSES})
        launch_api[distro] = {}
        for module in [m for m in LAUNCH_MODULES if module_file(root, m).is_file()]:
            classes: dict[str, str] = {}
            for name in public_names(root, module):
                found = find_class(root, module, name)
                classes[name] = " ".join(init_parameters(root, *found)) if found else "<function>"
            launch_api[distro][module] = classes
    return rclpy_api, launch_api


def main() -> None:
    distros = sys.argv[2:] or list(SOURCES)
    rclpy_api, launch_api = extract(Path(sys.argv[1]), distros)
    if sys.argv[2:]:  # the other distributions as the current lists hold them
        sys.path.insert(0, str(Path(__file__).parent))
        from _ros_distro_api import LAUNCH, RCLPY

        rclpy_api = {**{d: v for d, v in RCLPY.items() if d in SOURCES}, **rclpy_api}
        launch_api = {**{d: v for d, v in LAUNCH.items() if d in SOURCES}, **launch_api}
    print('"""The API of rclpy, launch and launch_ros in each supported ROS 2 distribution.\n\n'
          "Generated by test/_extract_ros_api.py (read its docstring) from these release tags\n"
          "of the ros2-gbp release repositories (each distribution's branch of ros2/rclpy,\n"
          "ros2/launch and ros2/launch_ros as released), Foxy from the sources named:\n\n"
          + "\n".join(f"    {d}: " + ", ".join(t.values()) for d, t in SOURCES.items())
          + "\n\n" + HAND_ADDED
          + "\n\nModules map to their public names (space-separated); classes map each method\n"
          "or constructor to its parameter names. Edit only by regenerating.\n"
          '"""\n# flake8: noqa\n')
    print(f"DISTROS = {tuple(SOURCES)!r}\n")
    print(f"RCLPY = {pformat(rclpy_api, width=99, sort_dicts=True)}\n")
    print(f"LAUNCH = {pformat(launch_api, width=99, sort_dicts=True)}")


if __name__ == "__main__":
    main()
