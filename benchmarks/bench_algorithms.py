"""The crossovers behind algorithm="auto": every exact algorithm, forced, on
shapes around the boundaries of the rule, fitted to convergence from the
same init; then "auto" itself.

Blobs as in the other benchmarks; "spread" is their standard deviation
(1: separated clusters, 6: heavily overlapping ones).  Seconds are the best
of two fits (at most 300 iterations, ``tol=0``).

Run:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_algorithms.py
"""

from __future__ import annotations

import sys

import numpy as np

from _common import best_time, blas_report, machine_report, make_blobs

ALGORITHMS = ["lloyd", "hamerly", "elkan", "yinyang", "auto"]
# (n, d, k, spread)
SHAPES = [
    (1_000_000, 2, 16, 6.0), (100_000, 2, 100, 1.0), (200_000, 2, 512, 1.0),
    (200_000, 4, 16, 6.0), (200_000, 4, 512, 1.0), (200_000, 6, 64, 1.0),
    (200_000, 6, 64, 6.0), (200_000, 8, 32, 3.0), (200_000, 16, 64, 1.0),
    (200_000, 32, 64, 6.0), (200_000, 32, 256, 1.0), (200_000, 64, 64, 1.0),
    (200_000, 64, 512, 6.0), (100_000, 64, 100, 6.0), (100_000, 128, 16, 8.0),
    (100_000, 128, 128, 1.0), (100_000, 256, 32, 8.0), (60_000, 784, 10, 20.0),
    (1_000_000, 8, 8, 6.0), (200_000, 32, 10, 6.0), (100_000, 64, 12, 6.0),
]


def main() -> int:
    from sklearn.cluster import kmeans_plusplus

    from kmeanskit import KMeans

    print(machine_report())
    print(blas_report())
    print()
    print("| (n, d, k), spread | iterations | " + " | ".join(ALGORITHMS) + " | auto ran |")
    print("|---|---|" + "---|" * len(ALGORITHMS) + "---|")
    for n, d, k, spread in SHAPES:
        X = make_blobs(n, d, k, np.float64, spread=spread)
        init, _ = kmeans_plusplus(X, k, random_state=0)
        seconds = {}
        for algorithm in ALGORITHMS:
            KMeans(k, init=init, max_iter=2, algorithm=algorithm).fit(X[:5000])  # compile
            seconds[algorithm], model = best_time(lambda X=X, k=k, init=init, a=algorithm: KMeans(
                k, init=init, tol=0.0, max_iter=300, algorithm=a).fit(X), 2)
        fastest = min(ALGORITHMS[:-1], key=seconds.get)
        cells = [f"**{seconds[a]:.3f}**" if a == fastest else f"{seconds[a]:.3f}"
                 for a in ALGORITHMS]
        print(f"| ({n:,}, {d}, {k}), {spread:g} | {model.n_iter_} | " + " | ".join(cells)
              + f" | {model.algorithm_} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
