"""What a Jetson or a GPU box installs: the runtime on Python 3.8, the ONNX Runtime flavour the
user chose, and a clear message when there is none.

vermin (in .ci/run) checks enet_ros/, launch/ and setup.py for Python 3.6 (JetPack 4.6) without
evaluating annotations; the first test makes that true. The requirements are read from the package
metadata setuptools writes from setup.py, markers and extras resolved as pip resolves them.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _runtime_fixtures import make_model_file, reference_labels
from packaging.requirements import Requirement

from enet_ros.engines import ONNXRUNTIME_MISSING, EngineError, open_engine
from enet_ros.model_file import open_model_file

from conftest import REPO_ROOT

RUNTIME_FILES = sorted([*REPO_ROOT.glob("enet_ros/**/*.py"), *REPO_ROOT.glob("launch/*.py"),
                        REPO_ROOT / "setup.py"])


def _annotations(tree: ast.Module) -> list[ast.expr]:
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += [a.annotation for a in ast.walk(node.args)
                      if isinstance(a, ast.arg) and a.annotation is not None]
            found += [node.returns] if node.returns is not None else []
    return found


def _evaluable_on_3_6(annotation: ast.expr) -> bool:
    """A string, a name or a dotted name: what 3.6 evaluates without `list[str]` or `X | None`."""
    if isinstance(annotation, ast.Constant):
        return annotation.value is None or isinstance(annotation.value, str)
    return all(isinstance(n, (ast.Name, ast.Attribute, ast.Load)) for n in ast.walk(annotation))


@pytest.mark.parametrize("path", RUNTIME_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_annotations_evaluate_on_python_3_6(path: Path) -> None:
    """`list[str]` in a signature is a TypeError before 3.9 and `from __future__ import
    annotations` a SyntaxError on 3.6: such annotations are strings."""
    tree = ast.parse(path.read_text(), str(path))
    assert not any(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in tree.body)
    unevaluable = [ast.unparse(a) for a in _annotations(tree) if not _evaluable_on_3_6(a)]
    assert unevaluable == [], f"{path.name}: quote these annotations"


@pytest.fixture(scope="module")
def metadata(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Requirement], list[str]]:
    """The requirements setuptools writes from setup.py, and its extras."""
    from importlib.metadata import PathDistribution

    out = tmp_path_factory.mktemp("egg")
    subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(out)],
                   cwd=REPO_ROOT, check=True, capture_output=True, timeout=120)
    dist = PathDistribution(next(out.glob("*.egg-info")))
    assert dist.metadata["Requires-Python"] == ">=3.6"
    return [Requirement(r) for r in dist.requires], dist.metadata.get_all("Provides-Extra")


def _pulls(requirements: list[Requirement], extra: str = "",
           python: str = "3.11") -> set[str]:
    """Distribution names `pip install .[extra]` pulls on that Python."""
    environment = {"extra": extra, "python_version": python}
    return {r.name for r in requirements if r.marker is None or r.marker.evaluate(environment)}


def test_the_base_install_never_pulls_an_onnx_runtime(metadata) -> None:
    """Either build over the other silently wins; the user's choice must stay."""
    requirements, extras = metadata
    base = _pulls(requirements)
    assert {"cpu", "gpu", "test", "train"} <= set(extras)
    assert not {"onnxruntime", "onnxruntime-gpu"} & base
    assert _pulls(requirements, "cpu") - base == {"onnxruntime"}
    assert _pulls(requirements, "gpu") - base == {"onnxruntime-gpu"}
    assert "onnxruntime" in _pulls(requirements, "test")  # `.[train,test]` runs the engines
    assert "onnxruntime-gpu" not in _pulls(requirements, "train") | _pulls(requirements, "test")


def test_python_3_8_gets_the_runtime_without_rosbags(metadata) -> None:
    """rosbags >= 0.10 needs Python 3.10; below that only `enet-ros bag` is missing."""
    requirements, _ = metadata
    assert _pulls(requirements, python="3.10") - _pulls(requirements, python="3.8") == \
        {"rosbags"}


def test_python_3_6_gets_backports_and_keeps_the_boards_opencv(metadata) -> None:
    """JetPack 4.6 (TX1, Nano): Python 3.6 gets the backports of what it lacks, and no OpenCV
    wheel over the one JetPack built for the board; ONNX Runtime 1.10 is its last."""
    requirements, _ = metadata
    assert _pulls(requirements, python="3.6") == {
        "numpy", "onnx", "pyyaml", "tqdm", "dataclasses", "typing-extensions",
        "importlib-metadata"}
    onnx = [r for r in requirements if r.name == "onnx" and r.marker.evaluate(
        {"extra": "", "python_version": "3.6"})]
    assert [str(r.specifier) for r in onnx] == ["<1.12,>=1.10"]
    cpu = [r for r in requirements if r.name == "onnxruntime" and r.marker.evaluate(
        {"extra": "cpu", "python_version": "3.6"})]
    assert [str(r.specifier) for r in cpu] == [">=1.10"]


def test_no_onnx_runtime_says_what_to_install(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    model = open_model_file(make_model_file(tmp_path / "m.onnx"))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "openvino", None)  # which auto would take instead
    for kind in ("onnxruntime", "auto"):
        with pytest.raises(EngineError) as raised:
            open_engine(kind, model)
        assert str(raised.value) == ONNXRUNTIME_MISSING
    assert "pip install onnxruntime" in ONNXRUNTIME_MISSING
    assert "onnxruntime-gpu" in ONNXRUNTIME_MISSING


def test_auto_without_onnx_runtime_takes_openvino(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openvino")
    model = open_model_file(make_model_file(tmp_path / "m.onnx"))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    engine = open_engine("auto", model, precision="fp32")
    assert engine.name == "openvino"
    rgb = np.random.default_rng(0).integers(0, 256, (1, 16, 24, 3), np.uint8)
    assert np.array_equal(engine.infer(rgb)[0], reference_labels(rgb[0]))


def test_the_cli_reports_a_missing_onnx_runtime_in_one_line(tmp_path: Path) -> None:
    model = make_model_file(tmp_path / "m.onnx")
    image = tmp_path / "frame.png"
    import cv2

    cv2.imwrite(str(image), np.zeros((16, 24, 3), np.uint8))
    code = ("import sys; sys.modules['onnxruntime'] = sys.modules['openvino'] = None; "
            "from enet_ros.cli import main; "
            f"sys.exit(main(['segment', {str(image)!r}, '--model', {str(model)!r}, "
            f"'--out', {str(tmp_path / 'out')!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=REPO_ROOT)
    assert done.returncode == 2
    assert done.stderr.strip() == f"enet-ros segment: error: {ONNXRUNTIME_MISSING}"
