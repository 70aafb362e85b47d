"""Every figure renders to a non-blank PNG."""

import io

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="plots need the optional [plot] extra")

from kmeanskit import KMeans, choose_k, plots  # noqa: E402
from kmeanskit.metrics import silhouette_samples  # noqa: E402


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0, 0], [8, 0, 1], [0, 8, -1], [8, 8, 0]], dtype=float)
    labels = rng.integers(0, 4, 800)
    X = centres[labels] + rng.normal(size=(800, 3))
    result = choose_k(X, range(2, 8), random_state=0, progress=False, gap_references=3)
    return X, result


def _assert_drawn(fig):
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    image = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"), dtype=float)
    assert image.shape[0] > 100 and image.shape[1] > 100
    # Many distinct grey levels and a good share of non-white pixels: not blank.
    assert np.unique(image).size > 20
    assert (image < 250).mean() > 0.02
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_elbow(fitted):
    _, result = fitted
    _assert_drawn(plots.elbow(result))
    _assert_drawn(plots.elbow(result, metric="distortion"))


@pytest.mark.parametrize("method", ["silhouette", "calinski_harabasz", "davies_bouldin",
                                    "dunn", "bic", "aic", "gap", "prediction_strength"])
def test_score_curves(fitted, method):
    _, result = fitted
    _assert_drawn(plots.score_curve(result, method))


def test_score_curve_unknown_method(fitted):
    _, result = fitted
    with pytest.raises(ValueError, match="'votes' was not computed"):
        plots.score_curve(result, "votes")


def test_silhouette_knife_plot(fitted):
    X, result = fitted
    labels = result.models[result.k].labels_
    _assert_drawn(plots.silhouette(silhouette_samples(X, labels), labels))


def test_cluster_scatter_2d_and_projected(fitted):
    X, result = fitted
    model = result.models[4]
    _assert_drawn(plots.clusters(X, model.labels_, model.cluster_centers_))
    flat = KMeans(3, random_state=0).fit(X[:, :2])
    _assert_drawn(plots.clusters(X[:, :2], flat.labels_, flat.cluster_centers_,
                                 feature_names=["income", "spending"]))
