"""A stand-in for launch and launch_ros, built from their API lists, to run our launch files.

launch and launch_ros are not on PyPI, so the tests cannot import them. This module puts
modules named launch, launch.actions, ... launch_ros.substitutions into ``sys.modules`` for the
time a launch file is loaded. Each of their names is a class that takes exactly the parameters
the real one takes in the chosen distribution (test/_ros_distro_api.py), so a wrong keyword or a
name a distribution lacks fails here as it would there. The few behaviours the launch files rely
on are those of the real API: ``LaunchConfiguration.perform`` reads
``context.launch_configurations``; ``DeclareLaunchArgument`` sets its default when the argument
is not given and refuses a value outside ``choices``; ``OpaqueFunction`` calls ``function(context)``
and launches what it returns; ``IfCondition`` is true for "true" or "1"; ``PathJoinSubstitution``
joins with "/".
"""
from __future__ import annotations

import importlib.util
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _ros_distro_api import LAUNCH

SHARE = "/opt/ros/share"   # where FindPackageShare says packages are installed


class LaunchObject:
    """One constructed launch object: its class name, positional and keyword arguments."""

    API: str = ""  # the constructor's parameter names, from the API list

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self.API.split()
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} arguments")
        unknown = set(kwargs) - set(names)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no parameter {sorted(unknown)}")
        twice = set(names[:len(args)]) & set(kwargs)
        if twice:
            raise TypeError(f"{type(self).__name__} got {sorted(twice)} twice")
        self.args, self.kwargs = args, kwargs

    def arg(self, name: str, default: Any = None) -> Any:
        """The argument given for parameter ``name``, positionally or by keyword."""
        names = self.API.split()
        if name in self.kwargs:
            return self.kwargs[name]
        index = names.index(name)
        return self.args[index] if index < len(self.args) else default


@dataclass
class Context:
    """The part of launch.LaunchContext the launch files touch."""

    launch_configurations: dict[str, str] = field(default_factory=dict)


def _perform(self: LaunchObject, context: Context) -> str:
    return context.launch_configurations[self.arg("variable_name")]


BEHAVIOUR = {"LaunchConfiguration": {"perform": _perform}}


def stand_in_modules(distro: str) -> dict[str, types.ModuleType]:
    """Modules launch, launch.actions, ... of ``distro``, each with its public names."""
    modules: dict[str, types.ModuleType] = {}
    for module_name, names in LAUNCH[distro].items():
        module = types.ModuleType(module_name)
        for name, params in names.items():
            setattr(module, name, type(name, (LaunchObject,),
                                       {"API": params, **BEHAVIOUR.get(name, {})}))
        modules[module_name] = module
    for name in ("launch_ros",):  # the package itself, when only its submodules are listed
        modules.setdefault(name, types.ModuleType(name))
    return modules


def load(path: Path, distro: str) -> types.ModuleType:
    """Import the launch file ``path`` against the stand-in API of ``distro``."""
    saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] in ("launch", "launch_ros")}
    for key in saved:
        del sys.modules[key]
    sys.modules.update(stand_in_modules(distro))
    try:
        spec = importlib.util.spec_from_file_location(path.name.replace(".", "_"), path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        for key in [k for k in sys.modules if k.split(".")[0] in ("launch", "launch_ros")]:
            del sys.modules[key]
        sys.modules.update(saved)


@dataclass
class Launched:
    """What ``ros2 launch`` would do: the declared arguments and the nodes it would start."""

    arguments: dict[str, LaunchObject]
    nodes: list[LaunchObject]
    context: Context

    def resolve(self, value: Any) -> Any:
        """A substitution (or a list of them) as the text launch would make of it."""
        if isinstance(value, list):
            return "".join(str(self.resolve(v)) for v in value)
        if not isinstance(value, LaunchObject):
            return value
        kind = type(value).__name__
        if kind == "LaunchConfiguration":
            return value.perform(self.context)
        if kind == "PathJoinSubstitution":
            return "/".join(str(self.resolve(part)) for part in value.arg("substitutions"))
        if kind == "FindPackageShare":
            return f"{SHARE}/{value.arg('package')}"
        raise AssertionError(f"the stand-in cannot resolve {kind}")

    def node(self, package: str) -> list[LaunchObject]:
        return [n for n in self.nodes if n.arg("package") == package]


def run(path: Path, distro: str, given: dict[str, str] | None = None) -> Launched:
    """Evaluate the launch file with launch arguments ``given`` (name -> text)."""
    description = load(path, distro).generate_launch_description()
    context = Context(dict(given or {}))
    launched = Launched({}, [], context)

    def visit(entity: LaunchObject) -> None:
        kind = type(entity).__name__
        condition = entity.kwargs.get("condition")
        if condition is not None and str(launched.resolve(condition.arg("predicate_expression"))
                                          ).lower() not in ("true", "1"):
            return
        if kind == "DeclareLaunchArgument":
            name = entity.arg("name")
            launched.arguments[name] = entity
            if name not in context.launch_configurations:
                context.launch_configurations[name] = str(
                    launched.resolve(entity.arg("default_value")))
            choices = entity.arg("choices")
            value = context.launch_configurations[name]
            if choices is not None and value not in choices:
                raise RuntimeError(f'Argument "{name}" provided value "{value}" is not valid')
        elif kind == "OpaqueFunction":
            for child in entity.arg("function")(context) or []:
                visit(child)
        elif kind == "Node":
            launched.nodes.append(entity)
        else:
            raise AssertionError(f"the stand-in does not run {kind}")

    for entity in description.arg("initial_entities"):
        visit(entity)
    return launched
