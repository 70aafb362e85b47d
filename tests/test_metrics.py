"""Quality scores against scikit-learn, SciPy and hand-computed cases."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial.distance import cdist
from sklearn import metrics as skm

from conftest import blobs
from kmeanskit import metrics


@pytest.fixture
def clustered(rng):
    X, labels = blobs(rng, n=700, d=5, k=6, spread=4.0)
    return X, labels


def test_silhouette_equals_sklearn(clustered):
    X, labels = clustered
    np.testing.assert_allclose(metrics.silhouette_samples(X, labels),
                               skm.silhouette_samples(X, labels), rtol=0, atol=1e-10)
    assert metrics.silhouette_score(X, labels) == pytest.approx(
        skm.silhouette_score(X, labels), abs=1e-10)


def test_silhouette_far_from_origin_and_string_labels(clustered):
    X, labels = clustered
    names = np.array(list("abcdef"))[labels]
    np.testing.assert_allclose(metrics.silhouette_samples(X + 1e6, names),
                               skm.silhouette_samples(X, labels), atol=1e-8)


def test_silhouette_singleton_cluster_scores_zero():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    values = metrics.silhouette_samples(X, [0, 0, 1])
    assert values[2] == 0.0
    np.testing.assert_allclose(values, skm.silhouette_samples(X, [0, 0, 1]), atol=1e-12)


def test_sampled_silhouette_is_stratified_with_an_interval(rng):
    X, labels = blobs(rng, n=4000, d=3, k=5, spread=3.0)
    labels[:3] = 7  # a tiny cluster must still be represented
    exact = skm.silhouette_score(X, labels)
    estimate = metrics.silhouette_estimate(X, labels, sample_size=400, random_state=0)
    assert not estimate.exact and estimate.n_sampled == 400
    low, high = estimate.interval
    assert low < estimate.score < high and high - low < 0.1
    assert abs(estimate.score - exact) < (high - low)
    hits = 0
    for seed in range(40):
        e = metrics.silhouette_estimate(X, labels, sample_size=200, random_state=seed)
        hits += e.interval[0] <= exact <= e.interval[1]
    assert hits >= 33  # a 95 % interval covers the truth most of the time


def test_simplified_silhouette(clustered):
    X, labels = clustered
    centers = np.array([X[labels == c].mean(axis=0) for c in range(6)])
    d = cdist(X, centers)
    own = d[np.arange(len(X)), labels]
    d[np.arange(len(X)), labels] = np.inf
    other = d.min(axis=1)
    expected = np.mean((other - own) / np.maximum(own, other))
    assert metrics.simplified_silhouette(X, labels) == pytest.approx(expected, rel=1e-12)
    assert metrics.simplified_silhouette(X, labels, centers) == pytest.approx(expected)


def test_simplified_silhouette_of_sparse_rows_never_densifies_them(clustered, monkeypatch):
    # The cluster means come from a sparse indicator product: sparse X (a
    # TF-IDF matrix can be many GB dense) gives the dense score undensified.
    X, labels = clustered
    X = np.where(np.abs(X) < 1.0, 0.0, X)
    expected = metrics.simplified_silhouette(X, labels + 3)  # labels need not start at 0

    densify = sp.csr_matrix.toarray

    def small_only(matrix, *args, **kwargs):  # the (k, d) sums may be made dense
        assert matrix.shape[0] < X.shape[0], "X was densified"
        return densify(matrix, *args, **kwargs)

    sparse = sp.csr_matrix(X)
    monkeypatch.setattr(sp.csr_matrix, "toarray", small_only)
    monkeypatch.setattr(sp.csr_matrix, "todense", small_only)
    assert metrics.simplified_silhouette(sparse, labels + 3) == pytest.approx(expected,
                                                                               rel=1e-9)


def _brute_force_dunn(X, labels, inter, intra):
    clusters = [X[labels == c] for c in np.unique(labels)]
    centers = [c.mean(axis=0) for c in clusters]

    def separation(a, b, ca, cb):
        d = cdist(a, b)
        return {"single": d.min(), "complete": d.max(), "average": d.mean(),
                "centroid": np.linalg.norm(ca - cb)}[inter]

    def spread(a, ca):
        d = cdist(a, a)
        pairs = d[np.triu_indices(len(a), 1)]
        return {"diameter": d.max(), "average": pairs.mean() if pairs.size else 0.0,
                "centroid": 2 * np.linalg.norm(a - ca, axis=1).mean()}[intra]

    seps = [separation(clusters[i], clusters[j], centers[i], centers[j])
            for i in range(len(clusters)) for j in range(i + 1, len(clusters))]
    return min(seps) / max(spread(c, m) for c, m in zip(clusters, centers, strict=True))


@pytest.mark.parametrize("inter", metrics.INTER)
@pytest.mark.parametrize("intra", metrics.INTRA)
def test_dunn_index_matches_brute_force(clustered, inter, intra):
    X, labels = clustered
    assert metrics.dunn_index(X, labels, inter=inter, intra=intra) == pytest.approx(
        _brute_force_dunn(X, labels, inter, intra), rel=1e-10)


def test_dunn_index_hand_computed():
    X = np.array([[0.0], [1.0], [10.0], [12.0]])
    assert metrics.dunn_index(X, [0, 0, 1, 1]) == 4.5
    assert metrics.dunn_index(X, [0, 0, 1, 1], inter="centroid", intra="centroid") == \
        pytest.approx(10.5 / 2.0)


# -- pair counting -----------------------------------------------------------

HAND_CASES = [
    # labels_true, labels_pred, (tp, fp, fn, tn)
    ([0, 0, 1, 1], [0, 0, 1, 1], (2, 0, 0, 4)),
    ([0, 0, 1, 1], [0, 0, 0, 1], (1, 2, 1, 2)),
    ([0, 0, 0, 0], [0, 1, 2, 3], (0, 0, 6, 0)),
    ([0, 1, 2, 3], [0, 0, 0, 0], (0, 6, 0, 0)),
    (["a", "a", "b", "c", "c"], [1, 1, 1, 2, 2], (2, 2, 0, 6)),
]


@pytest.mark.parametrize("true, pred, expected", HAND_CASES,
                         ids=["identical", "one-moved", "all-split", "all-merged", "strings"])
def test_pair_confusion_hand_computed(true, pred, expected):
    c = metrics.pair_confusion(true, pred)
    assert (c.tp, c.fp, c.fn, c.tn) == expected
    # scikit-learn counts ordered pairs: twice ours.
    sk = skm.cluster.pair_confusion_matrix(true, pred)
    assert (sk[1, 1], sk[0, 1], sk[1, 0], sk[0, 0]) == tuple(2 * v for v in expected)


def test_pair_scores_follow_their_formulas(rng):
    true = rng.integers(0, 4, 500)
    pred = np.where(rng.random(500) < 0.7, true, rng.integers(0, 5, 500))
    c = metrics.pair_confusion(true, pred)
    precision, recall = c.tp / (c.tp + c.fp), c.tp / (c.tp + c.fn)
    assert metrics.pair_precision(true, pred) == pytest.approx(precision)
    assert metrics.pair_recall(true, pred) == pytest.approx(recall)
    assert metrics.pair_f_measure(true, pred) == pytest.approx(
        2 * precision * recall / (precision + recall))
    assert metrics.pair_f_measure(true, pred, beta=2.0) == pytest.approx(
        5 * precision * recall / (4 * precision + recall))
    assert (c.tp + c.tn) / (c.tp + c.fp + c.fn + c.tn) == pytest.approx(
        metrics.rand_score(true, pred))
    # Fowlkes-Mallows is the geometric mean of pair precision and recall.
    assert metrics.fowlkes_mallows_score(true, pred) == pytest.approx(np.sqrt(precision * recall))


def test_purity():
    assert metrics.purity([0, 0, 1, 1, 1], [0, 0, 0, 1, 1]) == 0.8
    assert metrics.purity([0, 1, 2], [0, 0, 0]) == pytest.approx(1 / 3)


def test_reexports_are_sklearns():
    for name in ["adjusted_rand_score", "normalized_mutual_info_score",
                 "adjusted_mutual_info_score", "v_measure_score", "calinski_harabasz_score",
                 "davies_bouldin_score", "fowlkes_mallows_score"]:
        assert getattr(metrics, name) is getattr(skm, name)


# -- bad input ---------------------------------------------------------------

def test_label_length_mismatch(clustered):
    X, labels = clustered
    with pytest.raises(ValueError, match="labels has 699 entries but X has 700 rows"):
        metrics.silhouette_score(X, labels[:-1])
    with pytest.raises(ValueError, match="labels_true has 3 entries and labels_pred 2"):
        metrics.pair_confusion([0, 1, 1], [0, 1])


def test_single_cluster_is_rejected(clustered):
    X, _ = clustered
    with pytest.raises(ValueError, match="Number of labels is 1"):
        metrics.silhouette_score(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Number of labels is 1"):
        metrics.dunn_index(X, np.zeros(len(X)))


def test_nan_is_rejected(clustered):
    X, labels = clustered
    X[4, 2] = np.nan
    with pytest.raises(ValueError, match="X contains 1 NaN"):
        metrics.silhouette_score(X, labels)
    with pytest.raises(ValueError, match="labels_true contains 1 NaN"):
        metrics.pair_f_measure([0.0, np.nan], [0, 1])


def test_unknown_dunn_variant(clustered):
    X, labels = clustered
    with pytest.raises(ValueError, match="inter must be one of"):
        metrics.dunn_index(X, labels, inter="ward")
