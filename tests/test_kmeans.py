"""KMeans: agreement with scikit-learn, convergence, relocation, API."""

import importlib
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.exceptions import ConvergenceWarning

import kmeanskit._driver as driver
from conftest import blobs, recorded_runs
from kmeanskit import IterationRecord, KMeans, KMeansResult, kmeans

# The package's kmeans function shadows its module of the same name.
kmeans_module = importlib.import_module("kmeanskit.kmeans")


def _variants(rng):
    X, _ = blobs(rng, n=800, d=6, k=6)
    weights = rng.uniform(0.2, 3.0, size=X.shape[0])
    sparse_X = X.copy()
    sparse_X[np.abs(sparse_X) < 2.0] = 0.0
    return {
        "dense-float64": (X, None),
        "dense-float32": (X.astype(np.float32), None),
        "sparse-float64": (sp.csr_matrix(sparse_X), None),
        "weighted": (X, weights),
        "wide-float64": (blobs(rng, n=500, d=40, k=6)[0], None),
    }


@pytest.mark.parametrize(
    "variant", ["dense-float64", "dense-float32", "sparse-float64", "weighted", "wide-float64"]
)
def test_same_as_sklearn_from_same_init(rng, variant):
    X, weights = _variants(rng)[variant]
    init = (X[:6].toarray() if sp.issparse(X) else X[:6]).copy()
    ours = KMeans(6, init=init, n_init=1).fit(X, sample_weight=weights)
    theirs = SklearnKMeans(6, init=init, n_init=1, algorithm="lloyd").fit(
        X, sample_weight=weights
    )
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.n_iter_ == theirs.n_iter_
    rtol = 1e-5 if X.dtype == np.float32 else 1e-6
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_,
                               rtol=rtol, atol=rtol * np.abs(theirs.cluster_centers_).max())
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=rtol)
    assert ours.cluster_centers_.dtype == X.dtype


def test_tol_zero_runs_until_labels_stop_changing(rng):
    X, _ = blobs(rng, n=2000, d=3, k=8, spread=3.0)
    model = KMeans(8, tol=0.0, random_state=0).fit(X)
    assert model.history_[-1].n_changed == 0
    assert all(r.n_changed > 0 for r in model.history_[:-1])
    assert model.n_iter_ == len(model.history_)


@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "elkan", "yinyang"])
@pytest.mark.parametrize("kind", ["dense", "float32", "weighted", "sparse"])
def test_strict_convergence_keeps_the_last_pass(rng, monkeypatch, algorithm, kind):
    X, _ = blobs(rng, n=3000, d=6, k=8, spread=3.0, dtype=np.float32 if kind == "float32"
                 else np.float64)
    # Far from the origin, where an inertia from per-cluster sums loses digits.
    offset = 500.0 if kind == "float32" else 1e5
    X = X + np.asarray(offset, dtype=X.dtype)
    if kind == "sparse":
        X[np.abs(X - offset) < 1.0] = 0.0
        X = sp.csr_matrix(X)
    weights = rng.uniform(0.2, 3.0, X.shape[0]) if kind == "weighted" else None
    final_assignments = []
    monkeypatch.setattr(driver, "label_into", lambda *args: final_assignments.append(args))
    model = KMeans(8, algorithm=algorithm, tol=0.0, random_state=0).fit(X, sample_weight=weights)
    assert model.history_[-1].n_changed == 0
    assert final_assignments == []  # no row assigned after the last pass
    # The returned centroids are those the last pass labelled with: the labels
    # are their nearest, and they are the means of their clusters.
    dense = X.toarray() if kind == "sparse" else X.astype(np.float64)
    centers = model.cluster_centers_.astype(np.float64)
    sq = ((dense[:, None, :] - centers[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(model.labels_, sq.argmin(axis=1))
    w = np.ones(len(dense)) if weights is None else weights
    means = np.stack([np.average(dense[model.labels_ == j], axis=0, weights=w[model.labels_ == j])
                      for j in range(8)])
    rtol = 1e-6 if kind == "float32" else 1e-12
    np.testing.assert_allclose(centers, means, rtol=rtol)
    direct = float(w @ sq[np.arange(len(dense)), model.labels_])
    assert model.inertia_ == pytest.approx(direct, rel=1e-5 if kind == "float32" else 1e-12)


def test_history_records_every_iteration(rng):
    X, _ = blobs(rng)
    model = KMeans(5, random_state=1).fit(X)
    assert len(model.history_) == model.n_iter_
    first = model.history_[0]
    assert isinstance(first, IterationRecord)
    assert first.iteration == 1 and first.n_changed == X.shape[0]
    inertias = [r.inertia for r in model.history_]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(inertias, inertias[1:], strict=False))
    assert model.inertia_ <= inertias[-1] * (1 + 1e-12)


def test_labels_equal_predict_and_inertia_equals_minus_score(rng):
    X, _ = blobs(rng, n=3000, d=5, k=7)
    for init in ["k-means++", "random", "sharding", "k-means||"]:
        model = KMeans(7, init=init, random_state=3).fit(X)
        np.testing.assert_array_equal(model.labels_, model.predict(X))
        assert model.inertia_ == pytest.approx(-model.score(X), rel=1e-12)


def test_max_iter_stops_and_still_assigns(rng):
    X, _ = blobs(rng, n=2000, d=2, k=10, spread=2.0)
    model = KMeans(10, max_iter=2, tol=0.0, random_state=0).fit(X)
    assert model.n_iter_ == 2
    np.testing.assert_array_equal(model.labels_, model.predict(X))


def test_empty_cluster_is_relocated_to_the_farthest_point():
    X = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [10.0, 10.0]])
    # The third centre is far from every point, so it starts empty.
    init = np.array([[0.0, 0.0], [10.0, 10.0], [100.0, 100.0]])
    model = KMeans(3, init=init).fit(X)
    assert model.history_[0].n_empty == 1
    assert np.isfinite(model.cluster_centers_).all()
    assert np.unique(model.labels_).size == 3


def test_transform_is_euclidean_distance(rng):
    X, _ = blobs(rng)
    model = KMeans(5, random_state=0).fit(X)
    expected = np.linalg.norm(X[:, None, :] - model.cluster_centers_[None], axis=2)
    np.testing.assert_allclose(model.transform(X), expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(model.fit_transform(X), expected, rtol=1e-9, atol=1e-9)
    sparse_model = KMeans(5, init=model.cluster_centers_).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(sparse_model.transform(sp.csr_matrix(X)),
                               sparse_model.transform(X), rtol=1e-7, atol=1e-7)


def test_sparse_input_is_never_densified(rng, monkeypatch):
    X, _ = blobs(rng, n=400, d=30, k=4)
    X[np.abs(X) < 3] = 0
    X = sp.csr_matrix(X)

    def refuse(*args, **kwargs):
        raise AssertionError("X was densified")

    monkeypatch.setattr(sp.csr_matrix, "toarray", refuse)
    monkeypatch.setattr(sp.csr_matrix, "todense", refuse)
    model = KMeans(4, init=np.asarray(X[:4].sum(axis=0)).repeat(4, 0) * 0.1 + np.eye(4, 30),
                   n_init=1).fit(X)
    assert model.labels_.shape == (400,)


def test_dataframe_feature_names(rng):
    X, _ = blobs(rng, d=3)
    frame = pd.DataFrame(X, columns=["income", "spend", "age"])
    model = KMeans(3, random_state=0).fit(frame)
    assert list(model.feature_names_in_) == ["income", "spend", "age"]
    assert list(model.get_feature_names_out()) == ["kmeans0", "kmeans1", "kmeans2"]


def test_random_state_reproducible_and_n_init_keeps_the_best(rng):
    X, _ = blobs(rng, n=1500, d=2, k=12, spread=4.0)
    a = KMeans(12, init="random", random_state=7).fit(X)
    b = KMeans(12, init="random", random_state=7).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    singles = [KMeans(12, init="random", n_init=1, random_state=s).fit(X).inertia_
               for s in range(3)]
    best_of_many = KMeans(12, init="random", n_init=10, random_state=7).fit(X).inertia_
    assert best_of_many <= np.median(singles)


def test_default_restarts_on_a_sample_and_continues_the_best(rng, monkeypatch, capsys):
    monkeypatch.setattr(kmeans_module, "SAMPLE_MIN_ROWS", 1024)
    X, _ = blobs(rng, n=20_000, d=3, k=10, spread=2.0)
    runs = recorded_runs(monkeypatch)
    model = KMeans(10, random_state=0).fit(X)
    # 128 rows a cluster (1,280), as many runs as X holds samples, up to 8.
    assert [rows for rows, _ in runs] == [1280] * 8 + [20_000]
    best = min((result for _, result in runs[:-1]), key=lambda result: result.inertia)
    continued = KMeans(10, init=best.centers, n_init=1).fit(X)
    np.testing.assert_array_equal(model.labels_, continued.labels_)
    assert model.n_iter_ == continued.n_iter_
    for n_threads in (1, 2):
        again = KMeans(10, random_state=0, n_threads=n_threads).fit(X)
        np.testing.assert_array_equal(again.labels_, model.labels_)
    KMeans(10, random_state=0, verbose=1).fit(X)
    assert "Best of 8 runs on 1280 sampled rows" in capsys.readouterr().out
    runs.clear()
    KMeans(10, random_state=0).fit(X[:3 * 1280 - 1])  # too few rows for a sample: two runs on X
    assert [rows for rows, _ in runs] == [3 * 1280 - 1] * 2
    runs.clear()
    KMeans(10, n_init=3, random_state=0).fit(X)  # an explicit n_init runs on X
    assert [rows for rows, _ in runs] == [20_000] * 3


def test_sample_draws_distinct_rows_of_positive_weight(rng):
    X = rng.normal(size=(10_000, 2))
    weights = np.where(np.arange(10_000) % 3 == 0, rng.uniform(0.5, 2.0, 10_000), 0.0)
    sample = kmeans_module.draw_sample(driver.Data(X, weights), 2000, np.random.SeedSequence(1))
    rows = np.flatnonzero((X[:, None, :] == sample.X[None, :, :]).all(axis=2).any(axis=1))
    assert rows.size == 2000 and (rows % 3 == 0).all()
    np.testing.assert_array_equal(sample.X, X[rows])  # in X's order
    np.testing.assert_array_equal(sample.weights, weights[rows])


def test_default_ends_lower_than_sklearn_default_on_overlapping_blobs(rng):
    # Overlapping clusters, where a fit's local minimum depends on its seed:
    # with restarts on a sample (300,000 rows: four on 65,536) the default
    # ends lower on average than scikit-learn's default (greedy k-means++).
    X, _ = blobs(rng, n=300_000, d=2, k=16, spread=1.7)
    ours = [KMeans(16, random_state=seed).fit(X).inertia_ for seed in range(5)]
    theirs = [SklearnKMeans(16, random_state=seed).fit(X).inertia_ for seed in range(5)]
    assert np.mean(ours) <= np.mean(theirs)


def test_generator_random_state(rng):
    X, _ = blobs(rng)
    model = KMeans(5, random_state=np.random.default_rng(0)).fit(X)
    again = KMeans(5, random_state=np.random.default_rng(0)).fit(X)
    np.testing.assert_array_equal(model.labels_, again.labels_)


def test_warm_start_from_previous_centres(rng):
    X, _ = blobs(rng, n=2000, d=4, k=6)
    first = KMeans(6, max_iter=2, tol=0.0, random_state=0).fit(X)
    resumed = KMeans(6, init=first.cluster_centers_, n_init=1).fit(X)
    full = KMeans(6, tol=0.0, random_state=0).fit(X)
    assert resumed.inertia_ <= first.inertia_ * (1 + 1e-12)
    np.testing.assert_allclose(np.sort(resumed.cluster_centers_, axis=0),
                               np.sort(full.cluster_centers_, axis=0), rtol=1e-9)


def test_callable_init(rng):
    X, _ = blobs(rng)
    seen = {}

    def first_rows(X, n_clusters, random_state):
        seen["rng"] = random_state
        return X[:n_clusters]

    model = KMeans(5, init=first_rows).fit(X)
    assert isinstance(seen["rng"], np.random.Generator)
    reference = KMeans(5, init=X[:5]).fit(X)
    np.testing.assert_array_equal(model.labels_, reference.labels_)


def test_explicit_init_with_n_init_warns(rng):
    X, _ = blobs(rng)
    with pytest.warns(RuntimeWarning, match="performing one run instead of n_init=3"):
        KMeans(5, init=X[:5], n_init=3).fit(X)


def test_function_form_wraps_the_estimator(rng):
    X, _ = blobs(rng)
    result = kmeans(X, 5, random_state=4, init="sharding")
    model = KMeans(5, random_state=4, init="sharding").fit(X)
    assert isinstance(result, KMeansResult)
    np.testing.assert_array_equal(result.labels, model.labels_)
    np.testing.assert_array_equal(result.centers, model.cluster_centers_)
    assert result.inertia == model.inertia_ and result.n_iter == model.n_iter_


def test_duplicates_and_constant_features_work(rng):
    X = np.repeat(rng.normal(size=(20, 3)), 5, axis=0)
    X[:, 1] = 4.0
    model = KMeans(4, random_state=0).fit(X)
    assert np.isfinite(model.cluster_centers_).all()
    np.testing.assert_allclose(model.cluster_centers_[:, 1], 4.0)


def test_fewer_distinct_points_than_clusters_warns_and_keeps_k_centres():
    X = np.array([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 5)
    with pytest.warns(ConvergenceWarning, match=r"distinct clusters \(2\).*n_clusters \(3\)"):
        model = KMeans(3, random_state=0).fit(X)
    assert model.cluster_centers_.shape == (3, 2)
    assert np.isfinite(model.cluster_centers_).all()


def test_weights_equal_repetition_from_same_init(rng):
    X, _ = blobs(rng, n=300, d=3, k=4)
    counts = rng.integers(0, 4, size=X.shape[0])
    counts[:4] = 1
    init = X[:4].copy()
    weighted = KMeans(4, init=init).fit(X, sample_weight=counts)
    repeated = KMeans(4, init=init).fit(np.repeat(X, counts, axis=0))
    np.testing.assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_,
                               rtol=1e-10)
    assert weighted.inertia_ == pytest.approx(repeated.inertia_, rel=1e-10)
    assert weighted.n_iter_ == repeated.n_iter_


def test_zero_weight_points_do_not_move_centres(rng):
    X, _ = blobs(rng, n=400, d=2, k=3)
    weights = np.ones(400)
    weights[::2] = 0.0
    model = KMeans(3, random_state=0).fit(X, sample_weight=weights)
    reference = KMeans(3, init=model.cluster_centers_).fit(X[1::2])
    np.testing.assert_allclose(model.cluster_centers_, reference.cluster_centers_, rtol=1e-9)


def test_verbose_prints_iterations(rng, capsys):
    X, _ = blobs(rng)
    KMeans(5, random_state=0, verbose=1).fit(X)
    out = capsys.readouterr().out
    assert "Iteration 1: inertia" in out and "Converged at iteration" in out


def test_far_from_origin_data_is_handled_accurately(rng):
    X, _ = blobs(rng, n=1000, d=2, k=4)
    shifted = X + 1e7
    a = KMeans(4, init=X[:4]).fit(X)
    b = KMeans(4, init=shifted[:4]).fit(shifted)
    np.testing.assert_array_equal(a.labels_, b.labels_)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kernel_from", [0, driver.MOMENTS_KERNEL_MIN_VALUES])
def test_data_moments_match_numpy_far_from_the_origin(rng, monkeypatch, dtype, kernel_from):
    # tol's mean variance and a bounded run's moments come from one pass
    # about the first row (the variance of small X in NumPy): exact to
    # rounding 10^6 from the origin, in float32 too, and the same on one
    # thread or two.
    from kmeanskit._threads import thread_limits

    monkeypatch.setattr(driver, "MOMENTS_KERNEL_MIN_VALUES", kernel_from)
    X = (rng.normal(size=(20_000, 7)) * [1, 2, 3, 4, 5, 6, 0.001] + 1e6).astype(dtype)
    weights = rng.uniform(0.0, 3.0, size=len(X))
    exact = X.astype(np.float64)
    mean = exact.mean(axis=0)
    results = []
    for n_threads in (1, 2):
        with thread_limits(n_threads):
            data = driver.Data(X, weights)
            results.append((data.mean_variance, data.moments))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_array_equal(a, b)
    variance, (m, first, second, total) = results[0]
    assert variance == pytest.approx(np.var(exact, axis=0).mean(), rel=1e-9)
    np.testing.assert_allclose(m, mean, rtol=1e-14)
    # The moments about the mean returned (the bounded steps' frame): a
    # mean off by 10^-14 moves the first moment by W 10^-8.
    about_m = exact - m
    spread = np.sqrt(weights @ (about_m**2).sum(axis=1))
    np.testing.assert_allclose(first, weights @ about_m, atol=1e-9 * spread)
    assert second == pytest.approx(weights @ (about_m**2).sum(axis=1), rel=1e-9)
    assert total == pytest.approx(weights.sum())


@pytest.mark.parametrize("d", [6, 64])
def test_float32_inertia_of_far_apart_clusters(rng, d):
    # Clusters 10^4 apart, unit spread: in float32 the expansion
    # |x|^2 - 2 x.c + |c|^2 loses every digit of the distances; the inertia
    # and score must not.
    X, _ = blobs(rng, n=3000, d=d, k=8, spread=1e4, dtype=np.float32)
    for algorithm in ["lloyd", "hamerly"]:
        model = KMeans(8, algorithm=algorithm, random_state=0).fit(X)
        centers = model.cluster_centers_.astype(np.float64)
        direct = ((X.astype(np.float64) - centers[model.labels_]) ** 2).sum()
        theirs = SklearnKMeans(8, init=model.cluster_centers_, n_init=1).fit(X)
        assert model.inertia_ == pytest.approx(direct, rel=1e-5)
        assert theirs.inertia_ == pytest.approx(direct, rel=1e-5)
        assert -model.score(X) == pytest.approx(direct, rel=1e-5)


def test_no_warning_on_normal_fit(rng):
    X, _ = blobs(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KMeans(5, random_state=0).fit(X)


def test_farthest_rows_block_by_block_match_a_full_sort(rng):
    # More rows than one block, many exact ties and zero weights: the leaders
    # kept block by block are those of one sort over every row.
    X = rng.integers(0, 6, size=(150_000, 2)).astype(np.float64)
    weights = rng.uniform(0.5, 2.0, len(X))
    weights[rng.random(len(X)) < 0.3] = 0.0
    data = driver.Data(X, weights)
    centers = np.array([[1.0, 1.0], [4.0, 4.0], [1.0, 4.0]])
    _, dist = driver.assign(data, centers)
    dist[weights == 0] = -1.0
    expected = np.lexsort((np.arange(len(X)), -dist))[:40]
    rows, distances = driver.farthest_rows(data, centers, 40)
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_array_equal(distances, dist[expected])
