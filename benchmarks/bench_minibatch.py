"""MiniBatchKMeans at equal time: kmeanskit vs scikit-learn.

Both run in this process on the same data (262,144 x 16, 64 blobs; one pass
is 256 batches of 1,024), without early stopping, for 1, 2, 4 and 8 passes;
the table gives seconds and the final inertia on all of the data (computed
the same way for both), so the two can be compared at equal time.

Run:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_minibatch.py
"""

from __future__ import annotations

import sys
import time

import numpy as np

from _common import blas_report, machine_report, make_blobs


def main() -> int:
    from sklearn.cluster import MiniBatchKMeans as SklearnMiniBatchKMeans

    from kmeanskit import MiniBatchKMeans
    from kmeanskit.kmeans import _label

    n, d, k = 262_144, 16, 64
    X = make_blobs(n, d, k, np.float64)
    weights = np.ones(n)
    MiniBatchKMeans(k, max_iter=1, random_state=0).fit(X[:5000])  # compile
    print(machine_report())
    print(blas_report())
    print()
    print("| passes (steps) | seconds ours | seconds sklearn | inertia ours | inertia sklearn |")
    print("|---|---|---|---|---|")
    results = {}
    for passes in (1, 2, 4, 8):
        row = {}
        for name, cls in (("ours", MiniBatchKMeans), ("sklearn", SklearnMiniBatchKMeans)):
            model = cls(k, batch_size=1024, max_iter=passes, max_no_improvement=None,
                        compute_labels=False, random_state=0)
            start = time.perf_counter()
            model.fit(X)
            row[name] = (time.perf_counter() - start,
                         _label(X, weights, model.cluster_centers_)[1])
        results[passes] = row
        print(f"| {passes} ({passes * 256}) | {row['ours'][0]:.2f} | {row['sklearn'][0]:.2f} "
              f"| {row['ours'][1]:.6g} | {row['sklearn'][1]:.6g} |", flush=True)
    print()
    for passes, row in results.items():
        budget = row["sklearn"][0]
        within = [(p, r["ours"]) for p, r in results.items() if r["ours"][0] <= budget]
        if within:
            p, (seconds, inertia) = max(within, key=lambda item: item[0])
            print(f"In scikit-learn's time for {passes} pass(es) ({budget:.2f} s), kmeanskit "
                  f"runs {p} pass(es) ({seconds:.2f} s): inertia {inertia:.6g} vs "
                  f"{row['sklearn'][1]:.6g} ({inertia / row['sklearn'][1]:.5f}x).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
