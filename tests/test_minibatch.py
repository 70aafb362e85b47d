"""MiniBatchKMeans: scikit-learn's contract, streaming, and quality."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans as SklearnMiniBatchKMeans
from sklearn.utils.estimator_checks import parametrize_with_checks

from conftest import blobs, documents
from kmeanskit import KMeans, MiniBatchKMeans

REASON = ("random batches are drawn by row position and the check reorders rows between "
          "its weighted and repeated fits")


@parametrize_with_checks(
    [MiniBatchKMeans(n_clusters=2, batch_size=10, n_init=2, max_iter=5, random_state=0)],
    expected_failed_checks=lambda est: {
        "check_sample_weight_equivalence_on_dense_data": REASON,
        "check_sample_weight_equivalence_on_sparse_data": REASON,
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("init", ["k-means++", "local-search++"])
def test_reaches_full_kmeans_quality_on_blobs(rng, init):
    X, _ = blobs(rng, n=20_000, d=4, k=10, spread=8.0)
    full = KMeans(10, random_state=0).fit(X)
    mini = MiniBatchKMeans(10, init=init, batch_size=512, random_state=0).fit(X)
    assert mini.inertia_ <= full.inertia_ * 1.05
    np.testing.assert_array_equal(mini.labels_, mini.predict(X))
    assert mini.inertia_ == pytest.approx(-mini.score(X))


def test_as_good_as_sklearn_minibatch_over_seeds(rng):
    X, _ = blobs(rng, n=20_000, d=8, k=20, spread=6.0)
    ours = [MiniBatchKMeans(20, batch_size=1024, random_state=s).fit(X).inertia_
            for s in range(5)]
    theirs = [SklearnMiniBatchKMeans(20, batch_size=1024, random_state=s).fit(X).inertia_
              for s in range(5)]
    assert np.mean(ours) <= np.mean(theirs) * 1.02


def test_partial_fit_streams(rng):
    X, _ = blobs(rng, n=6000, d=3, k=5, spread=8.0)
    model = MiniBatchKMeans(5, random_state=0)
    for chunk in np.array_split(X, 30):
        model.partial_fit(chunk)
    assert model.n_steps_ == 30 and len(model.history_) == 30
    full = KMeans(5, random_state=0).fit(X)
    assert -model.score(X) <= full.inertia_ * 1.1


def test_small_clusters_are_reassigned(rng):
    X, _ = blobs(rng, n=5000, d=2, k=4, spread=8.0)
    init = np.concatenate([X[:3], [[1e3, 1e3]]])  # one centroid far from everything
    model = MiniBatchKMeans(4, init=init, batch_size=200, random_state=0).fit(X)
    assert sum(r.n_reassigned for r in model.history_) >= 1
    assert np.abs(model.cluster_centers_).max() < 100


def test_early_stopping_and_tol(rng):
    X, _ = blobs(rng, n=50_000, d=2, k=3, spread=10.0)
    model = MiniBatchKMeans(3, batch_size=256, max_no_improvement=3, random_state=0).fit(X)
    assert model.n_steps_ < (100 * 50_000) // 256
    no_stop = MiniBatchKMeans(3, batch_size=256, max_no_improvement=None, max_iter=1,
                              random_state=0).fit(X)
    assert no_stop.n_steps_ == 50_000 // 256


def test_sample_weight_zero_rows_are_ignored(rng):
    X, _ = blobs(rng, n=4000, d=2, k=3, spread=8.0)
    far = np.full((50, 2), 500.0)
    weights = np.r_[np.ones(4000), np.zeros(50)]
    model = MiniBatchKMeans(3, random_state=0).fit(np.vstack([X, far]), sample_weight=weights)
    assert np.abs(model.cluster_centers_).max() < 100


def test_sparse_and_float32(rng):
    X, _ = blobs(rng, n=3000, d=20, k=4, spread=8.0)
    X[np.abs(X) < 3] = 0
    sparse_model = MiniBatchKMeans(4, random_state=0).fit(sp.csr_matrix(X))
    dense_model = MiniBatchKMeans(4, random_state=0).fit(X)
    np.testing.assert_allclose(sparse_model.cluster_centers_, dense_model.cluster_centers_,
                               rtol=1e-6, atol=1e-6)
    single = MiniBatchKMeans(4, random_state=0).fit(X.astype(np.float32))
    assert single.cluster_centers_.dtype == np.float32


def test_deterministic_under_seed_and_threads(rng):
    X, _ = blobs(rng, n=8000, d=5, k=6)
    one = MiniBatchKMeans(6, random_state=3, n_threads=1).fit(X)
    two = MiniBatchKMeans(6, random_state=3, n_threads=2).fit(X)
    np.testing.assert_array_equal(one.cluster_centers_, two.cluster_centers_)


@pytest.mark.parametrize("summed_apart", [False, True])
def test_lloyd_step_takes_sparse_batches_of_any_size(rng, monkeypatch, summed_apart):
    # MiniBatchKMeans hands one step batches other than the rows it was made
    # for; sparse rows summed apart are labelled in tasks counted from the
    # batch's size.
    from kmeanskit import _driver as driver

    if summed_apart:
        monkeypatch.setattr(driver, "SPARSE_GROUP_BYTES", 0)
    X = documents(rng, n=5000, vocabulary=400)
    centers = X[:6].toarray()
    step = driver.LloydStep(driver.Data(X[:100], np.ones(100)), 6)
    for rows in (slice(0, 100), slice(100, 5000), slice(0, 50)):
        batch = driver.Data(X[rows], rng.uniform(0.5, 2.0, X[rows].shape[0]))
        step.data = batch
        labels = np.full(batch.n_samples, -1, dtype=np.int32)
        sums, weights, _, changed, _ = step.iterate(centers, np.zeros(X.shape[1]), labels)
        np.testing.assert_array_equal(labels, driver.assign(batch, centers)[0])
        assert changed == batch.n_samples
        indicator = sp.csr_matrix((batch.weights, (labels, np.arange(batch.n_samples))),
                                  shape=(6, batch.n_samples))
        np.testing.assert_allclose(sums, (indicator @ batch.X).toarray(), atol=1e-12)
        np.testing.assert_allclose(weights, np.bincount(labels, batch.weights, minlength=6))
