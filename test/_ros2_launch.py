"""`ros2 launch PACKAGE FILE [--show-args] [NAME:=VALUE ...]`, through ros2launch.api.

Run with one distribution's launch, launch_ros and ros2launch on PYTHONPATH (see
_launch_harness.py). ros2cli, which owns the `ros2` command, is not on PyPI, so this script does
what its `launch` verb does (ros2launch/command/launch.py, alike in Foxy, Humble, Jazzy and
Kilted) with the same ros2launch.api calls: find FILE in the package's share folder (the ament
index), then print the file's arguments or launch it, interactive as from a terminal (Ctrl-C
reaches the nodes from the terminal; launch does not forward it). What ros2cli adds around the
verb is kept: an error comes back as text, printed on stderr with exit status 1, and the launch
service's return code is the exit status.
"""
import sys

from ros2launch.api import (MultipleLaunchFilesError, get_share_file_path_from_package,
                            launch_a_launch_file, print_arguments_of_launch_file)


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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
