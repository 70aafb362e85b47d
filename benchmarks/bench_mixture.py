"""GaussianMixture: kmeanskit vs scikit-learn from the same initial parameters.

Both run in this process on the same data (200,000 x 16, 16 blobs) from the
same weights, means and precisions for the same number of EM iterations
(``tol=0``); the table gives seconds per iteration, the ratio and the final
mean log-likelihood of each.

Run:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_mixture.py
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from _common import best_time, blas_report, machine_report, make_blobs


def main() -> int:
    from sklearn.mixture import GaussianMixture as SklearnMixture

    from kmeanskit import GaussianMixture

    warnings.simplefilter("ignore")  # fixed iteration counts end unconverged on purpose
    n, d, k, n_iter = 200_000, 16, 16, 10
    X = make_blobs(n, d, k, np.float64)
    rng = np.random.default_rng(0)
    print(machine_report())
    print(blas_report())
    print()
    print("| covariance | n, d, k | s/iter kmeanskit | s/iter sklearn | sklearn/ours "
          "| log-likelihood ours | log-likelihood sklearn |")
    print("|---|---|---|---|---|---|---|")
    for covariance_type in ("full", "diag", "tied", "spherical"):
        means = X[rng.choice(n, k, replace=False)]
        precisions = {"full": np.stack([np.eye(d) * 0.05] * k), "tied": np.eye(d) * 0.05,
                      "diag": np.full((k, d), 0.05), "spherical": np.full(k, 0.05)}
        init = dict(weights_init=np.full(k, 1 / k), means_init=means,
                    precisions_init=precisions[covariance_type])
        params = dict(covariance_type=covariance_type, max_iter=n_iter, tol=0.0, **init)
        GaussianMixture(k, **{**params, "max_iter": 1}).fit(X[:2000])  # compile
        ours_t, ours = best_time(lambda p=params: GaussianMixture(k, **p).fit(X), 2)
        theirs_t, theirs = best_time(lambda p=params: SklearnMixture(k, **p).fit(X), 2)
        print(f"| {covariance_type} | {n:,}, {d}, {k} | {ours_t / n_iter:.4f} "
              f"| {theirs_t / n_iter:.4f} | {theirs_t / ours_t:.2f} "
              f"| {ours.lower_bound_:.8f} | {theirs.lower_bound_:.8f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
