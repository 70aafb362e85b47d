"""Bad input gets a clear error naming the problem and the fix."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from kmeanskit import KMeans, kmeans_parallel, kmeans_plusplus, naive_sharding


@pytest.fixture
def X(rng):
    return rng.normal(size=(50, 3))


@pytest.mark.parametrize(
    "where, value, message",
    [
        ((3, 1), np.nan, r"X contains 1 NaN or infinite value\(s\), the first \(NaN\) at row 3, "
                         r"column 1\. Remove or impute"),
        ((0, 2), np.inf, r"the first \(infinite\) at row 0, column 2"),
    ],
    ids=["nan", "inf"],
)
def test_non_finite_X(X, where, value, message):
    X[where] = value
    with pytest.raises(ValueError, match=message):
        KMeans(2).fit(X)
    with pytest.raises(ValueError, match=message):
        KMeans(2).fit(sp.csr_matrix(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_finite_check_by_row_sums(rng, dtype, order):
    """The row sums' shortcut: finite values whose sums overflow pass, and a
    NaN, an infinity, or opposite infinities (a NaN sum) in any block fail,
    at the right place."""
    from kmeanskit._validation import check_finite

    n = 2**20 // 4 + 100  # past the first block of rows
    X = np.asarray(rng.normal(size=(n, 4)), dtype=dtype, order=order)
    X[7] = np.finfo(dtype).max  # the row's sum overflows: still finite values
    check_finite(X, "X")
    for row, values, kind in [(n - 3, (np.nan, 0.0), "NaN"), (5, (np.inf, 1.0), "infinite"),
                              (n - 1, (np.inf, -np.inf), "infinite")]:
        bad = X.copy(order=order)
        bad[row, 1:3] = values
        count = int(np.sum(~np.isfinite(values)))
        with pytest.raises(ValueError, match=rf"X contains {count} NaN .* the first \({kind}\) "
                                             rf"at row {row}, column 1\."):
            check_finite(bad, "X")


def test_non_finite_at_predict(X):
    model = KMeans(2, random_state=0).fit(X)
    X[1, 1] = np.nan
    with pytest.raises(ValueError, match="X contains 1 NaN"):
        model.predict(X)


@pytest.mark.parametrize(
    "weights, message",
    [
        (np.r_[np.nan, np.ones(49)], r"sample_weight contains 1 NaN or infinite .* position 0"),
        (np.r_[1.0, -2.0, np.ones(48)], r"non-negative; found 1 negative value\(s\), the first "
                                        r"at index 1"),
        (np.zeros(50), "zero everywhere; at least one sample needs a positive weight"),
        (np.ones(49), r"sample_weight has shape \(49,\), expected \(50,\)"),
    ],
    ids=["nan", "negative", "all-zero", "wrong-length"],
)
def test_bad_sample_weight(X, weights, message):
    with pytest.raises(ValueError, match=message):
        KMeans(2).fit(X, sample_weight=weights)


def test_empty_X():
    with pytest.raises(ValueError, match="0 sample"):
        KMeans(2).fit(np.empty((0, 3)))


def test_one_dimensional_X_says_how_to_reshape():
    with pytest.raises(ValueError, match=r"got a 1-D array of shape \(5,\).*X.reshape\(-1, 1\)"):
        KMeans(2).fit(np.arange(5.0))


def test_fewer_samples_than_clusters(X):
    with pytest.raises(ValueError, match="n_samples=50 should be >= n_clusters=60"):
        KMeans(60).fit(X)


@pytest.mark.parametrize("n_clusters", [0, -1, 2.5, "3", True])
def test_bad_n_clusters(X, n_clusters):
    with pytest.raises(ValueError, match=r"The 'n_clusters' parameter of KMeans must be an int "
                                         r"in the range \[1, inf\); got"):
        KMeans(n_clusters).fit(X)


def test_non_numeric_columns_are_named(X):
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["city"] = "Oslo"
    frame["joined"] = pd.Timestamp("2024-01-01")
    with pytest.raises(TypeError, match=r"non-numeric columns \['city', 'joined'\]"):
        KMeans(2).fit(frame)


def test_feature_count_mismatch_names_both_counts(X):
    model = KMeans(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 4 features, but KMeans is expecting 3"):
        model.predict(np.ones((2, 4)))
    with pytest.raises(ValueError, match="X has 2 features, but KMeans is expecting 3"):
        model.transform(np.ones((2, 2)))


def test_init_array_of_wrong_shape(X):
    with pytest.raises(ValueError, match=r"init array has shape \(2, 2\), expected "
                                         r"\(n_clusters, n_features\) = \(3, 3\)"):
        KMeans(3, init=np.ones((2, 2))).fit(X)


def test_unknown_init_lists_the_valid_names(X):
    with pytest.raises(ValueError, match=r"'init' parameter of KMeans must be a str among "
                                         r"\{'local-search\+\+', 'k-means\+\+', "
                                         r"'k-means\|\|', 'random', 'sharding'\}"):
        KMeans(2, init="kmeans++").fit(X)


def test_unknown_algorithm_lists_the_valid_names(X):
    with pytest.raises(ValueError, match=r"'algorithm' parameter of KMeans must be a str "
                                         r"among \{'auto', 'lloyd', 'hamerly', 'elkan', "
                                         r"'yinyang'\}; got 'fast'"):
        KMeans(2, algorithm="fast").fit(X)


@pytest.mark.parametrize(
    "param, value",
    [("max_iter", 0), ("tol", -1.0), ("n_init", 0), ("n_threads", 0), ("random_state", "a")],
)
def test_other_bad_parameters(X, param, value):
    with pytest.raises(ValueError, match=f"The '{param}' parameter of KMeans must be"):
        KMeans(2, **{param: value}).fit(X)


def test_public_init_functions_validate(X):
    with pytest.raises(ValueError, match=r"The 'n_clusters' parameter of kmeans_plusplus must "
                                         r"be an int in the range \[1, inf\); got 0"):
        kmeans_plusplus(X, 0)
    with pytest.raises(ValueError, match="'n_rounds' parameter of kmeans_parallel"):
        kmeans_parallel(X, 2, n_rounds=0)
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains 1 NaN"):
        naive_sharding(X, 2)


def test_complex_data_is_rejected():
    with pytest.raises(ValueError, match="Complex data not supported"):
        KMeans(2).fit(np.ones((5, 2)) * (1 + 1j))


def test_sparse_input_with_duplicates_is_used_as_summed_and_left_as_it_was():
    # Row 1 stores column 1 three times (3 + 4 + 5) and row 0's columns are
    # out of order: the fit sees the summed matrix, the caller keeps theirs.
    X = sp.csr_matrix((np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]),
                       np.array([2, 0, 1, 1, 1, 0, 2, 0]), np.array([0, 2, 5, 6, 8])),
                      shape=(4, 3))
    stored = X.data.copy(), X.indices.copy(), X.indptr.copy()
    summed = np.array([[2.0, 0.0, 1.0], [0.0, 12.0, 0.0], [6.0, 0.0, 0.0], [8.0, 0.0, 7.0]])
    init = summed[[0, 1]]
    model = KMeans(2, init=init, n_init=1).fit(X)
    reference = KMeans(2, init=init, n_init=1).fit(summed)
    np.testing.assert_array_equal(model.labels_, reference.labels_)
    np.testing.assert_allclose(model.cluster_centers_, reference.cluster_centers_)
    np.testing.assert_array_equal(model.predict(X), reference.labels_)
    for now, before in zip((X.data, X.indices, X.indptr), stored, strict=True):
        np.testing.assert_array_equal(now, before)
