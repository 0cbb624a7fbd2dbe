"""The README's first commands are the ones CI and users run; keep them from drifting."""
from __future__ import annotations

import re

from conftest import REPO_ROOT


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO_ROOT / "README.md").read_text()
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    test_command = _bash_blocks(readme)[1]
    assert "pytest" in test_command
    assert test_command in ci.splitlines()


def test_readme_main_command_runs_the_demo_on_a_fresh_clone():
    """Installs the ROS extra and runs the demo on what the repository ships: nothing outside
    the clone (no ../shared), no --model (the shipped one is the default)."""
    readme = (REPO_ROOT / "README.md").read_text()
    main_command = _bash_blocks(readme)[0]
    assert '.venv/bin/pip install -q ".[ros]"' in main_command
    assert re.search(r"\.venv/bin/enet-ros demo( |$)", main_command)
    assert "../" not in main_command and "--model" not in main_command
