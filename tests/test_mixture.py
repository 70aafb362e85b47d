"""GaussianMixture against scikit-learn, its invariants, and why it exists."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture as SklearnMixture
from sklearn.utils.estimator_checks import parametrize_with_checks

from kmeanskit import GaussianMixture, KMeans

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def _three_shapes(rng, n=600):
    X = np.concatenate([
        rng.normal(0, 1, (n // 2, 3)),
        rng.normal(4, 1.5, (n // 3, 3)) @ np.array([[1, 0.8, 0], [0, 1, 0.5], [0, 0, 1]]),
        rng.normal(-5, 0.6, (n - n // 2 - n // 3, 3)),
    ])
    return X


def _initial_parameters(X, covariance_type, rng):
    """Deliberately rough starting parameters: random rows as means."""
    k, d = 3, X.shape[1]
    means = X[rng.choice(len(X), k, replace=False)]
    precisions = {"full": np.stack([np.eye(d) * 0.2] * k), "tied": np.eye(d) * 0.2,
                  "diag": np.full((k, d), 0.2), "spherical": np.full(k, 0.2)}[covariance_type]
    return dict(weights_init=np.full(k, 1 / 3), means_init=means, precisions_init=precisions)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_same_as_sklearn_from_same_parameters(rng, covariance_type):
    X = _three_shapes(rng)
    init = _initial_parameters(X, covariance_type, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = GaussianMixture(3, covariance_type=covariance_type, max_iter=30, tol=1e-12,
                               **init).fit(X)
        theirs = SklearnMixture(3, covariance_type=covariance_type, max_iter=30, tol=1e-12,
                                **init).fit(X)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=1e-6)
    for name in ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]:
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name),
                                   rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-8)
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-9)
    assert ours.bic(X) == pytest.approx(theirs.bic(X), rel=1e-9)
    assert ours.aic(X) == pytest.approx(theirs.aic(X), rel=1e-9)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_weights_equal_repetition(rng, covariance_type):
    X = _three_shapes(rng, 300)
    counts = rng.integers(0, 4, len(X))
    init = _initial_parameters(X, covariance_type, rng)
    weighted = GaussianMixture(3, covariance_type=covariance_type, tol=1e-8, max_iter=500,
                               **init).fit(X, sample_weight=counts)
    repeated = GaussianMixture(3, covariance_type=covariance_type, tol=1e-8, max_iter=500,
                               **init).fit(np.repeat(X, counts, axis=0))
    assert weighted.n_iter_ == repeated.n_iter_
    assert weighted.lower_bound_ == pytest.approx(repeated.lower_bound_, rel=1e-9)
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-8,
                               atol=1e-10)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), covariance_type=st.sampled_from(COVARIANCE_TYPES),
       k=st.integers(1, 4), init=st.sampled_from(["kmeans", "random", "random_from_data",
                                                   "k-means++"]))
def test_em_never_decreases_the_lower_bound(seed, covariance_type, k, init):
    rng = np.random.default_rng(seed)
    X = _three_shapes(rng, 120)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GaussianMixture(k, covariance_type=covariance_type, init_params=init,
                                max_iter=30, tol=0, reg_covar=1e-6, random_state=seed).fit(X)
    bounds = [h["lower_bound"] for h in model.history_]
    # reg_covar makes each M-step a slightly regularised maximiser, and sums
    # round: allow a decrease far below any real step.
    for before, after in zip(bounds, bounds[1:], strict=False):
        assert after >= before - 1e-7 * abs(before)


def test_mixture_recovers_elongated_unequal_clusters_where_kmeans_fails(rng):
    stretch = np.array([[6.0, 0.0], [0.0, 0.4]])
    X = np.concatenate([rng.normal(size=(600, 2)) @ stretch,
                        rng.normal(size=(150, 2)) @ stretch + [0, 3.5]])
    truth = np.repeat([0, 1], [600, 150])
    mixture = GaussianMixture(2, n_init=3, random_state=0).fit(X)
    kmeans = KMeans(2, random_state=0).fit(X)
    assert adjusted_rand_score(truth, mixture.predict(X)) > 0.9
    assert adjusted_rand_score(truth, kmeans.labels_) < 0.3


@pytest.mark.parametrize("name, k, kmeans_below, mixture_above", [
    ("other/iris", 3, 0.75, 0.85),
    ("graves/line", 2, 0.1, 0.95),
])
def test_mixture_shines_on_real_sets(data_dir, name, k, kmeans_below, mixture_above):
    folder = data_dir / "clustering-data-v1"
    X = np.loadtxt(folder / f"{name}.data.gz")
    truth = np.loadtxt(folder / f"{name}.labels0.gz", dtype=int)
    kmeans = np.mean([adjusted_rand_score(truth, KMeans(k, random_state=s).fit(X).labels_)
                      for s in range(5)])
    mixture = np.mean([adjusted_rand_score(truth, GaussianMixture(k, random_state=s).fit(X)
                                           .predict(X)) for s in range(5)])
    assert kmeans < kmeans_below and mixture > mixture_above


def test_predict_proba_rows_sum_to_one_and_sample(rng):
    X = _three_shapes(rng)
    model = GaussianMixture(3, random_state=0).fit(X)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(proba.argmax(axis=1), model.predict(X))
    draws, components = model.sample(1000)
    assert draws.shape == (1000, 3) and set(components) <= {0, 1, 2}


def test_float32_input(rng):
    X = _three_shapes(rng)
    single = GaussianMixture(3, random_state=0).fit(X.astype(np.float32))
    double = GaussianMixture(3, random_state=0).fit(X)
    np.testing.assert_allclose(single.means_, double.means_, rtol=1e-4, atol=1e-4)


def test_collapsed_component_gives_a_clear_error():
    X = np.array([[0.0, 0.0]] * 10 + [[1.0, 1.0]] * 10 + [[5.0, 5.0]])
    with pytest.raises(ValueError, match="component .* collapsed .* Increase reg_covar"):
        GaussianMixture(3, reg_covar=0.0, init_params="random_from_data",
                        random_state=0).fit(X)


def test_bad_input(rng):
    X = _three_shapes(rng)
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match="X contains 1 NaN"):
        GaussianMixture(2).fit(X)
    with pytest.raises(ValueError, match="'covariance_type' parameter of GaussianMixture"):
        GaussianMixture(2, covariance_type="banded").fit(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"means_init has shape \(2, 2\), expected \(3, 2\)"):
        GaussianMixture(3, means_init=np.zeros((2, 2))).fit(rng.normal(size=(20, 2)))
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        GaussianMixture(2).fit(rng.normal(size=(20, 2)), sample_weight=-np.ones(20))


def test_same_result_on_one_and_two_threads(rng):
    X = _three_shapes(rng, 3000)
    one = GaussianMixture(3, random_state=0, n_threads=1).fit(X)
    two = GaussianMixture(3, random_state=0, n_threads=2).fit(X)
    np.testing.assert_array_equal(one.means_, two.means_)
    assert one.lower_bound_ == two.lower_bound_


# The weight checks reorder rows between the weighted and the repeated fit;
# the initial KMeans partition (k-means||) comes out the same
# either way on their data, so they pass as they are.  Weights = repetitions
# from the same start is also tested exactly in test_weights_equal_repetition.
@parametrize_with_checks([GaussianMixture(2, random_state=0, max_iter=20)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_choose_mixture_picks_the_generating_model(rng):
    from kmeanskit import choose_mixture

    stretch = np.array([[3.0, 0.0], [1.5, 0.5]])
    X = np.concatenate([rng.normal(size=(400, 2)) @ stretch + c
                        for c in ([0, 0], [10, 0], [0, 10])])
    selection = choose_mixture(X, range(1, 6), random_state=0)
    assert (selection.best_k, selection.best_covariance_type) in {(3, "full"), (3, "tied")}
    frame = selection.to_frame()
    assert len(frame) == 20 and set(frame.covariance_type) == {"full", "tied", "diag",
                                                               "spherical"}
    best = frame.loc[frame.bic.idxmin()]
    assert (best.k, best.covariance_type) == (selection.best_k, selection.best_covariance_type)
    assert selection.best_model.bic(X) == pytest.approx(best.bic)


def test_mixture_plots_render(rng):
    pytest.importorskip("matplotlib", reason="plots need the optional [plot] extra")
    import io

    from PIL import Image

    from kmeanskit import choose_mixture, plots

    X = _three_shapes(rng, 300)
    selection = choose_mixture(X, range(1, 4), random_state=0)
    for fig in (plots.mixture_bic(selection),
                plots.mixture_ellipses(X, selection.best_model),
                plots.mixture_ellipses(X[:, :2], GaussianMixture(3, random_state=0)
                                       .fit(X[:, :2]))):
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=60)
        image = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))
        assert np.unique(image).size > 20 and (image < 250).mean() > 0.02


def test_warm_start_continues_from_the_last_fit(rng):
    X = _three_shapes(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GaussianMixture(3, warm_start=True, max_iter=3, tol=0, random_state=0).fit(X)
        first_means = model.means_.copy()
        model.fit(X)  # three more iterations from where the first fit stopped
    straight = GaussianMixture(3, max_iter=6, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        straight.fit(X)
    assert not np.allclose(first_means, model.means_)
    np.testing.assert_allclose(model.means_, straight.means_, rtol=1e-8)
