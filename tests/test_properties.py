"""Invariants of Lloyd's algorithm, checked on generated data (hypothesis)."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kmeanskit import KMeans, kmeans_parallel, kmeans_plusplus
from kmeanskit._threads import thread_limits

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@st.composite
def problems(draw):
    n = draw(st.integers(4, 60))
    d = draw(st.integers(1, 10))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    # Integer-valued coordinates make duplicates and ties common.
    X = draw(arrays(dtype, (n, d), elements=st.integers(-20, 20).map(float)))
    k = draw(st.integers(1, min(n, 6)))
    weights = draw(st.one_of(
        st.none(), arrays(np.float64, n, elements=st.integers(1, 5).map(float))))
    init = draw(st.sampled_from(["k-means++", "random", "sharding", "k-means||"]))
    algorithm = draw(st.sampled_from(["lloyd", "hamerly", "elkan", "yinyang"]))
    return X, k, weights, init, algorithm


def _fit(X, k, weights, init, algorithm="lloyd", **params):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fewer distinct points than clusters
        return KMeans(k, init=init, algorithm=algorithm, random_state=0, **params).fit(
            X, sample_weight=weights)


@SETTINGS
@given(problems())
def test_labels_in_range_and_objective_never_rises(problem):
    X, k, weights, init, algorithm = problem
    model = _fit(X, k, weights, init, algorithm)
    assert model.labels_.min() >= 0 and model.labels_.max() < k
    assert np.isfinite(model.cluster_centers_).all()
    inertias = [r.inertia for r in model.history_]
    scale = 1e-4 if X.dtype == np.float32 else 1e-9
    for before, after in zip(inertias, inertias[1:], strict=False):
        assert after <= before * (1 + scale) + scale


@SETTINGS
@given(problems())
def test_converged_centroid_is_the_mean_of_its_points(problem):
    X, k, weights, init, algorithm = problem
    model = _fit(X, k, weights, init, algorithm, tol=0.0)
    assume(model.history_[-1].n_changed == 0 and model.n_iter_ < 300)
    w = np.ones(len(X)) if weights is None else weights
    for cluster in np.unique(model.labels_):
        members = model.labels_ == cluster
        mean = np.average(X[members].astype(np.float64), axis=0, weights=w[members])
        tol = 1e-4 if X.dtype == np.float32 else 1e-9
        np.testing.assert_allclose(model.cluster_centers_[cluster], mean, rtol=tol, atol=tol)


@SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_permuting_rows_permutes_labels_only(problem, random):
    X, k, weights, _, algorithm = problem
    init = X[:k].copy()
    permutation = np.array(random.sample(range(len(X)), len(X)))
    a = _fit(X, k, weights, init, algorithm)
    b = _fit(X[permutation], k, None if weights is None else weights[permutation], init,
             algorithm)
    # Relocating an empty cluster breaks ties between equally far points by row
    # index, which a permutation legitimately changes.
    assume(not any(r.n_empty for r in a.history_ + b.history_))
    np.testing.assert_array_equal(a.labels_[permutation], b.labels_)
    tol = 1e-4 if X.dtype == np.float32 else 1e-9
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=tol, atol=tol)


@pytest.mark.parametrize("init", ["k-means++", "random", "k-means||", "sharding"])
@pytest.mark.parametrize("kind", ["float64", "float32", "sparse"])
def test_same_result_on_one_and_two_threads(rng, init, kind):
    X = rng.normal(size=(5000, 12)) * rng.uniform(0.5, 3, size=12)
    X[np.abs(X) < 0.5] = 0.0
    X = {"float64": X, "float32": X.astype(np.float32), "sparse": sp.csr_matrix(X)}[kind]
    weights = rng.uniform(0.5, 2.0, size=5000)
    one = KMeans(9, init=init, random_state=5, n_threads=1).fit(X, sample_weight=weights)
    two = KMeans(9, init=init, random_state=5, n_threads=2).fit(X, sample_weight=weights)
    np.testing.assert_array_equal(one.labels_, two.labels_)
    np.testing.assert_array_equal(one.cluster_centers_, two.cluster_centers_)
    assert one.inertia_ == two.inertia_
    assert [r.inertia for r in one.history_] == [r.inertia for r in two.history_]


def test_seeding_functions_same_on_one_and_two_threads(rng):
    X = rng.normal(size=(6000, 16))
    a = kmeans_plusplus(X, 30, random_state=1, n_threads=1)[1]
    b = kmeans_plusplus(X, 30, random_state=1, n_threads=2)[1]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(kmeans_parallel(X, 30, random_state=1, n_threads=1),
                                  kmeans_parallel(X, 30, random_state=1, n_threads=2))


def test_thread_settings_restored_even_on_error():
    import numba

    before = numba.get_num_threads()
    with pytest.raises(RuntimeError, match="boom"):
        with thread_limits(1):
            assert numba.get_num_threads() == 1
            raise RuntimeError("boom")
    assert numba.get_num_threads() == before
