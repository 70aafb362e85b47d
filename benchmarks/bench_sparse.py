"""Sparse input (TF-IDF documents): Lloyd and Hamerly against scikit-learn.

Synthetic TF-IDF rows (``_common.make_documents``), CSR, the same initial
centroids (rows drawn at random) for every library, ``tol=0`` (until no label
changes), best of 3.  scikit-learn runs its sparse Lloyd and Elkan.  Then
default settings against default settings (each library's own seeding).

Run (``--defaults-only``: the second table alone; ``--many-clusters``: a
few iterations at 512 clusters of 50,000 features, and k-means|| there):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_sparse.py
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from _common import best_time, blas_report, machine_report, make_documents

# (documents, vocabulary, topics, clusters)
SHAPES = [(40_000, 20_000, 20, 20), (40_000, 20_000, 20, 100), (100_000, 50_000, 50, 50)]
REPEAT = 3
DEFAULT_SEEDS = range(3)
# Many clusters: (documents, vocabulary, topics, clusters), and the iterations
# timed (scikit-learn's take about 25 s each there).
MANY_CLUSTERS = (100_000, 50_000, 50, 512)
MANY_CLUSTERS_ITERATIONS = 3


def from_the_same_init() -> None:
    from sklearn.cluster import KMeans as SklearnKMeans

    from kmeanskit import KMeans

    print(f"To convergence from the same init (seconds, best of {REPEAT}; iterations):")
    print("| docs, vocabulary, nnz/row, k | dtype | lloyd | hamerly | elkan | auto (ran) "
          "| sklearn lloyd | sklearn elkan | best sklearn / auto | skipped: hamerly, elkan |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n, vocabulary, topics, k in SHAPES:
        X64 = make_documents(n, vocabulary, topics)
        for dtype in (np.float64, np.float32):
            X = X64.astype(dtype)
            init = X[np.random.default_rng(0).choice(n, k, replace=False)].toarray()
            KMeans(k, init=init, max_iter=2, algorithm="hamerly").fit(X[:2000])  # compile
            runs = {name: lambda a=name, X=X, k=k, init=init: KMeans(
                        k, init=init, n_init=1, tol=0.0, max_iter=1000, algorithm=a).fit(X)
                    for name in ("lloyd", "hamerly", "elkan", "auto")}
            runs |= {"sk" + name: lambda a=name, X=X, k=k, init=init: SklearnKMeans(
                         k, init=init, n_init=1, tol=0.0, max_iter=1000, algorithm=a).fit(X)
                     for name in ("lloyd", "elkan")}
            times, fits = {}, {}
            for name, fit in runs.items():
                times[name], fits[name] = best_time(fit, REPEAT)
            iters = fits["lloyd"].n_iter_
            assert all(fits[name].n_iter_ == iters for name in ("hamerly", "elkan", "auto"))
            skipped = [sum(r.n_skipped for r in fits[name].history_) / (n * k * iters)
                       for name in ("hamerly", "elkan")]
            best = min(times["sklloyd"], times["skelkan"])
            print(f"| {n:,}, {vocabulary:,}, {X.nnz / n:.0f}, {k} | {np.dtype(dtype).name} "
                  f"| {times['lloyd']:.3f} ({iters}) | {times['hamerly']:.3f} "
                  f"| {times['elkan']:.3f} "
                  f"| {times['auto']:.3f} ({fits['auto'].algorithm_}) "
                  f"| {times['sklloyd']:.3f} ({fits['sklloyd'].n_iter_}) "
                  f"| {times['skelkan']:.3f} ({fits['skelkan'].n_iter_}) "
                  f"| {best / times['auto']:.2f} | {skipped[0]:.0%}, {skipped[1]:.0%} |",
                  flush=True)
    print()


def default_settings() -> None:
    from sklearn.cluster import KMeans as SklearnKMeans

    from kmeanskit import KMeans

    print(f"Default settings, each library's own seeding, seeds {DEFAULT_SEEDS.start}-"
          f"{DEFAULT_SEEDS.stop - 1} (mean seconds; mean final inertia ours/sklearn):")
    print("| docs, vocabulary, k | dtype | kmeanskit | sklearn | time sklearn/ours "
          "| inertia ours/sklearn |")
    print("|---|---|---|---|---|---|")
    for n, vocabulary, topics, k in SHAPES:
        X = make_documents(n, vocabulary, topics)
        KMeans(k, max_iter=2).fit(X[:2000])  # compile outside the timing
        ours = [best_time(lambda s=s, X=X, k=k: KMeans(k, random_state=s).fit(X), 1)
                for s in DEFAULT_SEEDS]
        theirs = [best_time(lambda s=s, X=X, k=k: SklearnKMeans(k, random_state=s).fit(X), 1)
                  for s in DEFAULT_SEEDS]
        ours_t, theirs_t = np.mean([t for t, _ in ours]), np.mean([t for t, _ in theirs])
        ratio = np.mean([a.inertia_ / b.inertia_
                         for (_, a), (_, b) in zip(ours, theirs, strict=True)])
        print(f"| {n:,}, {vocabulary:,}, {k} | float64 | {ours_t:.2f} | {theirs_t:.2f} "
              f"| {theirs_t / ours_t:.2f} | {ratio:.4f} |", flush=True)


def many_clusters() -> None:
    """A few iterations from the same init where the centroids (k x d
    float64, 200 MB) are far larger than the caches; and our seeding."""
    from sklearn.cluster import KMeans as SklearnKMeans

    from kmeanskit import KMeans, kmeans_parallel

    n, vocabulary, topics, k = MANY_CLUSTERS
    iterations = MANY_CLUSTERS_ITERATIONS
    X = make_documents(n, vocabulary, topics)
    init = X[np.random.default_rng(0).choice(n, k, replace=False)].toarray()
    for algorithm in ("lloyd", "hamerly"):  # compile outside the timing
        KMeans(k, init=init, max_iter=2, algorithm=algorithm).fit(X[:2000])
    kmeans_parallel(X[:2000], 20, random_state=0)
    print(f"{n:,} documents, {vocabulary:,} words, {k} clusters: {iterations} iterations "
          "from the same init (seconds, one run each; final inertia):")
    print("| kmeanskit lloyd | kmeanskit hamerly | sklearn lloyd | sklearn / ours (lloyd) |")
    print("|---|---|---|---|")
    fits = {}
    for name, make in (
            ("lloyd", lambda: KMeans(k, init=init, n_init=1, tol=0.0, max_iter=iterations,
                                     algorithm="lloyd")),
            ("hamerly", lambda: KMeans(k, init=init, n_init=1, tol=0.0, max_iter=iterations,
                                       algorithm="hamerly")),
            ("sklearn", lambda: SklearnKMeans(k, init=init, n_init=1, tol=0.0,
                                              max_iter=iterations, algorithm="lloyd"))):
        fits[name] = best_time(lambda make=make: make().fit(X), 1)
    assert len({round(fit.inertia_, 6) for _, fit in fits.values()}) == 1
    (lloyd, _), (hamerly, _), (sklearn, fit) = fits.values()
    print(f"| {lloyd:.1f} | {hamerly:.1f} | {sklearn:.1f} | {sklearn / lloyd:.2f} |")
    print(f"(final inertia {fit.inertia_:.6f} in all three)")
    seconds, _ = best_time(lambda: kmeans_parallel(X, k, random_state=0), 1)
    print(f"k-means|| seeding ({k} seeds): {seconds:.1f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--defaults-only", action="store_true",
                        help="only the default-settings table")
    parser.add_argument("--many-clusters", action="store_true",
                        help="only the many-clusters table")
    args = parser.parse_args(argv)
    print(machine_report())
    print(blas_report())
    print()
    if args.many_clusters:
        many_clusters()
        return 0
    if not args.defaults_only:
        from_the_same_init()
    default_settings()
    return 0


if __name__ == "__main__":
    sys.exit(main())
