"""Shared helpers for the side-by-side benchmarks."""

from __future__ import annotations

import os
import platform
import time

import numpy as np


def blas_report() -> str:
    """Which BLAS and kernel numpy/scipy use, as threadpoolctl reports it."""
    from threadpoolctl import threadpool_info

    parts = [
        f"{info.get('internal_api')} {info.get('version')} ({info.get('architecture')}, "
        f"{info.get('num_threads')} threads)"
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    tuned = [name for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if name in os.environ]
    note = f"; WARNING: {', '.join(tuned)} set, BLAS slowed" if tuned else ""
    return "BLAS: " + "; ".join(parts) + note


def machine_report() -> str:
    import numba
    import sklearn

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"python {platform.python_version()}, numpy {np.__version__}, "
            f"numba {numba.__version__}, scikit-learn {sklearn.__version__}")


def best_time(function, repeat: int) -> tuple[float, object]:
    """Smallest wall time over ``repeat`` calls, and the last result."""
    best, result = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def make_blobs(n: int, d: int, k: int, dtype, seed: int = 0, spread: float = 1.0):
    """``n`` points around ``k`` random centres in [-10, 10]^d, standard
    deviation ``spread`` (larger: overlapping clusters, more iterations)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, size=(k, d))
    X = centres[rng.integers(0, k, size=n)]
    X += rng.normal(scale=spread, size=(n, d))
    return X.astype(dtype)



def make_documents(n_docs: int, vocabulary: int, n_topics: int, seed: int = 0):
    """TF-IDF rows of synthetic documents (``kmeanskit.datasets.make_documents``)."""
    from kmeanskit.datasets import make_documents as documents

    return documents(n_docs, vocabulary, n_topics, random_state=seed)[0]
