"""Fitting data that lives on disk: a memory-mapped X is streamed, not copied."""

import tracemalloc

import numpy as np
import pytest

from kmeanskit import KMeans


@pytest.fixture
def on_disk(tmp_path):
    rng = np.random.default_rng(0)
    n, d = 200_000, 32
    path = tmp_path / "x.npy"
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    centres = rng.uniform(-20, 20, size=(8, d))
    for start in range(0, n, 50_000):
        labels = rng.integers(0, 8, 50_000)
        X[start:start + 50_000] = centres[labels] + rng.normal(size=(50_000, d))
    X.flush()
    del X
    return np.load(path, mmap_mode="r")


@pytest.mark.parametrize("init", ["random", "k-means||", "k-means++", "local-search++"])
def test_memmap_fit_does_not_copy_X(on_disk, init):
    X = on_disk
    # A first fit compiles every kernel the traced fit will use (compiling
    # allocates Python objects that tracemalloc would count).
    KMeans(8, init=init, random_state=0).fit(X)
    tracemalloc.start()
    try:
        model = KMeans(8, init=init, random_state=0).fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # X is 25.6 MB (128 bytes a row); what a fit allocates is per-row
    # bookkeeping (weights 8 bytes, labels 4, twice while n_init runs compare;
    # the seeding's closest distance and centre, 12, and the local search's
    # second closest, 12) and block-sized temporaries, never a copy of X.
    n = X.shape[0]
    per_row = 48 if init == "local-search++" else 36
    assert peak < per_row * n + 2**22, f"{peak / n:.1f} bytes a row for X of {X.nbytes / n:.0f}"
    in_memory = KMeans(8, init=init, random_state=0).fit(np.asarray(X))
    np.testing.assert_array_equal(model.labels_, in_memory.labels_)
    assert model.cluster_centers_.dtype == np.float32


def test_unit_weights_view_draws_and_sums_as_ones():
    # A memmap fit without weights keeps them as one broadcast value; every
    # draw and sum made from it must equal those made from an array of ones.
    from kmeanskit._validation import unit_weights
    from kmeanskit.init import _pick_weighted, _weighted_counts, _weighted_total

    n = 300_001
    values = np.random.default_rng(0).random(n)
    labels = np.random.default_rng(1).integers(0, 7, n).astype(np.int32)
    view, ones = unit_weights(n), np.ones(n)
    np.testing.assert_array_equal(_pick_weighted(view, np.random.default_rng(2), 1000),
                                  _pick_weighted(ones, np.random.default_rng(2), 1000))
    assert _weighted_total(view, values) == _weighted_total(ones, values)
    np.testing.assert_array_equal(_weighted_counts(labels, view, 7), np.bincount(labels))
