"""The demo command and the README's promises about it."""

import re
import subprocess
import sys
from pathlib import Path

from kmeanskit.__main__ import demo, main

ROOT = Path(__file__).resolve().parents[1]


def test_python_m_kmeanskit_prints_the_segments():
    out = subprocess.run([sys.executable, "-m", "kmeanskit"], capture_output=True,
                         text=True, check=True).stdout
    assert "200 customers" in out
    rows = [line for line in out.splitlines() if re.match(r"\s+\d+\s+\d+\s+[\d.]+%", line)]
    assert len(rows) == 5
    assert sum(int(line.split()[1]) for line in rows) == 200
    assert any("high income, low spending" in line for line in rows)


def test_demo_summary_is_deterministic():
    assert demo(5, 0).splitlines()[2:] == demo(5, 0).splitlines()[2:]


def test_bad_k_is_one_error_line(capsys):
    assert main(["--k", "500"]) == 1
    assert capsys.readouterr().err.startswith("Error: n_samples=200 should be >= n_clusters=500")


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    command = [line for line in ci.splitlines() if line.startswith("python3 -m venv")][0]
    assert command in (ROOT / "README.md").read_text()
