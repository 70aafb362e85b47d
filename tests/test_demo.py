"""The README's promises: its two commands work on a fresh environment."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _readme_command(prefix: str) -> str:
    commands = [line.strip() for line in README.splitlines() if line.startswith(prefix)]
    assert commands, f"the README has no command starting with {prefix!r}"
    return commands[0]


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    command = [line for line in ci.splitlines() if line.startswith("python3 -m venv")][0]
    assert command in README


def test_python_m_kmeanskit_demo(tmp_path):
    pytest.importorskip("jinja2", reason="the demo report needs the [report] extra")
    out = subprocess.run([sys.executable, "-m", "kmeanskit", "demo", "--out", tmp_path / "d"],
                         capture_output=True, text=True, check=True).stdout
    assert "5 segments of 200 rows." in out
    assert re.search(r"Report: .*report\.html", out)
    assert (tmp_path / "d" / "report.html").stat().st_size > 100_000


def _copy_project(target: Path):
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in files.splitlines():
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.mark.slow
def test_readme_commands_on_a_fresh_environment(tmp_path):
    """Run the README's two commands, as written, in a fresh copy of the project
    (the test command collects the suite rather than running it again)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the project's git checkout to copy it")
    project = tmp_path / "project"
    _copy_project(project)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                  if ".venv" not in p)
    demo = _readme_command("python3 -m venv .venv && .venv/bin/pip install -e \".[report]\"")
    done = subprocess.run(["bash", "-c", demo], cwd=project, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (project / "kmeanskit-demo" / "report.html").exists()
    assert "Report: kmeanskit-demo/report.html" in done.stdout
    tests = _readme_command("python3 -m venv .venv && .venv/bin/pip install -e \".[test]\"")
    done = subprocess.run(["bash", "-c", tests], cwd=project,
                          env={**env, "PYTEST_ADDOPTS": "--collect-only -q"},
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"\d+ tests collected", done.stdout)
