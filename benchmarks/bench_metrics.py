"""Quality scores: kmeanskit vs scikit-learn, time and peak memory.

Each measurement runs in a fresh process so that its peak resident memory
(minus the process's footprint just before the call) is its own.

Run:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_metrics.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

WORKER = r"""
import json, resource, sys, time
import numpy as np
sys.path.insert(0, {here!r})
from _common import make_blobs
n, d, k, what = {n}, {d}, {k}, {what!r}
X = make_blobs(n, d, k, np.float64)
from sklearn.cluster import KMeans
labels = KMeans(k, n_init=1, random_state=0).fit(X).labels_
from kmeanskit import metrics
import sklearn.metrics as skm
if what.startswith("ours"):
    metrics.silhouette_score(X[:500], labels[:500]); metrics.dunn_index(X[:500], labels[:500])
def sweep_ours():
    from kmeanskit import choose_k
    from kmeanskit.selection import METHODS
    return choose_k(X, range(2, 11), methods=[m for m in METHODS if m != "gap"],
                    random_state=0, progress=False).k
def sweep_sklearn():
    for kk in range(2, 11):
        KMeans(kk, random_state=0).fit(X)
    return 0
if what == "ours choose_k":
    from kmeanskit import choose_k
    choose_k(X[:2000], range(2, 4), random_state=0, progress=False)
calls = {{
    "ours choose_k": sweep_ours,
    "sklearn sweep": sweep_sklearn,
    "ours silhouette": lambda: metrics.silhouette_score(X, labels),
    "sklearn silhouette": lambda: skm.silhouette_score(X, labels),
    "ours dunn": lambda: metrics.dunn_index(X, labels),
}}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
value = calls[what]()
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": seconds, "peak_mb": (peak - before) / 1024, "value": value}}))
"""


def measure(n, d, k, what):
    code = WORKER.format(here=str(HERE), n=n, d=d, k=k, what=what)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    from _common import blas_report, machine_report

    print(machine_report())
    print(blas_report())
    print()
    print("| score | n, d, k | seconds | sklearn seconds | sklearn/ours | extra peak MB "
          "| value |")
    print("|---|---|---|---|---|---|---|")
    ours = measure(20_000, 16, 8, "ours silhouette")
    theirs = measure(20_000, 16, 8, "sklearn silhouette")
    print(f"| silhouette (exact) | 20,000, 16, 8 | {ours['seconds']:.2f} "
          f"| {theirs['seconds']:.2f} | {theirs['seconds'] / ours['seconds']:.2f} "
          f"| {ours['peak_mb']:.0f} (sklearn {theirs['peak_mb']:.0f}) "
          f"| {ours['value']:.10f} (sklearn {theirs['value']:.10f}) |")
    dunn = measure(50_000, 16, 8, "ours dunn")
    print(f"| Dunn (exact, single/diameter) | 50,000, 16, 8 | {dunn['seconds']:.2f} | - | - "
          f"| {dunn['peak_mb']:.0f} | {dunn['value']:.6f} |")
    ours = measure(100_000, 16, 8, "ours choose_k")
    theirs = measure(100_000, 16, 8, "sklearn sweep")
    print(f"| choose_k, k = 2..10, all methods but gap | 100,000, 16, 8 true "
          f"| {ours['seconds']:.2f} | {theirs['seconds']:.2f} (KMeans fits only) "
          f"| {theirs['seconds'] / ours['seconds']:.2f} | {ours['peak_mb']:.0f} "
          f"| K = {ours['value']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
