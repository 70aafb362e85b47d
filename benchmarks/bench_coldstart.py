"""The start-up a new user feels: import kmeanskit and fit 10,000 x 10 once.

Each measurement is a fresh Python process.  "cold" runs with an empty numba
cache (every kernel the fit uses is compiled), "warm" runs again with the
cache the cold run filled.  Only the kernels a fit uses are compiled.

Run:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_coldstart.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

SNIPPET = """
import time
start = time.perf_counter()
import numpy as np
from kmeanskit import KMeans
X = np.random.default_rng(0).normal(size=(10_000, 10))
KMeans(8, random_state=0).fit(X)
print(time.perf_counter() - start)
"""


def timed_run(cache_dir: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", SNIPPET], env=env, capture_output=True,
                         text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> int:
    with tempfile.TemporaryDirectory() as cache_dir:
        cold = timed_run(cache_dir)
        warm = min(timed_run(cache_dir) for _ in range(3))
    print("| import + first fit (10,000 x 10, k=8) | seconds | target |")
    print("|---|---|---|")
    print(f"| cold (empty numba cache) | {cold:.2f} | <= 15 |")
    print(f"| warm (cache filled) | {warm:.2f} | <= 1.5 |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
