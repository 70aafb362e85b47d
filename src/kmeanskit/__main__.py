"""``python -m kmeanskit`` (and the ``kmeanskit`` command): the demo.

Clusters the bundled mall-customers table on income and spending score and
prints a summary of the segments.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import KMeans, __version__
from .datasets import load_mall_customers

FEATURES = ["Annual Income (k$)", "Spending Score (1-100)"]


def _describe(income: float, spending: float) -> str:
    def level(value, low, high):
        return "low" if value < low else "high" if value > high else "middle"

    return f"{level(income, 40, 70)} income, {level(spending, 35, 65)} spending"


def demo(n_clusters: int = 5, random_state: int = 0) -> str:
    """Segment the bundled customers; return the printed summary."""
    customers = load_mall_customers()
    X = customers[FEATURES]
    start = time.perf_counter()
    model = KMeans(n_clusters, random_state=random_state).fit(X)
    seconds = time.perf_counter() - start
    lines = [
        f"kmeanskit {__version__}: {len(X)} customers, features {FEATURES}",
        f"KMeans(n_clusters={n_clusters}) converged in {model.n_iter_} iterations "
        f"({seconds:.2f} s), inertia {model.inertia_:.1f}",
        "",
        f"{'segment':>7}  {'customers':>9}  {'share':>6}  {'income':>6}  "
        f"{'spending':>8}  description",
    ]
    sizes = np.bincount(model.labels_, minlength=n_clusters)
    order = np.lexsort(model.cluster_centers_.T[::-1])
    for segment in order:
        income, spending = model.cluster_centers_[segment]
        lines.append(
            f"{segment:>7}  {sizes[segment]:>9}  {sizes[segment] / len(X):>6.1%}  "
            f"{income:>6.1f}  {spending:>8.1f}  {_describe(income, spending)}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kmeanskit",
        description="Segment the bundled mall-customers demo data with k-means.",
        epilog="Example: python -m kmeanskit --k 5 --seed 0",
    )
    parser.add_argument("--k", type=int, default=5, help="number of segments (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--version", action="version", version=f"kmeanskit {__version__}")
    args = parser.parse_args(argv)
    try:
        print(demo(args.k, args.seed))
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
