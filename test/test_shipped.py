"""The shipped files (model, samples, palettes) are found through the installed package, from
any working directory: in the checkout, in a ROS 2 install tree, and in a real non-editable pip
install of the package."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import cv2
import numpy as np
import pytest

from enet_ros import shipped

ROOT = Path(__file__).resolve().parents[1]
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "install", "log", "runs",
                                     "__pycache__", "*.egg-info", "test", "training")


def test_the_checkout_comes_first_then_ament_prefixes(tmp_path):
    prefix = tmp_path / "install"
    only_there = prefix / "share" / "enet_ros" / "models" / "only_in_the_prefix.onnx"
    only_there.parent.mkdir(parents=True)
    only_there.write_bytes(b"onnx")
    env = {"AMENT_PREFIX_PATH": os.pathsep.join([str(tmp_path / "other"), str(prefix)])}
    dirs = shipped.share_dirs(env)
    assert dirs[0] == ROOT and dirs[-2:] == [tmp_path / "other" / "share" / "enet_ros",
                                             prefix / "share" / "enet_ros"]
    assert shipped.default_model(env) == ROOT / "models" / "enet_camvid.onnx"
    assert shipped.shipped_path("models/only_in_the_prefix.onnx", env) == only_there
    with pytest.raises(FileNotFoundError, match=f"models/nothing.onnx was not found; "
                                                f"searched {ROOT}, .*{prefix}"):
        shipped.shipped_path("models/nothing.onnx", env)


def test_samples_are_the_debian_files_their_readme_names():
    """Each sample is a byte-for-byte copy of the file samples/README.md names and hashes."""
    frames = shipped.sample_frames()
    notes = (ROOT / "samples" / "README.md").read_text()
    assert "CC-BY-SA-3.0" in notes and "apt-get download scratch" in notes
    listed = dict(line.split()[::-1] for line in notes.split("```\n")[1].splitlines())
    assert sorted(listed) == [p.name for p in frames] and len(frames) == 5
    for path in frames:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == listed[path.name], path.name
        assert path.stat().st_size < 100_000, path
        image = cv2.imread(str(path))
        assert image is not None and image.shape == (360, 480, 3), path


def _shares(labels: np.ndarray, names: tuple[str, ...]) -> dict[str, float]:
    counts = np.bincount(labels.ravel(), minlength=len(names))
    return {name: float(c) / labels.size for name, c in zip(names, counts)}


def test_the_shipped_model_finds_road_and_sky_in_the_samples():
    """What the demo's contact sheet shows (samples/README.md quotes these shares): the road
    ahead in route66.jpg is Road and its sky Sky, the parking ramp's asphalt Road, and the
    samples as a whole are not one class painted over everything."""
    from enet_ros.engines import open_engine
    from enet_ros.model_file import open_model_file
    from enet_ros.palette import Palette
    from enet_ros.segmenter import Segmenter

    model = open_model_file(shipped.default_model())
    names = model.metadata.class_names
    segmenter = Segmenter(open_engine("onnxruntime", model, threads=1),
                          Palette.from_metadata(model.metadata))
    labels = {p.stem: segmenter.segment(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
                                        ).labels for p in shipped.sample_frames()}
    road_ahead = _shares(labels["route66"][240:], names)    # bottom third: asphalt
    sky = _shares(labels["route66"][:60], names)            # top sixth: overcast sky
    assert road_ahead["Road"] > 0.95 and sky["Sky"] > 0.5, (road_ahead, sky)
    assert _shares(labels["parking-ramp"][240:], names)["Road"] > 0.8
    overall = _shares(np.concatenate([lab.ravel() for lab in labels.values()]), names)
    assert overall["Road"] > 0.15 and overall["Sky"] > 0.05, overall
    assert max(overall.values()) < 0.5, overall


PROBE = """
import json, os
import enet_ros
from enet_ros import shipped
from enet_ros.palette import read_palette
from enet_ros.ros.params import resolve_model
print(json.dumps({"package": enet_ros.__file__, "model": str(resolve_model("")),
                  "samples": [str(p) for p in shipped.sample_frames()],
                  "palette": str(read_palette("camvid").class_names[0]),
                  "cwd": os.getcwd()}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package pip-installed (a built wheel, not editable) under a fresh prefix."""
    base = tmp_path_factory.mktemp("pip")
    shutil.copytree(ROOT, base / "src", ignore=COPY_IGNORE)
    prefix = base / "prefix"
    result = subprocess.run(
        # --ignore-installed: without it pip first uninstalls the package from the environment
        # running the tests (the developer's editable install, CI's install)
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--ignore-installed", "--prefix", str(prefix), str(base / "src")],
        cwd=base, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return prefix


def _site_packages(prefix: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(prefix),
                                                     "platbase": str(prefix)}))


def test_a_pip_installed_package_finds_its_shipped_files_from_any_folder(installed, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(_site_packages(installed))}
    env.pop("AMENT_PREFIX_PATH", None)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = subprocess.run([sys.executable, "-c", PROBE], cwd=elsewhere, env=env,
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    share = installed / "share" / "enet_ros"
    assert Path(found["package"]).is_relative_to(installed)  # not the checkout's code
    assert found["model"] == str(share / "models" / "enet_camvid.onnx")
    assert found["samples"] == [str(share / "samples" / p.name)
                                for p in shipped.sample_frames()]
    assert found["palette"] == "Sky"
    info = subprocess.run([sys.executable, "-m", "enet_ros.cli", "info"], cwd=elsewhere,
                          env=env, capture_output=True, text=True, timeout=60)
    assert info.returncode == 0, info.stderr
    assert f"model file   {share / 'models' / 'enet_camvid.onnx'}" in info.stdout
    assert "trained at   480x360 on camvid" in info.stdout
