"""Model files: round trips, and every way a file can be untrustworthy."""

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from conftest import blobs
from kmeanskit import GaussianMixture, KMeans
from kmeanskit.datasets import load_mall_customers
from kmeanskit.persistence import ModelFileError, load_model, save_model, write_atomic
from kmeanskit.segmentation import Segmenter


@pytest.fixture
def X(rng):
    return blobs(rng, n=300, d=3, k=4)[0]


def test_kmeans_round_trip(tmp_path, X):
    model = KMeans(4, random_state=0).fit(pd.DataFrame(X, columns=["a", "b", "c"]))
    loaded = load_model(save_model(model, tmp_path / "m.kmk"))
    assert isinstance(loaded, KMeans) and loaded.get_params() == model.get_params()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    np.testing.assert_array_equal(loaded.transform(frame), model.transform(frame))
    assert list(loaded.feature_names_in_) == ["a", "b", "c"]


def test_kmeans_with_array_init_round_trip(tmp_path, X):
    model = KMeans(4, init=X[:4]).fit(X)
    loaded = load_model(save_model(model, tmp_path / "m.kmk"))
    np.testing.assert_array_equal(loaded.init, model.cluster_centers_)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_mixture_round_trip(tmp_path, X, covariance_type):
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    loaded = load_model(save_model(model, tmp_path / "g.kmk"))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.bic(X) == pytest.approx(model.bic(X))


def test_segmenter_round_trip_carries_the_preprocessing(tmp_path):
    customers = load_mall_customers()
    customers.loc[3, "Age"] = np.nan
    segmenter = Segmenter(k=4, scale="robust", missing="mean", noun="customers")
    segmenter.fit(customers)
    loaded = load_model(save_model(segmenter, tmp_path / "s.kmk"))
    new = customers.sample(30, random_state=0)
    pd.testing.assert_frame_equal(loaded.predict(new), segmenter.predict(new))
    assert loaded.features_ == ["Age", "Annual Income (k$)", "Spending Score (1-100)"]


def test_no_pickle_in_the_file(tmp_path, X):
    path = save_model(KMeans(4, random_state=0).fit(X), tmp_path / "m.kmk")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        metadata = json.loads(archive.read("metadata.json"))
        for name in names:
            if name.endswith(".npy"):
                np.load(archive.open(name), allow_pickle=False)  # would raise for pickles
    assert metadata["format"] == "kmeanskit-model" and metadata["version"] == 1


def _rewrite(path, change):
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    change(files)
    with zipfile.ZipFile(path, "w") as archive:
        for name, blob in files.items():
            archive.writestr(name, blob)


def test_tampered_array_is_refused(tmp_path, X):
    path = save_model(KMeans(4, random_state=0).fit(X), tmp_path / "m.kmk")

    def change(files):
        name = "arrays/cluster_centers_.npy"
        blob = bytearray(files[name])
        blob[-1] ^= 0xFF
        files[name] = bytes(blob)

    _rewrite(path, change)
    with pytest.raises(ModelFileError, match="has been modified: array 'cluster_centers_' "
                                             "does not match its recorded checksum"):
        load_model(path)


def test_wrong_version_is_refused(tmp_path, X):
    path = save_model(KMeans(4, random_state=0).fit(X), tmp_path / "m.kmk")

    def change(files):
        metadata = json.loads(files["metadata.json"])
        metadata["version"] = 99
        files["metadata.json"] = json.dumps(metadata).encode()

    _rewrite(path, change)
    with pytest.raises(ModelFileError, match="uses model format version 99; this kmeanskit "
                                             "reads version 1"):
        load_model(path)


def test_truncated_and_corrupt_files_are_refused(tmp_path, X):
    path = save_model(KMeans(4, random_state=0).fit(X), tmp_path / "m.kmk")
    data = path.read_bytes()
    (tmp_path / "cut.kmk").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="is corrupt or truncated and cannot be read"):
        load_model(tmp_path / "cut.kmk")
    (tmp_path / "text.kmk").write_text("hello")
    with pytest.raises(ModelFileError, match="is corrupt or truncated"):
        load_model(tmp_path / "text.kmk")
    with zipfile.ZipFile(tmp_path / "other.kmk", "w") as archive:
        archive.writestr("metadata.json", json.dumps({"format": "something-else"}))
    with pytest.raises(ModelFileError, match="is not a kmeanskit model file"):
        load_model(tmp_path / "other.kmk")
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "missing.kmk")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")

    def failing(stream):
        stream.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(target, failing)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_unsaveable_objects(tmp_path):
    with pytest.raises(TypeError, match="cannot save a dict"):
        save_model({}, tmp_path / "x.kmk")
