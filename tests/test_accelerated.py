"""Hamerly and Elkan: exactly Lloyd's iterations, fewer distance computations."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import kmeanskit._driver as driver
from conftest import blobs, documents, instances_created
from kmeanskit import KMeans

ACCELERATED = ["hamerly", "elkan", "yinyang"]


def _same_run(X, k, algorithm, weights=None, init=None, inertia_rtol=None):
    init = X[:k].copy() if init is None else init
    lloyd = KMeans(k, init=init, algorithm="lloyd", tol=0).fit(X, sample_weight=weights)
    fast = KMeans(k, init=init, algorithm=algorithm, tol=0).fit(X, sample_weight=weights)
    assert fast.algorithm_ == algorithm
    assert fast.n_iter_ == lloyd.n_iter_
    assert [r.n_changed for r in fast.history_] == [r.n_changed for r in lloyd.history_]
    np.testing.assert_array_equal(fast.labels_, lloyd.labels_)
    tolerance = 1e-5 if X.dtype == np.float32 else 1e-9
    np.testing.assert_allclose(fast.cluster_centers_, lloyd.cluster_centers_,
                               rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose([r.inertia for r in fast.history_],
                               [r.inertia for r in lloyd.history_], rtol=1e-6)
    rtol = tolerance / 10 if inertia_rtol is None else inertia_rtol
    assert fast.inertia_ == pytest.approx(lloyd.inertia_, rel=rtol)
    return lloyd, fast


@pytest.mark.parametrize("algorithm", ACCELERATED)
@pytest.mark.parametrize("kind", ["float64", "float32", "weighted", "wide", "far"])
def test_same_iterations_as_lloyd(rng, algorithm, kind):
    # "far": 12 features (Hamerly visits the rows unsorted), far from the
    # origin and weighted: the running cluster sums, kept about the data mean
    # while each iteration's frame follows the centroids, stay Lloyd's.
    d = {"wide": 40, "far": 12}.get(kind, 5)
    X, _ = blobs(rng, n=3000, d=d, k=12, spread=4.0,
                 dtype=np.float32 if kind == "float32" else np.float64)
    if kind == "far":
        X += 1e4
    weights = rng.uniform(0.1, 3.0, len(X)) if kind in ("weighted", "far") else None
    _, fast = _same_run(X, 12, algorithm, weights)
    assert sum(r.n_skipped for r in fast.history_[1:]) > 0


@pytest.mark.parametrize("algorithm", ACCELERATED)
@pytest.mark.parametrize("name, k", [("s1", 15), ("a3", 50), ("unbalance", 8),
                                     ("dim032", 16), ("birch1", 100)])
def test_same_iterations_on_real_sets(data_dir, algorithm, name, k):
    X = np.loadtxt(data_dir / name / f"{name}.txt")
    if name == "birch1":
        X = X[::4]
    init = X[np.random.default_rng(0).choice(len(X), k, replace=False)]
    _same_run(X, k, algorithm, init=init)


def test_yinyang_with_many_clusters_uses_groups(rng):
    X, _ = blobs(rng, n=8000, d=3, k=60, spread=10.0)
    lloyd, fast = _same_run(X, 60, "yinyang")
    assert sum(r.n_skipped for r in fast.history_[1:]) > 0.5 * 8000 * 60 * (fast.n_iter_ - 1)


def test_skipped_distances_are_reported(rng):
    X, _ = blobs(rng, n=5000, d=3, k=20, spread=6.0)
    lloyd = KMeans(20, init=X[:20], algorithm="lloyd").fit(X)
    elkan = KMeans(20, init=X[:20], algorithm="elkan").fit(X)
    assert all(r.n_skipped == 0 for r in lloyd.history_)
    assert elkan.history_[0].n_skipped == 0  # the first iteration computes everything
    late = elkan.history_[-1]
    assert late.n_skipped > 0.8 * 5000 * 20


@pytest.mark.parametrize("d, k, plan", [
    (2, 16, "auto:hamerly"), (16, 20, "auto:yinyang"), (16, 10, "auto:yinyang"),
    (300, 10, "auto:elkan"), (100, 3, "auto:yinyang"), (16, 300, "auto:yinyang"),
    (100, 200, "auto:yinyang"), (5, 10, "auto:hamerly"), (2, 300, "auto:yinyang"),
])
def test_auto_plan_follows_the_measured_rule(d, k, plan):
    n = -(-driver.BOUNDS_MIN_WORK // (d * k))  # just enough rows for bounds to pay
    data = driver.Data(np.zeros((n, d)), np.ones(n))
    assert driver.resolve_algorithm("auto", data, k) == plan
    # One row fewer: a Lloyd pass too cheap for any bounds to recover their costs.
    fewer = driver.Data(np.zeros((n - 1, d)), np.ones(n - 1))
    assert driver.resolve_algorithm("auto", fewer, k) == "lloyd"


def test_auto_runs_lloyd_alone_on_small_fits(rng):
    X, _ = blobs(rng, n=10_000, d=10, k=8, spread=6.0)
    model = KMeans(8, random_state=0).fit(X)
    assert model.algorithm_ == "lloyd"
    assert {r.algorithm for r in model.history_} == {"lloyd"}


@pytest.mark.parametrize("shape, plan", [
    ((1000, 2, 16), "lloyd"), ((1000, 5, 40), "auto:yinyang"), ((1000, 16, 10), "auto:yinyang"),
])
def test_auto_plan_without_a_sorted_copy(monkeypatch, shape, plan):
    # Low-dimensional Hamerly copies X in sorted order, within a memory budget.
    monkeypatch.setattr(driver, "SORTED_MAX_BYTES", 1000)
    monkeypatch.setattr(driver, "BOUNDS_MIN_WORK", 0)  # these are small
    n, d, k = shape
    data = driver.Data(np.zeros((n, d)), np.ones(n))
    assert driver.resolve_algorithm("auto", data, k) == plan


def test_auto_runs_lloyd_on_a_memmap(tmp_path):
    # Bounds would cost memory per row, and each iteration still reads all of X.
    np.save(tmp_path / "X.npy", np.zeros((1000, 16)))
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    data = driver.Data(mapped[::1], np.ones(1000))
    assert driver.resolve_algorithm("auto", data, 20) == "lloyd"
    assert driver.resolve_algorithm("yinyang", data, 20) == "yinyang"


@pytest.mark.parametrize("n_features, bounded", [(12, "yinyang"), (4, "hamerly")])
def test_auto_moves_to_bounds_once_labels_settle_and_stays_exact(rng, monkeypatch,
                                                                 n_features, bounded):
    monkeypatch.setattr(driver, "BOUNDS_MIN_WORK", 0)  # this fit is small
    X, _ = blobs(rng, n=20_000, d=n_features, k=12, spread=8.0)
    init = X[:12].copy()
    auto = KMeans(12, init=init, tol=0).fit(X)
    lloyd = KMeans(12, init=init, tol=0, algorithm="lloyd").fit(X)
    steps = [r.algorithm for r in auto.history_]
    assert steps[0] == "lloyd" and bounded in steps
    assert auto.algorithm_.startswith(f"lloyd+{bounded}")
    np.testing.assert_array_equal(auto.labels_, lloyd.labels_)
    assert auto.n_iter_ == lloyd.n_iter_
    assert [r.n_changed for r in auto.history_] == [r.n_changed for r in lloyd.history_]


@pytest.mark.parametrize("separated", [True, False])
def test_auto_starts_with_yinyang_and_keeps_it_where_its_bounds_will_pay(rng, monkeypatch,
                                                                         separated):
    # Large k d: Yinyang's first pass, then Yinyang kept only if its bounds
    # are predicted to skip KEEP_BOUNDS of the next iteration's distances.
    monkeypatch.setattr(driver, "PROBED_MIN_CLUSTERS", 0)  # these fits are small
    predictions, predict = [], driver.YinyangStep.predicted_skip_share

    def recorded(self, centers, labels):
        predictions.append(predict(self, centers, labels))
        return predictions[-1]

    monkeypatch.setattr(driver.YinyangStep, "predicted_skip_share", recorded)
    n, k = 20_000, 40
    X, labels = blobs(rng, n=n, d=16, k=k, spread=20.0 if separated else 1.5)
    init = X[[np.flatnonzero(labels == j)[0] for j in range(k)]] if separated else X[:k]
    auto = KMeans(k, init=init, tol=0).fit(X)
    lloyd = KMeans(k, init=init, tol=0, algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(auto.labels_, lloyd.labels_)
    assert [r.n_changed for r in auto.history_] == [r.n_changed for r in lloyd.history_]
    steps = [r.algorithm for r in auto.history_]
    assert len(predictions) == 1 and steps[0] == "yinyang"
    assert (predictions[0] >= driver.KEEP_BOUNDS) == separated
    assert steps[1] == ("yinyang" if separated else "lloyd")
    # The prediction is a slight underestimate of what the bounds then skip.
    forced = KMeans(k, init=init, tol=0, max_iter=2, algorithm="yinyang").fit(X)
    skipped = forced.history_[1].n_skipped / (n * k)
    assert predictions[0] <= skipped <= predictions[0] + 0.2


def test_auto_returns_to_lloyd_when_bounds_do_not_pay(rng, monkeypatch):
    monkeypatch.setattr(driver, "KEEP_BOUNDS", 1.01)  # no bound can skip that much
    monkeypatch.setattr(driver, "BOUNDS_MIN_WORK", 0)  # this fit is small
    X, _ = blobs(rng, n=20_000, d=12, k=12, spread=8.0)
    model = KMeans(12, init=X[:12], tol=0, max_iter=300).fit(X)
    lloyd = KMeans(12, init=X[:12], tol=0, max_iter=300, algorithm="lloyd").fit(X)
    np.testing.assert_array_equal(model.labels_, lloyd.labels_)
    steps = "".join(r.algorithm[0] for r in model.history_)
    # Each attempt: one iteration setting the bounds, then the poor ones in a
    # row; Lloyd in between; at most RETRIES attempts after the first.
    attempt = "y" * (1 + driver.POOR_ITERATIONS)
    attempts = [run for run in steps.split("l") if run]
    assert attempts and set(attempts[:-1]) <= {attempt}, steps
    assert attempt.startswith(attempts[-1])  # the fit may converge during one
    assert 1 < len(attempts) <= 1 + driver.RETRIES
    changed = [r.n_changed for r in model.history_]
    for start in (i for i in range(1, len(steps)) if steps[i - 1:i + 1] == "ly"):
        previous = steps.rfind("y", 0, start)  # a retry waits for the changes to drop
        if previous >= 0:
            assert changed[start - 1] < driver.RETRY_DROP * changed[previous]


def test_auto_keeps_bounds_through_a_brief_poor_stretch(rng, monkeypatch):
    # A share under the threshold for fewer than POOR_ITERATIONS iterations in
    # a row does not send the plan back to Lloyd.
    monkeypatch.setattr(driver, "BOUNDS_MIN_WORK", 0)  # this fit is small
    X, _ = blobs(rng, n=20_000, d=12, k=12, spread=8.0)
    shares = iter([0.0] * (driver.POOR_ITERATIONS - 1) + [1.0] * 1000)
    monkeypatch.setattr(driver.YinyangStep, "keep_share",
                        lambda self: 1.01 if next(shares) == 0.0 else 0.0)
    model = KMeans(12, init=X[:12], tol=0).fit(X)
    steps = "".join(r.algorithm[0] for r in model.history_)
    assert "y" in steps and "l" not in steps[steps.index("y"):], steps


SPARSE_BOUNDED = ["hamerly", "elkan"]


@pytest.mark.parametrize("algorithm", SPARSE_BOUNDED)
@pytest.mark.parametrize("kind", ["documents", "float32", "weighted", "far from the origin"])
def test_sparse_same_iterations_as_lloyd(rng, algorithm, kind):
    # The sparse kernels compute distances by the expansion, as Lloyd's does,
    # with skip tests widened by its rounding bound: Lloyd's labels at every
    # iteration.  Far from the origin the expansion loses the most.
    X = documents(rng)
    if kind == "float32":
        X = X.astype(np.float32)
    if kind == "far from the origin":  # every value stored, distances << norms
        X = sp.csr_matrix(blobs(rng, n=3000, d=20, k=10, spread=3.0)[0] + 1000.0)
    weights = rng.uniform(0.1, 3.0, X.shape[0]) if kind == "weighted" else None
    init = X[rng.choice(X.shape[0], 10, replace=False)].toarray()
    # Uncentred sparse rows far from the origin: each library's inertia is a
    # sum of expansions that cancel to ~1e-9 (Lloyd's per row, the bounded
    # kernels' from the cluster sums), so the two agree to that.
    inertia_rtol = 1e-8 if kind == "far from the origin" else None
    _, fast = _same_run(X, 10, algorithm, weights, init=init, inertia_rtol=inertia_rtol)
    assert sum(r.n_skipped for r in fast.history_[1:]) > 0


@pytest.mark.parametrize("algorithm", SPARSE_BOUNDED)
def test_sparse_same_iterations_on_real_sets(data_dir, algorithm):
    X = np.loadtxt(data_dir / "a3" / "a3.txt")
    init = X[np.random.default_rng(0).choice(len(X), 50, replace=False)]
    _same_run(sp.csr_matrix(X), 50, algorithm, init=init)


@pytest.mark.parametrize("algorithm", ["lloyd", "lloyd-summed-apart", *SPARSE_BOUNDED])
def test_sparse_same_result_on_one_and_two_threads(rng, monkeypatch, algorithm):
    # Sparse rows are labelled in fixed tasks and summed cluster by cluster,
    # each cluster by one thread in row order (Lloyd: unless its per-group
    # buffers are small, as here, then summed in fixed groups).
    algorithm, _, apart = algorithm.partition("-")
    if apart:
        monkeypatch.setattr(driver, "SPARSE_GROUP_BYTES", 0)
    X = documents(rng, n=2500)
    weights = rng.uniform(0.1, 3.0, X.shape[0])
    fits = [KMeans(12, algorithm=algorithm, random_state=1, n_threads=threads)
            .fit(X, sample_weight=weights) for threads in (1, 2)]
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    assert fits[0].n_iter_ > 2


def test_sparse_lloyd_summed_apart_gives_the_fused_iterations(rng, monkeypatch):
    # Large (k, d) buffers: Lloyd sums by cluster after labelling; the labels
    # are the same at every iteration, the centroids equal to rounding.
    X = documents(rng)
    weights = rng.uniform(0.1, 3.0, X.shape[0])
    init = X[rng.choice(X.shape[0], 10, replace=False)].toarray()
    lloyd = KMeans(10, init=init, n_init=1, tol=0.0, algorithm="lloyd")
    fused = clone(lloyd).fit(X, sample_weight=weights)
    monkeypatch.setattr(driver, "SPARSE_GROUP_BYTES", 0)
    apart = clone(lloyd).fit(X, sample_weight=weights)
    assert apart.n_iter_ == fused.n_iter_ > 3
    assert [r.n_changed for r in apart.history_] == [r.n_changed for r in fused.history_]
    np.testing.assert_array_equal(apart.labels_, fused.labels_)
    np.testing.assert_allclose(apart.cluster_centers_, fused.cluster_centers_, rtol=1e-12,
                               atol=1e-15)


@pytest.mark.parametrize("full", [True, False])
def test_sparse_cluster_sums_match_an_indicator_product(rng, full):
    from kmeanskit._kernels.sparse_sums import cluster_sums_sparse

    X = documents(rng, n=700, vocabulary=300)
    weights = rng.uniform(0.1, 3.0, X.shape[0])
    k = 9
    previous = rng.integers(-1, k, X.shape[0]).astype(np.int32)  # -1: not yet labelled
    labels = np.where(rng.uniform(size=X.shape[0]) < 0.3, rng.integers(0, k, X.shape[0]),
                      np.maximum(previous, 0)).astype(np.int32)
    sums, cluster_weight = np.full((k, X.shape[1]), np.nan), np.full(k, np.nan)
    cluster_sums_sparse(X.data, X.indices, X.indptr, weights, previous, labels, full,
                        np.empty(2 * X.shape[0], dtype=np.int32), np.empty(k + 1, dtype=np.int64),
                        sums, cluster_weight)

    def indicator(of, rows):
        return sp.csr_matrix((weights[rows], (of[rows], rows)), shape=(k, X.shape[0]))

    if full:
        expected = indicator(labels, np.arange(X.shape[0]))
    else:
        moved = np.flatnonzero(labels != previous)
        left = moved[previous[moved] >= 0]
        expected = indicator(labels, moved) - indicator(previous, left)
    np.testing.assert_allclose(sums, (expected @ X).toarray(), atol=1e-12)
    np.testing.assert_allclose(cluster_weight, np.asarray(expected.sum(axis=1)).ravel(),
                               atol=1e-12)


@pytest.mark.parametrize("algorithm", SPARSE_BOUNDED)
def test_sparse_ties_go_to_the_lowest_centroid(algorithm):
    # The middle column starts exactly as far from both centroids: Lloyd
    # gives it the lower one, and so must the bounded kernels.
    left = [[0.0, y] for y in range(5)]
    middle = [[5.0, y] for y in range(5)]
    right = [[10.0, y] for y in range(5)]
    X = sp.csr_matrix(np.array(left * 3 + middle + right * 3) + 1.0)
    init = np.array([[1.0, 3.0], [11.0, 3.0]])
    _, fast = _same_run(X, 2, algorithm, init=init)
    assert set(fast.labels_[15:20]) == {0}


@pytest.mark.parametrize("algorithm", ["auto", "yinyang"])
def test_sparse_auto_runs_hamerly(rng, algorithm):
    model = KMeans(6, algorithm=algorithm, random_state=0).fit(documents(rng, n=600))
    assert model.algorithm_ == "hamerly"


def test_elkan_gives_way_to_hamerly_beyond_its_memory_budget(rng, monkeypatch):
    X, _ = blobs(rng, n=1000, d=5, k=8)
    monkeypatch.setattr(driver, "ELKAN_MAX_BYTES", 1000 * 8 * 8 - 1)
    assert KMeans(8, algorithm="elkan", random_state=0).fit(X).algorithm_ == "hamerly"


@pytest.mark.parametrize("algorithm", ACCELERATED)
def test_same_result_on_one_and_two_threads(rng, algorithm):
    X, _ = blobs(rng, n=6000, d=6, k=10)
    one = KMeans(10, algorithm=algorithm, random_state=2, n_threads=1).fit(X)
    two = KMeans(10, algorithm=algorithm, random_state=2, n_threads=2).fit(X)
    np.testing.assert_array_equal(one.labels_, two.labels_)
    np.testing.assert_array_equal(one.cluster_centers_, two.cluster_centers_)


@pytest.mark.parametrize("algorithm, sparse", [(a, False) for a in ACCELERATED]
                         + [(a, True) for a in SPARSE_BOUNDED])
def test_empty_clusters_and_duplicates(algorithm, sparse):
    # Sparse: relocation alters the sums the driver got while the kernels
    # keep running totals of the rows that moved.
    X = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [10.0, 10.0]] * 5)
    init = np.array([[0.0, 0.0], [10.0, 10.0], [100.0, 100.0]])
    lloyd, fast = _same_run(sp.csr_matrix(X) if sparse else X, 3, algorithm, init=init)
    assert fast.history_[0].n_empty == 1 and np.isfinite(fast.cluster_centers_).all()


def _sorted_rows_of(monkeypatch):
    """Record the sorted-row state of every Hamerly step a fit creates."""
    return instances_created(monkeypatch, driver._SortedRows)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sorted_hamerly_resorts_and_stays_exact(rng, monkeypatch, dtype):
    # Sort again at every chance, so that sorting with owed movement, the
    # spare buffers and the block summaries all run many times.
    monkeypatch.setattr(driver, "RESORT_EVERY", 1)
    monkeypatch.setattr(driver, "RESORT_MIXED", 0.0)
    sorts = []
    original_sort = driver._SortedRows._sort
    monkeypatch.setattr(driver._SortedRows, "_sort",
                        lambda self, half_gap: sorts.append(1) or original_sort(self, half_gap))
    created = _sorted_rows_of(monkeypatch)
    X, _ = blobs(rng, n=30_000, d=2, k=12, spread=3.0, dtype=dtype)
    X_before = X.copy()
    weights = rng.uniform(0.5, 2.0, len(X))
    _, fast = _same_run(X, 12, "hamerly", weights)
    assert len(created) == 1 and len(sorts) > 5 and fast.n_iter_ > 10
    np.testing.assert_array_equal(X, X_before)  # the caller's rows are never reordered
    # Blocks are skipped whole: far fewer rows visited than Lloyd's n per iteration.
    late = fast.history_[-1]
    assert late.n_skipped > 0.8 * len(X) * 12


def test_sorted_hamerly_on_real_sets(data_dir, monkeypatch):
    created = _sorted_rows_of(monkeypatch)
    for name, k in [("birch1", 100), ("birch2", 100), ("s3", 15)]:
        X = np.loadtxt(data_dir / name / f"{name}.txt")
        init = X[np.random.default_rng(1).choice(len(X), k, replace=False)]
        _, fast = _same_run(X, k, "hamerly", init=init)
        assert created[-1].sorted_before
        assert fast.history_[-1].n_skipped > 0.8 * len(X) * k


def test_hamerly_visits_a_memmap_in_place(tmp_path, rng, monkeypatch):
    created = _sorted_rows_of(monkeypatch)
    X, _ = blobs(rng, n=4000, d=2, k=6)
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    init = X[:6].copy()
    in_place = KMeans(6, init=init, algorithm="hamerly", tol=0).fit(mapped)
    assert created == []  # no sorted copy of a memmap
    lloyd = KMeans(6, init=init, algorithm="lloyd", tol=0).fit(X)
    np.testing.assert_array_equal(in_place.labels_, lloyd.labels_)


def test_sorted_hamerly_beyond_its_memory_budget_visits_rows(rng, monkeypatch):
    created = _sorted_rows_of(monkeypatch)
    monkeypatch.setattr(driver, "SORTED_MAX_BYTES", 1000)
    X, _ = blobs(rng, n=3000, d=2, k=6)
    _same_run(X, 6, "hamerly")
    assert created == []


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("include_assigned", [False, True])
def test_bounds_set_by_blas_are_valid(rng, dtype, include_assigned):
    # The bounds come from ||c||^2 - 2 x.c + ||x||^2, widened by its rounding
    # error: every one must hold against exact distances, even for data far
    # from the origin, and the labels must be Lloyd's.
    from kmeanskit._kernels.lloyd import lloyd_iter_dense

    X, _ = blobs(rng, n=3000, d=24, k=10, spread=3.0)
    X = (X + 1e3).astype(dtype)
    centers = X[rng.choice(len(X), 10, replace=False)].astype(np.float64)
    data = driver.Data(X, np.ones(len(X)))
    origin = data.origin(centers.astype(dtype))
    centred = np.ascontiguousarray(centers.astype(dtype) - origin)
    members = np.array([3, 7, 0, 1, 2, 4, 5, 6, 8, 9])
    offsets = np.array([0, 2, 6, 10])
    labels = np.full(len(X), -1, dtype=np.int32)
    upper, lower = np.empty(len(X)), np.empty((len(X), 3))
    sums, weights = np.empty((2, 10, 24)), np.empty((2, 10))
    inertia, changed = np.empty(2), np.empty(2, dtype=np.int64)
    lloyd_iter_dense(X, data.weights, origin, centred, True, labels, sums, weights, inertia,
                     changed, members, offsets, include_assigned, upper, lower)
    expected, _ = driver.assign(data, centers.astype(dtype))
    np.testing.assert_array_equal(labels, expected)
    exact = np.sqrt(((X.astype(np.float64)[:, None] - centers.astype(dtype)[None]) ** 2).sum(2))
    rows = np.arange(len(X))
    assert (upper >= exact[rows, labels]).all()
    for g in range(3):
        group = members[offsets[g]:offsets[g + 1]]
        others = exact[:, group].copy()
        if not include_assigned:
            others[group[None, :] == labels[:, None]] = np.inf
        assert (lower[:, g] <= others.min(axis=1)).all()
        # Tight all the same: within a small fraction of the distances.
        nearest = others.min(axis=1)
        assert np.median(lower[nearest > 0, g] / nearest[nearest > 0]) > 0.999
    away = exact[rows, labels] > 0  # the centres themselves are at distance 0
    assert np.median(upper[away] / exact[rows, labels][away]) < 1.001


def test_copy_x_false_forbids_the_sorted_copy(rng, monkeypatch):
    created = _sorted_rows_of(monkeypatch)
    X, _ = blobs(rng, n=3000, d=2, k=6)
    init = X[:6].copy()
    in_place = KMeans(6, init=init, algorithm="hamerly", tol=0, copy_x=False).fit(X)
    assert created == []
    sorted_copy = KMeans(6, init=init, algorithm="hamerly", tol=0).fit(X)
    assert len(created) == 1
    np.testing.assert_array_equal(in_place.labels_, sorted_copy.labels_)
    assert KMeans(6, copy_x=False, random_state=0).fit(X).algorithm_ == "lloyd"


@pytest.mark.parametrize("algorithm", ["lloyd", *ACCELERATED, "auto"])
def test_fewer_distinct_points_than_clusters_settle_at_once(rng, algorithm):
    # Seven distinct points, ten clusters, four seeds on one point: three
    # clusters start empty and no point is away from a centroid, so nothing
    # moves (moving would stack centroids and send points to and fro).
    points = rng.normal(size=(7, 2))
    X = np.repeat(points, 50, axis=0)
    init = np.concatenate([points, points[[6, 6, 6]]])
    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        model = KMeans(10, init=init, algorithm=algorithm).fit(X)
    assert model.n_iter_ <= 2 and model.history_[0].n_empty == 3
    assert model.inertia_ == pytest.approx(0.0, abs=1e-20)
    # One cluster per distinct point (the mean of 50 copies can round one
    # ulp away from the copies, so an identical idle centroid may win them).
    assert np.unique(model.labels_).size == 7
    np.testing.assert_array_equal(model.labels_, model.predict(X))


def test_center_gaps_by_product_never_exceed_the_exact_ones(rng):
    # Large k^2 d takes the BLAS product, less its rounding bound: a valid
    # (never larger) gap for the skip tests, and still a close one.
    from scipy.spatial.distance import cdist

    centers = rng.normal(size=(40, 1000)) + 1000.0
    assert 40 * 40 * 1000 >= driver.GAPS_PRODUCT_MIN_WORK
    gaps, exact = driver.center_gaps(centers), cdist(centers, centers)
    np.fill_diagonal(exact, np.inf)
    assert np.all(gaps <= exact)
    np.testing.assert_allclose(gaps, exact, rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_squared_distances_below_never_exceed_the_exact_ones(rng, dtype):
    # Rows 500 from the origin: the expansion cancels most of |a|^2 + |b|^2.
    # Each result must stay below the exact squared distance (here in long
    # double from the differences) and close to it.
    A = (rng.normal(size=(30, 64)) + 500.0).astype(dtype)
    B = (rng.normal(size=(20, 64)) + 500.0).astype(dtype)
    below = driver.squared_distances_below(A, B)
    differences = A.astype(np.longdouble)[:, None, :] - B.astype(np.longdouble)[None, :, :]
    exact = (differences**2).sum(axis=2)
    assert below.dtype == np.float64 and below.shape == (30, 20)
    assert np.all(below <= exact)
    np.testing.assert_allclose(below, exact.astype(np.float64), rtol=1e-9)


@pytest.mark.parametrize("step", ["hamerly", "hamerly-sorted", "elkan", "yinyang",
                                  "hamerly-sparse", "elkan-sparse"])
def test_cluster_emptied_over_iterations_has_no_residue(rng, step):
    # The bounded steps keep running cluster sums.  A cluster whose rows
    # leave over several iterations, with non-integer weights, is left with a
    # rounding residue of either sign unless emptied clusters are zeroed:
    # Lloyd's sums give it exactly 0, and relocation looks for exactly 0.
    name, _, form = step.partition("-")
    d = 4 if form == "sorted" else 12  # Hamerly sorts the rows below 8 features
    centres = np.repeat([[0.0], [10.0], [20.0]], d, axis=1)
    X = np.concatenate([c + 3 * rng.normal(size=(50, d)) for c in centres])
    weights = rng.uniform(0.1, 3.0, len(X))
    data = driver.Data(sp.csr_matrix(X) if form == "sparse" else X, weights)
    state = driver.STEPS[name](data, 3)
    if name == "hamerly":
        assert (state.rows is not None) == (form == "sorted")
    labels = np.full(len(X), -1, dtype=np.int32)
    counts = []
    for far in (20.0, 29.0, 30.5, 1000.0):  # centre 2 drifts away from its rows
        moved = centres.copy()
        moved[2] = far
        origin = data.origin(moved)
        sums, cluster_weights, *_ = state.iterate(moved - origin, origin, labels)
        counts.append(np.bincount(labels, minlength=3)[2])
    assert counts[0] > counts[1] > counts[2] > counts[3] == 0  # left over three iterations
    assert cluster_weights[2] == 0.0
    assert np.all(sums[2] == 0.0)
    np.testing.assert_allclose(cluster_weights[:2],
                               np.bincount(labels, weights=weights, minlength=3)[:2])
