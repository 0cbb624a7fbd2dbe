"""`ros2 launch PACKAGE FILE [--show-args] [NAME:=VALUE ...]`, through ros2launch.api.

Run with one distribution's launch, launch_ros and ros2launch on PYTHONPATH (see
_launch_harness.py). ros2cli, which owns the `ros2` command, is not on PyPI, so this script does
what its `launch` verb does (ros2launch/command/launch.py, alike in Foxy, Humble, Jazzy and
Kilted) with the same ros2launch.api calls: find FILE in the package's share folder (the ament
index), then print the file's arguments or launch it, interactive as from a terminal (Ctrl-C
reaches the nodes from the terminal; launch does not forward it). What ros2cli adds around the
verb is kept: an error comes back as text, printed on stderr with exit status 1, and the launch
service's return code is the exit status.

`_ros2_launch.py --each FOLDER` runs each command line of FOLDER/commands.json (a list of
argument lists) as its own process, forked from this one once launch is imported (a second of
the two a short launch takes): FOLDER/<i>.log gets its output, FOLDER/<i>.status its exit status.
A forked child ends as the process of a command would, by unwinding to the interpreter's exit,
and adds /<i> to the mark _launch_harness.py gives the processes of a launch (MARK), so that a
process left behind is traced to its command.
"""
import json
import os
import sys
from pathlib import Path

from ros2launch.api import (MultipleLaunchFilesError, get_share_file_path_from_package,
                            launch_a_launch_file, print_arguments_of_launch_file)

MARK = "ENET_ROS_TEST_LAUNCH"


def main(argv: list) -> "int | str | None":
    package, file_name, *arguments = argv
    show_args = "--show-args" in arguments
    arguments = [a for a in arguments if a != "--show-args"]
    try:
        path = get_share_file_path_from_package(package_name=package, file_name=file_name)
    except LookupError as exc:  # ament_index_python's PackageNotFoundError, a KeyError
        return "Package '{}' not found: {}".format(package, exc)
    except (FileNotFoundError, MultipleLaunchFilesError) as exc:
        return str(exc)
    if show_args:
        return print_arguments_of_launch_file(launch_file_path=path)
    return launch_a_launch_file(launch_file_path=path, launch_file_arguments=arguments)


def each(folder: Path) -> None:
    """Every command of folder/commands.json in a child process of its own, one after another."""
    for index, argv in enumerate(json.loads((folder / "commands.json").read_text())):
        pid = os.fork()
        if pid == 0:
            log = os.open(folder / f"{index}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.environ[MARK] = f"{os.environ.get(MARK, '')}/{index}"
            sys.exit(main(argv))    # the child unwinds from here to the interpreter's exit
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        (folder / f"{index}.status").write_text(str(status))


if __name__ == "__main__":
    if sys.argv[1] == "--each":
        each(Path(sys.argv[2]))
    else:
        sys.exit(main(sys.argv[1:]))
