"""Fitting data that lives on disk: a memory-mapped X is streamed, not copied."""

import importlib
import tracemalloc

import numpy as np
import pytest

import kmeanskit.init as init_module
from conftest import recorded_runs
from kmeanskit import KMeans, kmeans_parallel
from kmeanskit._driver import Data
from kmeanskit._validation import unit_weights


@pytest.fixture
def on_disk(tmp_path):
    rng = np.random.default_rng(0)
    n, d = 200_000, 32
    path = tmp_path / "x.npy"
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    centres = rng.uniform(-20, 20, size=(8, d))
    for start in range(0, n, 50_000):
        labels = rng.integers(0, 8, 50_000)
        X[start:start + 50_000] = centres[labels] + rng.normal(size=(50_000, d))
    X.flush()
    del X
    return np.load(path, mmap_mode="r")


@pytest.mark.parametrize("init", ["random", "k-means||", "k-means++", "local-search++"])
def test_memmap_fit_does_not_copy_X(on_disk, init):
    X = on_disk
    # A first fit compiles every kernel the traced fit will use (compiling
    # allocates Python objects that tracemalloc would count).
    KMeans(8, init=init, random_state=0).fit(X)
    tracemalloc.start()
    try:
        model = KMeans(8, init=init, random_state=0).fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # X is 25.6 MB (128 bytes a row); what a fit allocates is per-row
    # bookkeeping (the labels, 4 bytes, one array at a time however many runs
    # compare; k-means++'s closest distance and centre, 12, and the local
    # search's second closest, 12 more) and block-sized temporaries, never a
    # copy of X.
    n = X.shape[0]
    per_row = {"random": 4, "k-means||": 4, "k-means++": 12, "local-search++": 24}[init]
    assert peak < per_row * n + 2**22, f"{peak / n:.1f} bytes a row for X of {X.nbytes / n:.0f}"
    in_memory = KMeans(8, init=init, random_state=0).fit(np.asarray(X))
    np.testing.assert_array_equal(model.labels_, in_memory.labels_)
    assert model.cluster_centers_.dtype == np.float32


@pytest.fixture(scope="module")
def narrow_on_disk(tmp_path_factory):
    # Many narrow rows: per-row state shows plainly beside block temporaries.
    n, d = 2_000_000, 2
    rng = np.random.default_rng(1)
    path = tmp_path_factory.mktemp("narrow") / "x.npy"
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    X[:] = rng.uniform(-30, 30, (12, d))[rng.integers(0, 12, n)] + rng.normal(size=(n, d))
    X.flush()
    del X
    return np.load(path, mmap_mode="r")


def _traced_peak(function):
    function()  # compiles every kernel outside the trace
    tracemalloc.start()
    try:
        result = function()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_kmeans_parallel_on_disk_keeps_nothing_per_row(narrow_on_disk):
    # On disk, k-means|| recomputes each block's closest candidate from the
    # candidate batches instead of keeping 12 bytes a row: the same seeds to
    # the bit, in memory bounded by a block and the candidates.
    X = narrow_on_disk
    on_disk, peak = _traced_peak(lambda: kmeans_parallel(X, 12, random_state=3))
    assert peak < 2**23, f"{peak / X.shape[0]:.1f} bytes a row (kept state would be 12)"
    np.testing.assert_array_equal(on_disk, kmeans_parallel(np.asarray(X), 12, random_state=3))


@pytest.mark.parametrize("case", ["weighted", "duplicated", "five rounds", "in reach",
                                  "float32 ranks", "groups"])
def test_kmeans_parallel_on_disk_matches_in_memory(tmp_path, case, monkeypatch):
    if case in ("in reach", "float32 ranks", "groups"):  # every batch ranked in float32
        monkeypatch.setattr(init_module, "FLOAT32_RANK_MIN_WORK", 0)
    if case == "groups":  # the first batch searched by groups
        monkeypatch.setattr(init_module, "GROUPS_MIN_CANDIDATES", 64)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(150_000, 5)) + rng.integers(0, 6, (150_000, 1)) * 8.0
    if case == "duplicated":  # three distinct rows: the random top-up path
        X = np.repeat(X[:3], 50_000, axis=0)
    if case in ("in reach", "groups"):  # many separated clusters: later batches in reach
        X = rng.normal(size=(150_000, 16)) + rng.uniform(-30, 30, (60, 16))[
            rng.integers(0, 60, 150_000)]
    weights = rng.uniform(0.1, 3.0, X.shape[0]) if case == "weighted" else None
    n_rounds = 5 if case == "five rounds" else "auto"
    np.save(tmp_path / "x.npy", X)
    on_disk = np.load(tmp_path / "x.npy", mmap_mode="r")
    listed, deferred = [], []
    closer_in_reach = init_module.closer_in_reach

    def spy(*args):  # how many rows of a block the lists served, how many they left
        closer_in_reach(*args)
        deferred.append(args[-1].sum())
        listed.append(args[-1].size - deferred[-1])
    monkeypatch.setattr(init_module, "closer_in_reach", spy)
    grouped = []
    closer_in_group = init_module.closer_in_group
    monkeypatch.setattr(init_module, "closer_in_group",
                        lambda *args: closer_in_group(*args) or grouped.append(args[-1].mean()))
    k = 60 if case in ("in reach", "groups") else 6
    seeds = [kmeans_parallel(data, k, sample_weight=weights, n_rounds=n_rounds, random_state=4)
             for data in (on_disk, X)]
    np.testing.assert_array_equal(seeds[0], seeds[1])
    if case == "in reach":  # rows served by the lists, and rows gathered for the product
        assert any(listed) and any(deferred)
    assert bool(grouped) == (case == "groups")
    if grouped:  # rows served by the groups, and rows deferred to the product
        assert 0 < np.mean(grouped) < 0.5


def test_sample_restarts_on_disk_only_within_the_labels_memory(narrow_on_disk, on_disk):
    def plan(X):  # (sample rows, runs) of the default fit, or None: runs on X
        return KMeans(12)._sample_plan(Data(X, unit_weights(X.shape[0])))

    assert plan(narrow_on_disk) == (65_536, 8)  # 8 bytes a row: 0.5 MiB against 8 MiB
    assert plan(on_disk) is None  # 128 bytes a row: 8 MiB against 0.8 MiB of labels
    assert plan(np.array(on_disk)) == (65_536, 3)  # in memory


def test_kmeans_on_disk_holds_only_the_labels(narrow_on_disk):
    # With the default settings (k-means||; here restarts on a sample of
    # 65,536 rows, 0.5 MiB, and the best continued on X) a whole fit holds
    # the labels (4 bytes a row, the result) and block-sized temporaries: no
    # weights, no seeding state, no copy.
    X = narrow_on_disk
    n = X.shape[0]
    model, peak = _traced_peak(lambda: KMeans(12, random_state=0).fit(X))
    assert peak < 4 * n + 2**22, f"{peak / n:.1f} bytes a row"
    in_memory = KMeans(12, random_state=0).fit(np.asarray(X))
    np.testing.assert_array_equal(model.labels_, in_memory.labels_)
    assert model.inertia_ == pytest.approx(in_memory.inertia_, rel=1e-9)


def test_on_disk_fit_returns_the_best_runs_labels(tmp_path, monkeypatch):
    # Whichever of the two runs on X is the best, its labels come back
    # (made again by the same assignment when the first one wins) and equal
    # the in-memory fit's.
    # (The package's kmeans function shadows its module of the same name.)
    kmeans_module = importlib.import_module("kmeanskit.kmeans")
    X = np.random.default_rng(5).uniform(size=(20_000, 2))  # no clusters: runs end apart
    np.save(tmp_path / "x.npy", X)
    on_disk = np.load(tmp_path / "x.npy", mmap_mode="r")
    runs = recorded_runs(monkeypatch)
    winners = set()
    for seed in range(6):
        runs.clear()
        model = KMeans(8, random_state=seed).fit(on_disk)
        first, second = (result.inertia for _, result in runs)
        winners.add(int(second < first * (1 - kmeans_module.RUN_TIE_RTOL)))
        in_memory = KMeans(8, random_state=seed).fit(X)
        np.testing.assert_array_equal(model.labels_, in_memory.labels_)
        assert model.inertia_ == pytest.approx(in_memory.inertia_, rel=1e-9)
    assert winners == {0, 1}


def test_minibatch_and_predict_on_disk_hold_only_the_labels(narrow_on_disk):
    # Mini-batches for data too large to iterate over, and labelling new
    # rows: no weights array, no distance array, only the labels returned.
    from kmeanskit import MiniBatchKMeans

    X = narrow_on_disk
    n = X.shape[0]
    model, peak = _traced_peak(lambda: MiniBatchKMeans(12, random_state=0).fit(X))
    assert peak < 4 * n + 2**22, f"{peak / n:.1f} bytes a row"
    labels, peak = _traced_peak(lambda: model.predict(X))
    assert peak < 4 * n + 2**22, f"{peak / n:.1f} bytes a row"
    np.testing.assert_array_equal(labels, model.labels_)
    in_memory = MiniBatchKMeans(12, random_state=0).fit(np.asarray(X))
    np.testing.assert_array_equal(in_memory.labels_, model.labels_)


def test_unit_weights_view_draws_and_sums_as_ones():
    # A memmap fit without weights keeps them as one broadcast value; every
    # draw and sum made from it must equal those made from an array of ones.
    from kmeanskit._driver import Data
    from kmeanskit._validation import unit_weights
    from kmeanskit.init import _KeptClosest, _pick_weighted, _read_closest

    n = 300_001
    values = np.random.default_rng(0).random(n)
    labels = np.random.default_rng(1).integers(0, 7, n).astype(np.int32)
    view, ones = unit_weights(n), np.ones(n)
    np.testing.assert_array_equal(_pick_weighted(view, np.random.default_rng(2), 1000),
                                  _pick_weighted(ones, np.random.default_rng(2), 1000))
    closest = _KeptClosest(Data(np.zeros((n, 1)), ones))
    closest.ids[:], closest.sq[:] = labels, values
    potential, counts = _read_closest(closest, view, 7)[:2]
    assert potential == pytest.approx(values.sum(), rel=1e-12)
    np.testing.assert_array_equal(counts, np.bincount(labels))
    assert potential == _read_closest(closest, ones, 7)[0]
