"""The files enet_ros ships beside its code: the default model, sample frames, palettes, configs.

They are found through the package that is running, never through the current directory, so
every command works from any folder:

1. a source checkout: the repository this code sits in (``package.xml`` next to ``enet_ros/``);
2. a pip install: the ``share/enet_ros`` folder that the installed distribution's RECORD lists
   (setup.py's data_files land wherever the install scheme put them: a venv, ``--user``,
   ``--prefix``), found through importlib.metadata;
3. a ROS 2 install (colcon, apt): ``share/enet_ros`` under each AMENT_PREFIX_PATH entry, where
   ament_index looks.

Each of these folders has the repository's layout: ``models/``, ``samples/``, ``config/``.
"""
import os
from pathlib import Path

try:
    from importlib import metadata
except ImportError:  # Python 3.6 and 3.7 (JetPack 4.6): the importlib-metadata backport
    import importlib_metadata as metadata

PACKAGE = "enet_ros"
DEFAULT_MODEL = "models/enet_camvid.onnx"
SAMPLES = "samples"
SAMPLE_SUFFIXES = (".jpg", ".jpeg", ".png")
_MARKER = "package.xml"   # present in the checkout and in every share/enet_ros


def _source_checkout() -> "Path | None":
    root = Path(__file__).resolve().parents[1]
    return root if (root / _MARKER).is_file() and (root / PACKAGE).is_dir() else None


def _installed_share() -> "Path | None":
    """share/enet_ros of the installed distribution, from the files its RECORD lists."""
    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        return None
    suffix = f"share/{PACKAGE}/{_MARKER}"
    for file in dist.files or ():
        if file.as_posix().endswith(suffix):
            return Path(str(dist.locate_file(file))).resolve().parent
    return None


def share_dirs(environ: "dict[str, str] | None" = None) -> "list[Path]":
    """Folders holding the shipped files, in the order they are searched (module docstring)."""
    environ = os.environ if environ is None else environ
    dirs = [d for d in (_source_checkout(), _installed_share()) if d is not None]
    dirs += [Path(prefix) / "share" / PACKAGE
             for prefix in environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if prefix]
    return list(dict.fromkeys(dirs))


def shipped_path(relative: str, environ: "dict[str, str] | None" = None) -> Path:
    """The first shipped ``relative`` (a file or folder) that exists; FileNotFoundError naming
    every place searched when none does."""
    dirs = share_dirs(environ)
    for folder in dirs:
        if (folder / relative).exists():
            return folder / relative
    raise FileNotFoundError(f"the shipped {relative} was not found; searched "
                            f"{', '.join(str(d) for d in dirs) or 'no enet_ros install'}")


def default_model(environ: "dict[str, str] | None" = None) -> Path:
    """The shipped model file, the default of every command and of the node."""
    return shipped_path(DEFAULT_MODEL, environ)


def sample_frames() -> "list[Path]":
    """The shipped sample camera frames, sorted (samples/README.md says where they are from)."""
    folder = shipped_path(SAMPLES)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SAMPLE_SUFFIXES)
