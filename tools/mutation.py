"""Mutation testing: does each module's focused test set fail when the module's code changes?

    .venv/bin/pip install mutmut==2.5.1
    .venv/bin/python tools/mutation.py                       # the modules below
    .venv/bin/python tools/mutation.py enet_ros/palette.py=test/test_palette.py,test/test_x.py

mutmut 2.x mutates files in place, so this runs it in a scratch copy of the working tree
(tracked and untracked, ignored files left out) and the tree itself is never touched. Each
module is tested against only the test files named for it (the minimum that covers it: this
is affordable on a loaded 2-core machine, and a test elsewhere that happens to kill a mutant
does not hide that the module's own tests miss it). Surviving mutants are shown as diffs; those
listed in EQUIVALENT (same behaviour, by the reason given) are left out of the score, which is
killed / (mutants - equivalent - prose): prose being the mutants that only put XX into text
PROSE names as documentation (a parameter's description), which mutmut would skip were it a
docstring. Exit status 1 when a module scores below --min-score.
"""
from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MODULES = {
    "enet_ros/image_codec.py": ["test/test_image_codec.py"],
    "enet_ros/palette.py": ["test/test_palette.py"],
    "enet_ros/ros/frame_slot.py": ["test/test_node_helpers.py"],
    "enet_train/metrics.py": ["test/test_metrics.py"],
    "enet_ros/segmenter.py": ["test/test_segmenter.py"],
    "enet_ros/model_file.py": ["test/test_model_file.py"],
    "enet_ros/ros/pipeline.py": ["test/test_node_pipeline.py"],
    "enet_ros/ros/params.py": ["test/test_node_helpers.py", "test/test_launch_files.py"],
}

# (module, original line, mutated line) -> why the mutant behaves as the original. Lines are
# compared stripped, so the list survives code moving up or down.
SLOT = "enet_ros/ros/frame_slot.py"
SEGMENTER = "enet_ros/segmenter.py"
MODEL_FILE = "enet_ros/model_file.py"
PIPELINE = "enet_ros/ros/pipeline.py"
PARAMS = "enet_ros/ros/params.py"
EQUIVALENT: dict[tuple[str, str, str], str] = {
    (SLOT, 'T = TypeVar("T")', 'T = TypeVar("XXTXX")'):
        "a TypeVar's name shows only in reprs and type checkers",
    (SLOT, 'self._item: "T | None" = None', 'self._item: "T | None" = ""'):
        "the item is read only while _full is True, and put sets both together",
    (SLOT, "self._closed = False", "self._closed = None"): "only its truth is read",
    ("enet_ros/image_codec.py", "return np.ascontiguousarray(data).reshape(-1).view(np.uint8)",
     "return np.ascontiguousarray(data).reshape(-2).view(np.uint8)"):
        "numpy takes any negative size as 'all the rest'",
    ("enet_ros/palette.py", '+ chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))',
     '+ chunk(b"IDAT", zlib.compress(rows.tobytes(), 7))'):
        "every zlib level decompresses to the same rows",
    ("enet_ros/palette.py", "for bit in range(7, -1, -1):", "for bit in range(7, +1, -1):"):
        "ids of a palette (at most 256) have bits in the first three rounds only",
    ("enet_ros/palette.py",
     'is_path = os.sep in spec or "/" in spec or spec.endswith(PALETTE_SUFFIXES)',
     'is_path = os.sep in spec or "XX/XX" in spec or spec.endswith(PALETTE_SUFFIXES)'):
        "on POSIX os.sep is '/' (the '/' test is for Windows)",
    ("enet_ros/palette.py",
     'is_path = os.sep in spec or "/" in spec or spec.endswith(PALETTE_SUFFIXES)',
     'is_path = os.sep in spec and "/" in spec or spec.endswith(PALETTE_SUFFIXES)'):
        "on POSIX os.sep is '/' (the '/' test is for Windows)",
    ("enet_train/metrics.py", "self.matrix: torch.Tensor | None = None",
     "self.matrix: torch.Tensor & None = None"):
        "annotations are never evaluated (from __future__ import annotations)",
    ("enet_train/metrics.py", 'if dist.get_backend() == "nccl":',
     'if dist.get_backend() == "XXncclXX":'):
        "not equivalent, but untestable without CUDA: NCCL needs the matrix on the GPU",
    ("enet_train/metrics.py", "self.matrix = self.matrix.cuda()", "self.matrix = None"):
        "not equivalent, but untestable without CUDA: NCCL needs the matrix on the GPU",
    (SLOT, "self._item, self._full = None, False", "self._item, self._full = None, True"):
        "after close take returns the item, which close set to None, so None either way",
    (SEGMENTER, "if len(size) != 2 or not all(isinstance(s, int) and s > 0 and s % SIZE_MULTIPLE "
                "== 0", "if len(size) != 2 or not all(isinstance(s, int) and s > 1 and s % "
                        "SIZE_MULTIPLE == 0"):
        "of the multiples of 8 (the next test) those above 0 are those above 1",
    (MODEL_FILE, "if not isinstance(value, int) or value <= 0 or value % SIZE_MULTIPLE:",
     "if not isinstance(value, int) or value <= 1 or value % SIZE_MULTIPLE:"):
        "1, the one value that changes side, is refused by the multiple-of-8 test after it",
    (PARAMS, "return max(1, (cpus or 1) - 1)", "return max(1, (cpus or 2) - 1)"):
        "an unknown CPU count (None) gives max(1, 0) or max(1, 1): 1 either way",
}
# Lines whose string annotation mutmut wraps in XX: such an annotation is never evaluated (no
# get_type_hints here; dataclass only looks for ClassVar and InitVar in it), so nothing changes.
STRING_ANNOTATIONS = {
    SLOT: ['self._item: "T | None" = None'],
    SEGMENTER: ['color: "np.ndarray | None" = None', 'overlay: "np.ndarray | None" = None',
                'timings: "dict[str, float]" = field(default_factory=dict)',
                'confidence: "np.ndarray | None" = None',
                'self.input_size: "tuple[int, int]" = (int(size[0]), int(size[1]))'],
    MODEL_FILE: ['training: "dict[str, Any]" = field(default_factory=dict)',
                 'validation: "dict[str, Any]" = field(default_factory=dict)'],
    PIPELINE: [f'{name}: "EncodedImage | None" = None'
               for name in ("labels", "color", "overlay", "mask", "confidence")] + [
        'size: "tuple[int, int]" = (0, 0)                # (height, width) of the outputs',
        'timings: "dict[str, float]" = field(default_factory=dict)  # milliseconds, as the '
        'segmenter'],
    PARAMS: ['int_range: "tuple[int, int, int] | None" = None        # (from, to, step)',
             'float_range: "tuple[float, float] | None" = None       # (from, to)',
             'choices: "tuple[str, ...] | None" = None               # checked at start by the '
             'node',
             'PARAMS: "tuple[ParamSpec, ...]" = ('],
}


def _annotation_wrapped(line: str) -> str:
    start = line.index('"') + 1
    end = line.index('"', start)
    return f"{line[:start]}XX{line[start:end]}XX{line[end:]}"


EQUIVALENT.update({(module, line, _annotation_wrapped(line)): "a string annotation, never "
                                                               "evaluated"
                   for module, lines in STRING_ANNOTATIONS.items() for line in lines})

# Strings that are documentation though not docstrings (which mutmut leaves alone): module ->
# (the name of the call whose `description` argument is prose, what that is). A mutant that only
# adds mutmut's XX inside such an argument is left out of the score as prose; a test would have
# to repeat the text word for word. What the text must state is tested where it is a fact (the
# run-time changeable parameters say so: test_node_helpers.py).
PROSE = {
    "enet_ros/ros/params.py": ("ParamSpec", "a ParamSpec's description, the prose "
                                            "`ros2 param describe` shows"),
}


def prose_spans(module: str, source: str) -> "dict[int, list[tuple[int, float]]]":
    """Line number -> (from, to) byte columns of the prose arguments of module's calls named
    in PROSE (their description=, or third positional, argument)."""
    spans: dict[int, list[tuple[int, float]]] = {}
    if module not in PROSE:
        return spans
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == PROSE[module][0]:
            for text in [k.value for k in node.keywords if k.arg == "description"] + \
                    node.args[2:3]:
                for line in range(text.lineno, text.end_lineno + 1):
                    spans.setdefault(line, []).append(
                        (text.col_offset if line == text.lineno else 0,
                         text.end_col_offset if line == text.end_lineno else float("inf")))
    return spans


def is_prose(diff: str, spans: "dict[int, list[tuple[int, float]]]") -> bool:
    """Whether a one-line mutant only adds XX, and only inside the prose spans."""
    number, removed, added = 0, None, None
    for line in diff.splitlines():
        if line.startswith("@@"):
            number = int(line.split()[1].split(",")[0][1:])
        elif line.startswith("-") and not line.startswith("---"):
            removed = line[1:].encode()
        elif line.startswith("+") and not line.startswith("+++"):
            added = line[1:].encode()
        elif line.startswith(" ") and removed is None:
            number += 1
    if removed is None or added is None or added.replace(b"XX", b"") != removed \
            or b"XX" in removed:
        return False
    # where the first and the last XX go, as columns of the original line
    first = next((i for i, (a, b) in enumerate(zip(removed, added)) if a != b), len(removed))
    last = len(removed) - next((i for i, (a, b) in enumerate(zip(removed[::-1], added[::-1]))
                                if a != b), len(removed))
    return any(lo <= first and last <= hi for lo, hi in spans.get(number, ()))


def run(command: list[str], cwd: Path) -> str:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True).stdout


def scratch_copy(destination: Path) -> None:
    """The working tree's files (committed or not, ignored ones aside) under destination."""
    files = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT)
    for name in filter(None, files.split("\0")):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


def changed_lines(diff: str) -> tuple[str, str]:
    """(original, mutated) line of a one-line mutant's diff, stripped."""
    lines = diff.splitlines()
    removed = [line[1:].strip() for line in lines if line.startswith("-")
               and not line.startswith("---")]
    added = [line[1:].strip() for line in lines if line.startswith("+")
             and not line.startswith("+++")]
    return " / ".join(removed), " / ".join(added)


def mutate(module: str, tests: list[str], scratch: Path, mutmut: str) -> dict[str, list[str]]:
    """mutmut's mutants of module by outcome (killed, survived, timeout, suspicious)."""
    (scratch / ".mutmut-cache").unlink(missing_ok=True)
    # mutmut 2 takes only status 1 as failing tests; pytest's 2 (a collection error: the
    # mutant breaks the import) would count as survived, hence the wrapper.
    runner = (f"bash -c '{sys.executable} -m pytest -x -q -p no:cacheprovider -p no:randomly "
              f"{' '.join(tests)} || exit 1'")
    # --test-time-base: seconds a mutant's run may take beyond the baseline's before it counts
    # as a timeout, generous because the machine is shared.
    subprocess.run([mutmut, "run", "--paths-to-mutate", module, "--runner", runner,
                    "--tests-dir", "test", "--no-progress", "--test-time-base", "20"],
                   cwd=scratch, check=False)
    return {status: run([mutmut, "result-ids", status], scratch).split()
            for status in ("killed", "survived", "timeout", "suspicious")}


def report(module: str, ids: dict[str, list[str]], scratch: Path, mutmut: str) -> float:
    """Print the module's outcome and surviving mutants; return its score in percent."""
    equivalent, prose, alive = [], [], []
    spans = prose_spans(module, (scratch / module).read_text(encoding="utf-8"))
    for mutant in ids["survived"]:
        diff = run([mutmut, "show", mutant], scratch)
        original, mutated = changed_lines(diff)
        why = EQUIVALENT.get((module, original, mutated))
        if why:
            equivalent.append((mutant, diff, why))
        elif is_prose(diff, spans):
            prose.append(mutant)
        else:
            alive.append((mutant, diff, why))
    total = sum(len(v) for v in ids.values())
    killed = len(ids["killed"]) + len(ids["timeout"])  # a mutant that hangs the tests is caught
    score = 100.0 * killed / max(total - len(equivalent) - len(prose), 1)
    print(f"{module}: {total} mutants, {killed} killed ({len(ids['timeout'])} by timeout), "
          f"{len(alive)} survived, {len(equivalent)} equivalent, {len(prose)} prose, "
          f"{len(ids['suspicious'])} suspicious: score {score:.1f} %")
    for mutant, diff, why in equivalent:
        print(f"  equivalent {mutant}: {' -> '.join(changed_lines(diff))}  ({why})")
    if prose:
        print(f"  prose ({PROSE[module][1]}): {', '.join(prose)}")
    for mutant, diff, _ in alive:
        print(f"  SURVIVED {mutant}:\n" + "\n".join(f"    {line}" for line in
                                                    diff.splitlines()[2:]))
    return score


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE=TEST[,TEST]",
                        help="modules and their test files (default: " +
                             ", ".join(MODULES) + ")")
    parser.add_argument("--min-score", type=float, default=85.0,
                        help="percent below which the exit status is 1 (default 85)")
    args = parser.parse_args()
    modules = dict((m.split("=")[0], m.split("=")[1].split(",")) for m in args.modules) \
        if args.modules else MODULES
    mutmut = shutil.which("mutmut", path=str(Path(sys.executable).parent))
    if mutmut is None:
        parser.error(f"mutmut is not installed next to {sys.executable}: "
                     f"pip install mutmut==2.5.1")
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with tempfile.TemporaryDirectory(prefix="enet_mutation_") as folder:
        scratch = Path(folder)
        scratch_copy(scratch)
        scores = {module: report(module, mutate(module, tests, scratch, mutmut), scratch, mutmut)
                  for module, tests in modules.items()}
    low = {module: score for module, score in scores.items() if score < args.min_score}
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
