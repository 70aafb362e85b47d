"""The crossovers behind algorithm="auto": every exact algorithm, forced, on
shapes around the boundaries of the rule, fitted to convergence from the
same init; then "auto" itself.

Blobs as in the other benchmarks; "spread" is their standard deviation
(1: separated clusters, 6: heavily overlapping ones).  Seconds are the best
of two fits (at most 300 iterations, ``tol=0``).

``--small``: fits around ``BOUNDS_MIN_WORK`` multiply-adds a Lloyd pass
(n k d), below which "auto" runs Lloyd alone: Lloyd, "auto", and "auto"
without that floor (default ``tol``, best of 15).

``--short``: short fits (a few iterations, default ``tol``) that "auto"
moves to bounds for their last iterations, where the bounded run's fixed
costs (the data's moments, the final inertia summed from the rows) weigh
most: Lloyd and "auto" (best of 7).

Run:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_algorithms.py
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_algorithms.py --small
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_algorithms.py --short
"""

from __future__ import annotations

import argparse
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

# --small: around BOUNDS_MIN_WORK multiply-adds a pass.
SMALL_SHAPES = [
    (10_000, 2, 16, 6.0), (10_000, 4, 32, 1.0), (10_000, 10, 8, 6.0), (10_000, 10, 32, 1.0),
    (10_000, 16, 8, 6.0), (10_000, 16, 16, 1.0), (10_000, 32, 8, 6.0), (30_000, 2, 16, 6.0),
    (30_000, 4, 32, 1.0), (50_000, 2, 16, 6.0), (100_000, 4, 8, 1.0), (100_000, 2, 16, 6.0),
]

# --short: a few iterations, the last ones bounded (and two longer fits).
SHORT_SHAPES = [
    (50_000, 64, 6, 6.0), (200_000, 32, 10, 6.0), (200_000, 128, 8, 6.0),
    (200_000, 16, 12, 6.0), (100_000, 64, 12, 6.0), (200_000, 128, 8, 8.0),
]


def short() -> int:
    from sklearn.cluster import kmeans_plusplus

    from kmeanskit import KMeans

    print("| (n, d, k), spread | iterations | lloyd | auto | auto ran | lloyd / auto |")
    print("|---|---|---|---|---|---|")
    for n, d, k, spread in SHORT_SHAPES:
        X = make_blobs(n, d, k, np.float64, spread=spread)
        init, _ = kmeans_plusplus(X, k, random_state=0)
        seconds = {}
        for algorithm in ("lloyd", "auto"):
            KMeans(k, init=init, algorithm=algorithm).fit(X)  # compile, warm up
            seconds[algorithm], model = best_time(lambda X=X, k=k, init=init, a=algorithm: KMeans(
                k, init=init, algorithm=a).fit(X), 7)
        print(f"| ({n:,}, {d}, {k}), {spread:g} | {model.n_iter_}"
              f" | {seconds['lloyd'] * 1e3:.1f} ms | {seconds['auto'] * 1e3:.1f} ms"
              f" | {model.algorithm_} | {seconds['lloyd'] / seconds['auto']:.2f} |", flush=True)
    return 0


def small() -> int:
    from sklearn.cluster import kmeans_plusplus

    from kmeanskit import KMeans, _driver

    print("| (n, d, k), spread | n k d | iterations | lloyd | auto | auto without the floor "
          "| that ran | lloyd / without |")
    print("|---|---|---|---|---|---|---|---|")
    floor = _driver.BOUNDS_MIN_WORK
    for n, d, k, spread in SMALL_SHAPES:
        X = make_blobs(n, d, k, np.float64, spread=spread)
        init, _ = kmeans_plusplus(X, k, random_state=0)
        seconds = {}
        for name, algorithm, min_work in (("lloyd", "lloyd", floor), ("auto", "auto", floor),
                                          ("bounds", "auto", 0)):
            _driver.BOUNDS_MIN_WORK = min_work
            KMeans(k, init=init, algorithm=algorithm).fit(X)  # compile, warm up
            seconds[name], model = best_time(lambda X=X, k=k, init=init, a=algorithm: KMeans(
                k, init=init, algorithm=a).fit(X), 15)
        _driver.BOUNDS_MIN_WORK = floor
        print(f"| ({n:,}, {d}, {k}), {spread:g} | {n * k * d / 2**20:.2f} Mi | {model.n_iter_}"
              f" | {seconds['lloyd'] * 1e3:.2f} ms"
              f" | {seconds['auto'] * 1e3:.2f} ms | {seconds['bounds'] * 1e3:.2f} ms"
              f" | {model.algorithm_} | {seconds['lloyd'] / seconds['bounds']:.2f} |", flush=True)
    return 0


def main() -> int:
    from sklearn.cluster import kmeans_plusplus

    from kmeanskit import KMeans

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true",
                        help="small fits: Lloyd alone against the bounds")
    parser.add_argument("--short", action="store_true",
                        help="short fits that end bounded: Lloyd against auto")
    args = parser.parse_args()
    print(machine_report())
    print(blas_report())
    print()
    if args.small:
        return small()
    if args.short:
        return short()
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
