"""Fitting data on disk: 20,000,000 x 16 float32 through numpy.load(mmap_mode="r").

Writes the file (1.28 GB) into a temporary folder (or --folder), then fits
KMeans on the memory map and reports the time and the peak of what Python
allocated (tracemalloc: numpy arrays included; numba's chunk-sized scratch
buffers are not traced). The file's pages are cached by the operating system,
not copied by kmeanskit.

Run:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_memmap.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from _common import blas_report, machine_report


def write(path: Path, n: int, d: int, k: int) -> None:
    rng = np.random.default_rng(0)
    centres = rng.uniform(-10, 10, size=(k, d)).astype(np.float32)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    for start in range(0, n, 1_000_000):
        stop = min(n, start + 1_000_000)
        X[start:stop] = centres[rng.integers(0, k, stop - start)] + rng.normal(
            scale=2.0, size=(stop - start, d)).astype(np.float32)
    X.flush()


def main(argv=None) -> int:
    from kmeanskit import KMeans
    from kmeanskit._driver import Data
    from kmeanskit._validation import unit_weights

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args(argv)
    n, d, k = args.rows, 16, 16
    print(machine_report())
    print(blas_report())
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        path = Path(folder) / "x.npy"
        start = time.perf_counter()
        write(path, n, d, k)
        print(f"wrote {path.stat().st_size / 2**30:.2f} GiB in {time.perf_counter() - start:.1f} s")
        X = np.load(path, mmap_mode="r")
        KMeans(k, random_state=0, max_iter=2).fit(X[:20_000])  # compile outside
        print()
        print("| init | runs | seconds | iterations (kept run) | traced peak MiB | X MiB "
              "| peak / X |")
        print("|---|---|---|---|---|---|---|")
        for init, n_init in (("k-means|| (default)", "auto"), ("k-means||", 1),
                             ("k-means++", "auto"), ("local-search++", "auto")):
            estimator = KMeans(k, init=init.split()[0], n_init=n_init, random_state=0)
            tracemalloc.start()
            start = time.perf_counter()
            model = estimator.fit(X)
            seconds = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            size = X.nbytes / 2**20
            label = init.replace("|", "\\|")  # a Markdown table cell
            plan = estimator._sample_plan(Data(X, unit_weights(n)))
            runs = estimator._n_runs() if plan is None else f"{plan[1]} on {plan[0]:,} rows, 1"
            print(f"| {label} | {runs} | {seconds:.1f} | {model.n_iter_} "
                  f"| {peak:.0f} | {size:.0f} | {peak / size:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
