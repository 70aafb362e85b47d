"""choose_k, the information criteria, Kneedle, X-means and G-means."""

import numpy as np
import pytest
from kneed import KneeLocator
from scipy.stats import anderson
from sklearn.utils.estimator_checks import parametrize_with_checks

from conftest import blobs
from kmeanskit import GMeans, KMeans, XMeans, choose_k
from kmeanskit._knee import find_knee
from kmeanskit.selection import anderson_darling, kmeans_log_likelihood, prediction_strength


@pytest.fixture(scope="module")
def five_blobs():
    rng = np.random.default_rng(5)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10], [5, 20]], dtype=float)
    labels = rng.integers(0, 5, 1500)
    return centres[labels] + rng.normal(size=(1500, 2)), labels


def test_choose_k_finds_five_blobs(five_blobs):
    X, _ = five_blobs
    result = choose_k(X, range(2, 10), random_state=0, progress=False)
    assert result.k == 5
    assert sum(k == 5 for k in result.recommendations.values()) >= 6
    frame = result.to_frame()
    assert list(frame.index) == list(range(2, 10))
    for column in ["inertia", "distortion", "silhouette", "calinski_harabasz",
                   "davies_bouldin", "dunn", "bic", "aic", "gap", "gap_se",
                   "prediction_strength"]:
        assert column in frame and frame[column].notna().all()
    text = result.explain()
    assert text.startswith("Recommended K = 5") and "- gap:" in text


def test_choose_k_fits_equal_independent_fits_from_shared_seeding(five_blobs):
    X, _ = five_blobs
    result = choose_k(X, [3, 6], methods=["silhouette"], random_state=0, progress=False)
    for k in (3, 6):
        model = result.models[k]
        assert model.n_clusters == k
        again = KMeans(k, init=model.init).fit(X)
        assert again.inertia_ == model.inertia_


def test_distortion_is_mean_distance_to_centroid(five_blobs):
    X, _ = five_blobs
    result = choose_k(X, [2, 3, 4], methods=["bic"], random_state=0, progress=False)
    model = result.models[3]
    own = np.linalg.norm(X - model.cluster_centers_[model.labels_], axis=1)
    assert result.scores["distortion"][1] == pytest.approx(own.mean())


def test_bic_formula_against_direct_likelihood(rng):
    X, _ = blobs(rng, n=400, d=3, k=4)
    model = KMeans(4, random_state=0).fit(X)
    sizes = np.bincount(model.labels_)
    n, d, k = 400, 3, 4
    variance = model.inertia_ / ((n - k) * d)
    centres = model.cluster_centers_[model.labels_]
    direct = np.sum(np.log(sizes[model.labels_] / n)
                    - d / 2 * np.log(2 * np.pi * variance)
                    - ((X - centres) ** 2).sum(axis=1) / (2 * variance))
    assert kmeans_log_likelihood(model.inertia_, sizes, d) == pytest.approx(direct)


def test_large_data_uses_sampled_silhouette_and_says_so(rng):
    X, _ = blobs(rng, n=12_000, d=2, k=3, spread=8.0)
    result = choose_k(X, [2, 3, 4], methods=["silhouette", "dunn"], random_state=0,
                      progress=False)
    assert any("stratified sample of 1500" in note for note in result.notes)
    assert any("Dunn index computed from centroids" in note for note in result.notes)
    assert (result.scores["silhouette_low"] <= result.scores["silhouette"]).all()


def test_prediction_strength_high_for_true_k(five_blobs):
    X, _ = five_blobs
    assert prediction_strength(X, 5, random_state=0) > 0.9
    assert prediction_strength(X, 9, random_state=0) < 0.8


def test_bad_arguments(five_blobs):
    X, _ = five_blobs
    with pytest.raises(ValueError, match=r"Unknown methods \['votes'\]"):
        choose_k(X, methods=["votes"], progress=False)
    with pytest.raises(ValueError, match="k_range must hold integers >= 2"):
        choose_k(X, range(1, 4), progress=False)


@pytest.mark.parametrize("seed", range(30))
def test_kneedle_matches_kneed(seed):
    rng = np.random.default_rng(seed)
    x = np.arange(2, 2 + rng.integers(4, 16))
    y = 1 / x ** rng.uniform(0.3, 3) + rng.normal(0, 0.005, x.size)
    for curve, direction in [("convex", "decreasing"), ("concave", "increasing"),
                             ("convex", "increasing"), ("concave", "decreasing")]:
        ours = find_knee(x, y, curve=curve, direction=direction)
        assert ours == KneeLocator(x, y, curve=curve, direction=direction).knee


def test_anderson_darling_statistic_matches_scipy(rng):
    values = rng.standard_t(5, size=300)
    statistic, p_value = anderson_darling(values)
    n = values.size
    scipy_statistic = anderson(values, method="interpolate").statistic
    assert statistic == pytest.approx(scipy_statistic * (1 + 4 / n - 25 / n**2))
    assert 0 <= p_value <= 1
    assert anderson_darling(rng.normal(size=2000))[1] > 0.01
    assert anderson_darling(rng.uniform(size=2000))[1] < 1e-6


@pytest.mark.parametrize("estimator", [XMeans, GMeans])
def test_finds_well_separated_gaussians(estimator, five_blobs):
    X, labels = five_blobs
    model = estimator(random_state=0).fit(X)
    assert model.n_clusters_ == 5
    np.testing.assert_array_equal(model.predict(X), model.labels_)


@parametrize_with_checks([XMeans(random_state=0), GMeans(random_state=0)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_choose_k_with_mixtures_votes_for_the_best_pair(five_blobs):
    X, _ = five_blobs
    result = choose_k(X, range(2, 8), methods=["silhouette", "bic"], mixture=True,
                      random_state=0, progress=False)
    assert result.mixture.best_k == 5
    assert result.recommendations["gmm_bic"] == 5 and result.k == 5
    assert "gmm_bic" in result.to_frame() and "gmm_aic" in result.to_frame()
    assert "Gaussian mixture with the lowest BIC" in result.explain()
