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
    """TF-IDF rows (CSR, L2-normalised) of synthetic documents: each of 50 to
    300 words drawn 70 % from the document's topic and 30 % from another
    random one, topics being sparse Dirichlet distributions over the
    vocabulary (a few hundred frequent words each)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    topics = rng.dirichlet(np.full(vocabulary, 0.02), size=n_topics)
    cumulative = np.cumsum(topics, axis=1)
    lengths = rng.integers(50, 301, size=n_docs)
    doc = np.repeat(np.arange(n_docs), lengths)
    main = rng.integers(0, n_topics, size=n_docs)[doc]
    other = rng.integers(0, n_topics, size=n_docs)[doc]
    topic = np.where(rng.uniform(size=doc.size) < 0.7, main, other)
    draws = rng.uniform(size=doc.size)
    words = np.empty(doc.size, dtype=np.int64)
    for t in range(n_topics):
        mine = topic == t
        words[mine] = np.minimum(np.searchsorted(cumulative[t], draws[mine]), vocabulary - 1)
    counts = sp.csr_matrix((np.ones(doc.size), (doc, words)), shape=(n_docs, vocabulary))
    counts.sum_duplicates()
    document_frequency = np.bincount(counts.indices, minlength=vocabulary)
    idf = np.log((1 + n_docs) / (1 + document_frequency)) + 1
    tfidf = counts.multiply(idf).tocsr()
    norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(axis=1)).ravel())
    return sp.csr_matrix(sp.diags(1 / np.maximum(norms, 1e-300)) @ tfidf)
