"""Cached kernels are recompiled when any kernel module changes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import kmeanskit
from kmeanskit._kernels import _cache_stamp

# Draws through ``sample_rows`` (seeding_loop.py), which inlines
# ``chunk_rows`` from seeding.py; prints where kmeanskit came from, whether
# the kernel came from the cache, and the rows drawn.
SCRIPT = """
import json
import numpy as np
import kmeanskit
from kmeanskit._kernels.seeding import chunk_rows
from kmeanskit._kernels.seeding_loop import sample_rows

n = 5000
size = chunk_rows(n)
weights, closest_sq = np.ones(n), np.linspace(1.0, 2.0, n)
chunk_potential = np.add.reduceat(weights * closest_sq, np.arange(0, n, size))
uniforms = np.array([0.05, 0.4, 0.77, 0.99])
picked = np.empty(uniforms.size, dtype=np.int64)
sample_rows(uniforms, weights, closest_sq, chunk_potential, picked)
expected = np.searchsorted(np.cumsum(weights * closest_sq), uniforms * chunk_potential.sum(),
                           side="right")
print(json.dumps({"origin": kmeanskit.__file__, "hits": sum(sample_rows.stats.cache_hits.values()),
                  "picked": picked.tolist(), "expected": expected.tolist()}))
"""


def _run(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("NUMBA_")}
    env["PYTHONPATH"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(result["origin"]).is_relative_to(tmp_path)
    return result["hits"], result["picked"], result["expected"]


def test_a_kernel_is_recompiled_when_a_kernel_module_it_calls_changes(tmp_path):
    package = tmp_path / "kmeanskit"
    shutil.copytree(Path(kmeanskit.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    hits, picked, expected = _run(tmp_path)
    assert hits == 0 and picked == expected
    hits, picked, expected = _run(tmp_path)
    assert hits == 1 and picked == expected  # the cache serves an unchanged package
    # Smaller chunks: seeding_loop.py, whose kernel inlines chunk_rows, is
    # unchanged, so numba alone would load its stale code.
    seeding = package / "_kernels" / "seeding.py"
    source = seeding.read_text()
    assert "SEEDING_CHUNK_ROWS = 2048" in source
    seeding.write_text(source.replace("SEEDING_CHUNK_ROWS = 2048", "SEEDING_CHUNK_ROWS = 512"))
    hits, picked, expected = _run(tmp_path)
    assert hits == 0 and picked == expected


def test_the_sources_digest_covers_every_kernel_module(tmp_path):
    folder = tmp_path / "kernels"
    shutil.copytree(_cache_stamp.KERNELS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    assert _cache_stamp.sources_digest(str(folder)) == _cache_stamp.SOURCES_DIGEST
    for module in sorted(folder.glob("*.py")):
        original = module.read_text()
        module.write_text(original + "\n")
        assert _cache_stamp.sources_digest(str(folder)) != _cache_stamp.SOURCES_DIGEST, module.name
        module.write_text(original)
    assert _cache_stamp.register()  # this numba has the hook (already registered: no-op)
