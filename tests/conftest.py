import importlib
import os
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20261129)


def blobs(rng, n=600, d=4, k=5, spread=6.0, dtype=np.float64):
    """Gaussian blobs around ``k`` random centres."""
    centres = rng.uniform(-spread, spread, size=(k, d))
    labels = rng.integers(0, k, size=n)
    return (centres[labels] + rng.normal(size=(n, d))).astype(dtype), labels


@pytest.fixture(scope="session")
def data_dir():
    """The benchmark data folder named by KMEANSKIT_DATA."""
    path = os.environ.get("KMEANSKIT_DATA")
    if not path:
        pytest.skip("KMEANSKIT_DATA is not set: real benchmark sets unavailable")
    return Path(path)



def documents(rng, n=3000, vocabulary=2000, topics=8):
    """Sparse, high-dimensional TF-IDF rows whose distances are all alike."""
    from kmeanskit.datasets import make_documents

    return make_documents(n, vocabulary, topics, random_state=int(rng.integers(2**31)))[0]


def instances_created(monkeypatch, cls):
    """A list that receives every instance of ``cls`` created from now on
    (for inspecting a fit's internal state)."""
    created = []
    original = cls.__init__

    def record(self, *args, **kwargs):
        original(self, *args, **kwargs)
        created.append(self)

    monkeypatch.setattr(cls, "__init__", record)
    return created


def recorded_runs(monkeypatch):
    """A list that receives (rows of the data, result) of every run a
    KMeans fit makes from now on."""
    kmeans_module = importlib.import_module("kmeanskit.kmeans")  # shadowed by a function
    runs, run = [], kmeans_module.run

    def recorded(data, centers, **params):
        result = run(data, centers, **params)
        runs.append((data.n_samples, result))
        return result

    monkeypatch.setattr(kmeans_module, "run", recorded)
    return runs
