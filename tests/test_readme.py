"""The README's two commands are what CI runs and what a newcomer copies."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", quick, re.S)


def test_readme_has_exactly_two_commands():
    cmds = _readme_commands()
    assert len(cmds) == 2
    assert "main.py" in cmds[0] and "torch==2.13.0" in cmds[0]
    assert "pytest" in cmds[1] and "torch==2.13.0" in cmds[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = _readme_commands()[1]
    # CI makes its own fresh venv; the install and test part must be the README's verbatim
    assert test_cmd.split("&& ", 2)[2] in ci


def test_sample_and_model_ship():
    assert (ROOT / "resources" / "samples" / "coffee.png").is_file()
    assert (ROOT / "resources" / "samples" / "LICENSE.md").is_file()
