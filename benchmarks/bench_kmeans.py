"""Lloyd iterations and k-means++ seeding: kmeanskit vs scikit-learn vs FAISS.

All three run in this one process on the same data from the same initial
centroids for the same fixed number of iterations (``tol=0``); the table gives
seconds per iteration (whole fit time / iterations, so validation and the
final assignment count), the ratio scikit-learn / kmeanskit, FAISS /
kmeanskit, and kmeanskit / floor, where the floor is one plain ``X @ C.T``
of the same size (what an unpruned iteration cannot beat).

Run (unset the OpenBLAS tuning variables for this command only):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_kmeans.py
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from _common import best_time, blas_report, machine_report, make_blobs

SHAPES = [(1_000_000, 2, 16), (200_000, 32, 64), (60_000, 784, 10), (200_000, 64, 512)]


def bench_iterations(n, d, k, dtype, n_iter, repeat):
    from sklearn.cluster import KMeans as SklearnKMeans

    from kmeanskit import KMeans

    X = make_blobs(n, d, k, dtype)
    init = X[np.random.default_rng(1).choice(n, k, replace=False)].copy()
    # Lloyd against Lloyd: "auto" (bounds once labels settle) is measured to
    # convergence in bench_convergence.py.
    KMeans(k, init=init, max_iter=1, algorithm="lloyd").fit(X[:2000])  # compile first
    ours_t, ours = best_time(
        lambda: KMeans(k, init=init, max_iter=n_iter, tol=0.0, algorithm="lloyd").fit(X),
        repeat)
    sk_t, sk = best_time(
        lambda: SklearnKMeans(k, init=init, n_init=1, max_iter=n_iter, tol=0.0,
                              algorithm="lloyd").fit(X), repeat)
    floor_t, _ = best_time(lambda: X @ init.T, repeat)
    row = {
        "shape": f"({n:,}, {d}, {k})", "dtype": np.dtype(dtype).name,
        "iters": ours.n_iter_,
        "ours": ours_t / ours.n_iter_, "sklearn": sk_t / sk.n_iter_,
        "floor": floor_t,
    }
    try:
        import faiss

        X32, init32 = X.astype(np.float32), init.astype(np.float32)
        def faiss_fit():
            km = faiss.Kmeans(d, k, niter=n_iter, max_points_per_centroid=n, seed=0)
            km.train(X32, init_centroids=init32)
            return km
        faiss_t, _ = best_time(faiss_fit, repeat)
        row["faiss"] = faiss_t / n_iter
    except ImportError:
        row["faiss"] = float("nan")
    return row


def bench_seeding(n, d, k, dtype, repeat):
    from sklearn.cluster import kmeans_plusplus as sklearn_kmeans_plusplus

    from kmeanskit import KMeans, kmeans_parallel, kmeans_plusplus

    X = make_blobs(n, d, k, dtype)
    kmeans_plusplus(X[:5000], 10, random_state=0)
    kmeans_plusplus(X[:40_000], 256, random_state=0)  # in batches (64+ clusters)
    kmeans_parallel(X[:5000], 10, random_state=0)
    kmeans_plusplus(X[:5000], 10, local_search_steps="auto", random_state=0)
    # From 64 steps the loops run compiled (local-search++, k-means||'s recluster).
    kmeans_plusplus(X[:5000], 70, local_search_steps="auto", random_state=0)

    def potential(centers):
        from kmeanskit.kmeans import _label

        return _label(X, np.ones(n), centers)[1]

    ours_t, (ours, _) = best_time(lambda: kmeans_plusplus(X, k, random_state=0), repeat)
    par_t, par = best_time(lambda: kmeans_parallel(X, k, random_state=0), repeat)
    ls_t, (ls, _) = best_time(lambda: kmeans_plusplus(
        X, k, local_search_steps="auto", random_state=0), repeat)
    sk_t, (sk, _) = best_time(lambda: sklearn_kmeans_plusplus(X, k, random_state=0), repeat)
    # What the seeds are weighed against: the iterations of a default fit
    # (algorithm="auto", tol=1e-4) that starts from them, as many times (a
    # single fit once timed loading its kernels: 4.3 s at 512 clusters for
    # 0.5 s of iterations).
    iter_t, _ = best_time(lambda: KMeans(k, init=ours).fit(X), repeat)
    par_iter_t, _ = best_time(lambda: KMeans(k, init=par).fit(X), repeat)
    ls_iter_t, _ = best_time(lambda: KMeans(k, init=ls).fit(X), repeat)
    return {"shape": f"({n:,}, {d}, {k})", "dtype": np.dtype(dtype).name,
            "ours": ours_t, "parallel": par_t, "local": ls_t, "sklearn": sk_t,
            "iterations": iter_t, "par_iterations": par_iter_t, "ls_iterations": ls_iter_t,
            "ours_pot": potential(ours), "par_pot": potential(par), "ls_pot": potential(ls),
            "sk_pot": potential(sk)}


# Shapes around the crossovers of k-means++ in batches against its steps one
# by one (``kmeanskit.init.BATCHED_MIN_*``).
BATCH_SHAPES = [(40_000, 16, 16), (60_000, 784, 10), (1_000_000, 2, 16), (50_000, 3, 64),
                (100_000, 2, 64), (1_000_000, 2, 64), (200_000, 4, 64), (200_000, 8, 64),
                (200_000, 32, 64), (50_000, 64, 64), (60_000, 784, 64), (100_000, 2, 100),
                (100_000, 6, 100), (200_000, 2, 128), (200_000, 4, 256), (100_000, 16, 256),
                (100_000, 2, 512), (200_000, 64, 512), (300_000, 8, 1000)]


def bench_batches(n, d, k, repeat):
    """k-means++ seconds in batches and step by step, same data and seed."""
    import kmeanskit.init as init
    from kmeanskit import kmeans_plusplus

    X = make_blobs(n, d, k, np.float64)
    thresholds = {name: getattr(init, name) for name in (
        "BATCHED_MIN_ROWS", "BATCHED_MIN_CLUSTERS")}
    times = {}
    try:
        for mode, value in (("batches", 0), ("steps", np.inf)):
            for name in thresholds:
                setattr(init, name, value)
            kmeans_plusplus(X[:5000], 70, random_state=0)  # compile outside the timing
            times[mode] = best_time(lambda: kmeans_plusplus(X, k, random_state=0), repeat)[0]
    finally:
        for name, value in thresholds.items():
            setattr(init, name, value)
    return times


# The fits whose time bench_init_share splits: k-means++ and one run of
# k-means|| on X, and the default (k-means|| restarted on a sample where X
# holds three samples or more, else run twice; see KMeans's n_init).
INIT_SHARE_FITS = {"k-means++": {"init": "k-means++"},
                   "k-means|| (one run)": {"init": "k-means||", "n_init": 1},
                   "default": {}}


def bench_init_share(n, d, k, seeds, repeat, spread):
    """Where a whole fit's time goes (``KMeans(k, random_state=seed)`` with
    ``algorithm="auto"``, ``tol=1e-4``) on blobs of standard deviation
    ``spread``: seconds in its initialisations (every run's, timed around
    ``KMeans._initial_centers``) and in the rest (the iterations, the
    restarts' iterations on a sample, the final labels).  For each fit, the
    repeat with the least total; medians over ``seeds``."""
    from kmeanskit import KMeans

    X = make_blobs(n, d, k, np.float64, spread=spread)
    spent = []
    initial_centers = KMeans._initial_centers

    def timed(self, *args):
        start = time.perf_counter()
        try:
            return initial_centers(self, *args)
        finally:
            spent.append(time.perf_counter() - start)

    KMeans._initial_centers = timed
    rows = {}
    try:
        for name, params in INIT_SHARE_FITS.items():
            KMeans(k, random_state=0, **params).fit(X[:n // 4])  # compile outside the timing
            splits, inertias, iterations = [], [], []
            for seed in seeds:
                runs = []
                for _ in range(repeat):
                    spent.clear()
                    start = time.perf_counter()
                    fitted = KMeans(k, random_state=seed, **params).fit(X)
                    total = time.perf_counter() - start
                    runs.append((total, sum(spent)))
                total, initialising = min(runs)
                splits.append((total, initialising, total - initialising))
                inertias.append(fitted.inertia_)
                iterations.append(fitted.n_iter_)
            total, initialising, rest = np.median(splits, axis=0)
            ratios = [i / r for _, i, r in splits]
            rows[name] = {"fit": total, "init": initialising, "rest": rest,
                          "ratio": float(np.median(ratios)), "ratios": ratios,
                          "inertia": float(np.median(inertias)),
                          "iterations": int(np.median(iterations))}
    finally:
        KMeans._initial_centers = initial_centers
    return rows


# (rows per seed, seeds, features) for the distance table's crossovers:
# about four rows a seed is k-means||'s recluster of its candidates.
TABLE_SHAPES = ([(4, k, d) for k in (64, 256, 512, 1000) for d in (2, 4, 8, 16, 32, 64)]
                + [(10, k, d) for k in (64, 256) for d in (16, 64)]
                + [(30, 64, d) for d in (16, 64)])


def bench_table(rows_per_seed, k, d, repeat):
    """Weighted k-means++ with the local search (as k-means|| reclusters its
    candidates): seconds with the steps reading a table of the rows'
    distances and computing them, same data and seeds (the same centres)."""
    import kmeanskit.init as init
    from kmeanskit import kmeans_plusplus

    n = rows_per_seed * k
    X = make_blobs(n, d, k, np.float64, seed=1)
    weights = np.random.default_rng(0).uniform(1, 100, n)
    rule = {name: getattr(init, name) for name in (
        "TABLE_MAX_BYTES", "TABLE_MIN_FEATURES", "TABLE_PAIRS_PER_STEP")}
    times, seeds = {}, {}
    try:
        for mode, limits in (("table", (2**31, 1, np.inf)), ("computed", (0, 1, np.inf))):
            for name, value in zip(rule, limits, strict=True):
                setattr(init, name, value)

            def seeding():
                return kmeans_plusplus(X, k, sample_weight=weights, local_search_steps="auto",
                                       random_state=0)
            seeding()  # compile outside the timing
            times[mode], seeds[mode] = best_time(seeding, repeat)
    finally:
        for name, value in rule.items():
            setattr(init, name, value)
    assert np.array_equal(seeds["table"][1], seeds["computed"][1])
    return times


def _times_and_ratio(times, numerator, denominator, style, reverse=False):
    """The two times (in the column order, ``reverse``: denominator first)
    and their ratio, as table cells."""
    order = (denominator, numerator) if reverse else (numerator, denominator)
    return (*(style.format(times[name]) for name in order),
            f"{times[numerator] / times[denominator]:.2f}")


def _print_table(title, columns, rows):
    """Print a table under the machine and BLAS in use, a row as soon as it is
    measured."""
    print(machine_report())
    print(blas_report())
    print(f"\n{title}")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for cells in rows:
        print("| " + " | ".join(cells) + " |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small shapes only")
    parser.add_argument("--seeding-only", action="store_true",
                        help="only the second table (seeding alone)")
    parser.add_argument("--batch-crossovers", action="store_true",
                        help="only k-means++ in batches against its steps one by one")
    parser.add_argument("--table-crossovers", action="store_true",
                        help="only k-means++ from a table of distances against computing them")
    parser.add_argument("--init-share", action="store_true",
                        help="only a whole fit's initialisation against its iterations "
                             "at (200,000, 64, 512)")
    parser.add_argument("--spread", type=float, nargs="+", default=[1.0],
                        help="--init-share's blobs' standard deviations (centres in "
                             "[-10, 10]^d; 6 is bench_convergence.py's overlapping blobs)")
    args = parser.parse_args(argv)
    if args.init_share:
        n, d, k = SHAPES[-1]
        seeds = range(5)
        for spread in args.spread:
            rows = bench_init_share(n, d, k, seeds, args.repeat, spread)
            least = min(row["inertia"] for row in rows.values())
            _print_table(
                f"Whole fits at ({n:,}, {d}, {k}), float64, blobs of spread {spread:g}: "
                f"medians over seeds {seeds.start}-{seeds.stop - 1} (for each, the best of "
                f"{args.repeat}):",
                ("init", "fit", "initialisation", "the rest", "initialisation/rest",
                 "per seed", "iterations", "inertia/least"),
                ((name, *(f"{row[key]:.3f}" for key in ("fit", "init", "rest", "ratio")),
                  " ".join(f"{ratio:.2f}" for ratio in row["ratios"]), str(row["iterations"]),
                  f"{row['inertia'] / least:.4f}") for name, row in rows.items()))
        return 0
    if args.table_crossovers:
        _print_table(
            f"Weighted k-means++ and local search from a distance table, best of {args.repeat}:",
            ("rows (n, d), seeds", "table", "computed", "table/computed"),
            (((f"({rows_per_seed * k:,}, {d}), {k}",) + _times_and_ratio(
                bench_table(rows_per_seed, k, d, args.repeat), "table", "computed", "{:.4f}"))
             for rows_per_seed, k, d in TABLE_SHAPES))
        return 0
    if args.batch_crossovers:
        _print_table(
            f"k-means++ in batches against its steps one by one, best of {args.repeat}:",
            ("shape (n, d, k)", "batches", "steps one by one", "steps/batches"),
            (((f"({n:,}, {d}, {k})",) + _times_and_ratio(
                bench_batches(n, d, k, args.repeat), "steps", "batches", "{:.3f}", reverse=True))
             for n, d, k in BATCH_SHAPES))
        return 0
    shapes = [(n // 20, d, k) for n, d, k in SHAPES] if args.quick else SHAPES

    print(machine_report())
    print(blas_report())
    print()
    if not args.seeding_only:
        print(f"Lloyd, {args.iters} iterations from the same init, best of {args.repeat}:")
        print("| shape (n, d, k) | dtype | s/iter kmeanskit | s/iter sklearn | s/iter FAISS "
              "| sklearn/ours | FAISS/ours | ours/floor |")
        print("|---|---|---|---|---|---|---|---|")
        for n, d, k in shapes:
            for dtype in (np.float32, np.float64):
                r = bench_iterations(n, d, k, dtype, args.iters, args.repeat)
                print(f"| {r['shape']} | {r['dtype']} | {r['ours']:.4f} | {r['sklearn']:.4f} "
                      f"| {r['faiss']:.4f} | {r['sklearn'] / r['ours']:.2f} "
                      f"| {r['faiss'] / r['ours']:.2f} | {r['ours'] / r['floor']:.2f} |",
                      flush=True)
        print()
    print("Seeding alone (seconds, best of 3 for every seeding and fit; potential = inertia "
          "of the seeds, lower is better):")
    print("| shape (n, d, k) | dtype | k-means++ ours | sklearn kmeans_plusplus | sklearn/ours "
          "| potential ours/sklearn | fit from these seeds | k-means|| ours "
          "| potential k-means||/sklearn | fit from these seeds | local-search++ ours "
          "| potential local-search++/sklearn | fit from these seeds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    seeding_shapes = [(n // 20, d, k) for n, d, k in SHAPES] if args.quick else SHAPES
    for n, d, k in seeding_shapes:
        r = bench_seeding(n, d, k, np.float64, 3)
        print(f"| {r['shape']} | {r['dtype']} | {r['ours']:.3f} | {r['sklearn']:.3f} "
              f"| {r['sklearn'] / r['ours']:.2f} | {r['ours_pot'] / r['sk_pot']:.3f} "
              f"| {r['iterations']:.3f} | {r['parallel']:.3f} "
              f"| {r['par_pot'] / r['sk_pot']:.3f} | {r['par_iterations']:.3f} "
              f"| {r['local']:.3f} | {r['ls_pot'] / r['sk_pot']:.3f} "
              f"| {r['ls_iterations']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
