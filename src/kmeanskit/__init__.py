"""kmeanskit: fast, complete, scikit-learn compatible k-means clustering."""

from ._results import IterationRecord, KMeansResult, MiniBatchRecord
from .init import kmeans_parallel, kmeans_plusplus, naive_sharding, random_points
from .kmeans import KMeans, kmeans
from .minibatch import MiniBatchKMeans
from .mixture import GaussianMixture, MixtureSelection, choose_mixture
from .persistence import ModelFileError, load_model, save_model
from .selection import ChooseKResult, GMeans, XMeans, choose_k

__version__ = "0.1.0"

__all__ = [
    "KMeans",
    "MiniBatchKMeans",
    "GaussianMixture",
    "MixtureSelection",
    "choose_mixture",
    "save_model",
    "load_model",
    "ModelFileError",
    "kmeans",
    "KMeansResult",
    "IterationRecord",
    "MiniBatchRecord",
    "kmeans_plusplus",
    "kmeans_parallel",
    "naive_sharding",
    "random_points",
    "choose_k",
    "ChooseKResult",
    "GMeans",
    "XMeans",
    "__version__",
]
