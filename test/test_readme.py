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


def test_readme_main_command_uses_the_shipped_model():
    readme = (REPO_ROOT / "README.md").read_text()
    main_command = _bash_blocks(readme)[0]
    assert "enet-ros segment" in main_command
    model = re.search(r"--model (\S+)", main_command)
    assert model is not None and (REPO_ROOT / model.group(1)).is_file()
