"""Bundled demo data."""

import numpy as np
from sklearn.metrics import adjusted_rand_score

from kmeanskit import KMeans
from kmeanskit.datasets import load_iris, load_mall_customers, load_wine, make_documents


def test_mall_customers_shape_and_ranges():
    df = load_mall_customers()
    assert list(df.columns) == ["CustomerID", "Gender", "Age", "Annual Income (k$)",
                                "Spending Score (1-100)"]
    assert df.shape == (200, 5) and df.CustomerID.is_unique
    assert df["Annual Income (k$)"].between(15, 137).all()
    assert df["Spending Score (1-100)"].between(1, 99).all()
    assert df.Age.between(18, 70).all() and set(df.Gender) == {"Female", "Male"}


def test_mall_customers_is_deterministic_and_seeded():
    assert load_mall_customers().equals(load_mall_customers())
    assert not load_mall_customers(1).equals(load_mall_customers(0))


def test_mall_customers_has_five_income_spending_groups():
    X = load_mall_customers()[["Annual Income (k$)", "Spending Score (1-100)"]].to_numpy()
    labels = [KMeans(5, random_state=s).fit(X).labels_ for s in range(3)]
    # The five groups are found the same way from different starts.
    assert adjusted_rand_score(labels[0], labels[1]) > 0.9
    assert adjusted_rand_score(labels[0], labels[2]) > 0.9
    sizes = np.sort(np.bincount(labels[0]))
    assert sizes.min() >= 15 and sizes.max() <= 100


def test_known_class_loaders():
    iris, wine = load_iris(), load_wine()
    assert iris.shape == (150, 5) and set(iris["class"]) == {"setosa", "versicolor",
                                                             "virginica"}
    assert wine.shape == (178, 14) and wine["class"].nunique() == 3


def test_documents_are_unit_tfidf_rows_of_their_topics():
    X, topics = make_documents(3000, 4000, 6, random_state=1)
    assert X.shape == (3000, 4000) and X.format == "csr" and topics.shape == (3000,)
    np.testing.assert_allclose(np.asarray(X.multiply(X).sum(axis=1)).ravel(), 1.0)
    assert (X.data > 0).all() and 30 < X.nnz / 3000 < 300
    again, _ = make_documents(3000, 4000, 6, random_state=1)
    assert (X != again).nnz == 0
    labels = KMeans(6, random_state=0).fit(X).labels_
    assert adjusted_rand_score(topics, labels) > 0.8
