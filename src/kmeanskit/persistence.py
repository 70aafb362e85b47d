"""Saving and loading models without pickle.

A model file is a zip archive holding ``metadata.json`` and one ``.npy`` file
per array.  The metadata names the format and its version, the kind of model,
its parameters (plain JSON), and for every array its file and SHA-256
digest.  Loading checks all of it and reads the arrays with
``allow_pickle=False``, so opening a file from someone else never runs code;
a corrupt, truncated, wrong-version or tampered file gives a clear
``ModelFileError``.  Files are written atomically (a temporary file in the
same folder, then a rename).

Format ``kmeanskit-model`` version 1::

    metadata.json   {"format": "kmeanskit-model", "version": 1,
                     "kind": "KMeans" | "GaussianMixture" | "Segmenter",
                     "kmeanskit_version": "...", "data": {...JSON...},
                     "arrays": {"name": {"file": "arrays/name.npy",
                                         "sha256": "..."}, ...}}
    arrays/*.npy    numeric arrays (never object arrays)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

FORMAT = "kmeanskit-model"
VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be trusted or read."""


def write_atomic(path, write) -> Path:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then
    rename it over ``path``: readers see the old file or the whole new one,
    never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                         dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _array_bytes(array: np.ndarray) -> bytes:
    if array.dtype == object:
        raise TypeError("object arrays cannot be saved safely")
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def save_archive(path, kind: str, data: dict, arrays: dict) -> Path:
    """Write a model archive (see the module docstring)."""
    from . import __version__

    blobs = {name: _array_bytes(np.asarray(value)) for name, value in arrays.items()}
    metadata = {
        "format": FORMAT, "version": VERSION, "kind": kind,
        "kmeanskit_version": __version__, "data": data,
        "arrays": {name: {"file": f"arrays/{name}.npy",
                          "sha256": hashlib.sha256(blob).hexdigest()}
                   for name, blob in blobs.items()},
    }

    def write(stream):
        with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("metadata.json", json.dumps(metadata, indent=2))
            for name, blob in blobs.items():
                archive.writestr(metadata["arrays"][name]["file"], blob)

    return write_atomic(path, write)


def load_archive(path) -> tuple[str, dict, dict]:
    """Read and verify a model archive; returns (kind, data, arrays)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r} does not exist.")
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                metadata = json.loads(archive.read("metadata.json"))
            except KeyError:
                raise ModelFileError(f"{path} is not a kmeanskit model: it has no "
                                     "metadata.json.") from None
            if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
                raise ModelFileError(f"{path} is not a kmeanskit model file.")
            if metadata.get("version") != VERSION:
                raise ModelFileError(
                    f"{path} uses model format version {metadata.get('version')!r}; this "
                    f"kmeanskit reads version {VERSION}. Re-save the model with a matching "
                    "kmeanskit.")
            arrays = {}
            for name, entry in metadata["arrays"].items():
                blob = archive.read(entry["file"])
                if hashlib.sha256(blob).hexdigest() != entry["sha256"]:
                    raise ModelFileError(f"{path} has been modified: array {name!r} does not "
                                         "match its recorded checksum.")
                arrays[name] = np.load(io.BytesIO(blob), allow_pickle=False)
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, KeyError,
            ValueError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path} is corrupt or truncated and cannot be read "
                             f"({type(exc).__name__}: {exc}).") from None
    return metadata["kind"], metadata["data"], arrays


# ---------------------------------------------------------------------------
# Estimators
# ---------------------------------------------------------------------------

_KMEANS_ARRAYS = ("cluster_centers_",)
_MIXTURE_ARRAYS = ("weights_", "means_", "covariances_", "precisions_",
                   "precisions_cholesky_")


def _json_params(estimator) -> dict:
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        if isinstance(value, (np.random.Generator, np.random.RandomState)):
            value = None
        if value is None or isinstance(value, (bool, int, float, str)):
            params[name] = value
        elif isinstance(value, np.integer | np.floating):
            params[name] = value.item()
        else:
            raise TypeError(f"parameter {name!r} ({type(value).__name__}) cannot be saved; "
                            "only plain values are.")
    return params


def estimator_state(estimator) -> tuple[str, dict, dict]:
    """(kind, JSON data, arrays) describing a fitted KMeans or GaussianMixture."""
    from .kmeans import KMeans
    from .mixture import GaussianMixture

    if isinstance(estimator, KMeans):
        kind, names = "KMeans", _KMEANS_ARRAYS
        # An array or callable init is saved as "array": a reloaded model that
        # is fitted again starts from its own centroids.
        params = _json_params(estimator if isinstance(estimator.init, str)
                              else _with_init_name(estimator))
        scalars = {"inertia_": float(estimator.inertia_), "n_iter_": int(estimator.n_iter_)}
    elif isinstance(estimator, GaussianMixture):
        kind, names = "GaussianMixture", _MIXTURE_ARRAYS
        params = _json_params(_without_inits(estimator))
        scalars = {"lower_bound_": float(estimator.lower_bound_),
                   "n_iter_": int(estimator.n_iter_),
                   "converged_": bool(estimator.converged_)}
    else:
        raise TypeError(f"cannot save a {type(estimator).__name__}: kmeanskit saves KMeans, "
                        "GaussianMixture and Segmenter models.")
    arrays = {name: getattr(estimator, name) for name in names}
    data = {"params": params, "scalars": scalars,
            "n_features_in_": int(estimator.n_features_in_),
            "feature_names_in_": [str(f) for f in getattr(estimator, "feature_names_in_", [])]
            or None}
    return kind, data, arrays


def _with_init_name(estimator):
    from sklearn.base import clone

    return clone(estimator).set_params(init="array")


def _without_inits(estimator):
    from sklearn.base import clone

    return clone(estimator).set_params(weights_init=None, means_init=None,
                                       precisions_init=None)


def estimator_from_state(kind: str, data: dict, arrays: dict):
    """Rebuild a fitted estimator from :func:`estimator_state` output."""
    from .kmeans import KMeans
    from .mixture import GaussianMixture

    classes = {"KMeans": KMeans, "GaussianMixture": GaussianMixture}
    if kind not in classes:
        raise ModelFileError(f"unknown model kind {kind!r} in the file.")
    params = dict(data["params"])
    if kind == "KMeans" and params.get("init") == "array":
        params["init"] = arrays["cluster_centers_"]
    try:
        estimator = classes[kind](**params)
        for name, value in arrays.items():
            setattr(estimator, name, value)
        for name, value in data["scalars"].items():
            setattr(estimator, name, value)
        estimator.n_features_in_ = int(data["n_features_in_"])
        if data.get("feature_names_in_"):
            estimator.feature_names_in_ = np.asarray(data["feature_names_in_"], dtype=object)
    except (TypeError, KeyError) as exc:
        raise ModelFileError(f"the model file's contents are inconsistent ({exc}).") from None
    return estimator


def save_model(model, path) -> Path:
    """Save a fitted ``KMeans``, ``GaussianMixture`` or ``Segmenter`` to ``path``
    (conventionally ``*.kmk``), atomically, without pickle."""
    from .segmentation import Segmenter

    if isinstance(model, Segmenter):
        kind, data, arrays = model._state()
    else:
        kind, data, arrays = estimator_state(model)
    return save_archive(path, kind, data, arrays)


def load_model(path):
    """Load a model saved by :func:`save_model`; raises ``ModelFileError`` for a
    file that is corrupt, truncated, of another format version or tampered with."""
    kind, data, arrays = load_archive(path)
    if kind == "Segmenter":
        from .segmentation import Segmenter

        return Segmenter._from_state(data, arrays)
    return estimator_from_state(kind, data, arrays)
