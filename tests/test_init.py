"""The four initialisations: each one's defining property, and quality."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import chi2
from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.cluster import kmeans_plusplus as sklearn_kmeans_plusplus

import kmeanskit.init as init_module
from conftest import blobs, instances_created
from kmeanskit import KMeans, kmeans_parallel, kmeans_plusplus, naive_sharding, random_points
from kmeanskit._kernels.seeding import closer_in_reach


def _inertia(X, centers, weights=None):
    sq = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2).min(axis=1)
    return float(sq @ (np.ones(len(X)) if weights is None else weights))


# -- naive sharding ----------------------------------------------------------

def test_sharding_hand_computed():
    X = np.array([[5, 5], [1, 0], [3, 3], [0, 2], [10, 1], [2, 2]], dtype=float)
    # row sums 10, 1, 6, 2, 11, 4 -> sorted rows [1,0] [0,2] | [2,2] [3,3] | [5,5] [10,1]
    np.testing.assert_allclose(naive_sharding(X, 3), [[0.5, 1.0], [2.5, 2.5], [7.5, 3.0]])


def test_sharding_uneven_split_and_sparse():
    X = np.arange(10.0).reshape(5, 2)  # row sums already sorted
    # five rows in two shards of 2.5 rows: the middle row is shared half and half
    # shard 0: ([0, 1] + [2, 3] + 0.5 [4, 5]) / 2.5; shard 1: (0.5 [4, 5] + [6, 7] + [8, 9]) / 2.5
    np.testing.assert_allclose(naive_sharding(X, 2), [[1.6, 2.6], [6.4, 7.4]])
    np.testing.assert_allclose(naive_sharding(sp.csr_matrix(X), 2), naive_sharding(X, 2))


def test_sharding_weights_act_as_repetitions(rng):
    X = rng.normal(size=(40, 3))
    counts = rng.integers(1, 4, size=40)
    np.testing.assert_allclose(naive_sharding(X, 4, sample_weight=counts),
                               naive_sharding(np.repeat(X, counts, axis=0), 4), rtol=1e-12)


def test_sharding_is_deterministic_and_keeps_float32(rng):
    X = rng.normal(size=(100, 4)).astype(np.float32)
    a = naive_sharding(X, 5)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, naive_sharding(X, 5))


# -- random ------------------------------------------------------------------

def test_random_points_are_distinct_rows(rng):
    X = rng.normal(size=(30, 2))
    centers = random_points(X, 30, random_state=0)
    rows = {tuple(r) for r in centers}
    assert len(rows) == 30 and rows == {tuple(r) for r in X}


def test_random_points_follow_the_weights(rng):
    X = np.arange(4.0).reshape(4, 1)
    weights = np.array([0.0, 1.0, 3.0, 0.0])
    draws = [random_points(X, 1, sample_weight=weights, random_state=s)[0, 0]
             for s in range(400)]
    assert set(draws) == {1.0, 2.0}
    assert 0.65 < np.mean(np.array(draws) == 2.0) < 0.85


# -- k-means++ ---------------------------------------------------------------

@pytest.mark.parametrize("local_search_steps", [0, 50])
def test_kmeans_plusplus_returns_rows_and_never_zero_weight(rng, local_search_steps):
    X, _ = blobs(rng, n=300, d=3, k=6)
    weights = np.ones(300)
    weights[:150] = 0.0
    centers, indices = kmeans_plusplus(X, 6, sample_weight=weights, random_state=0,
                                       local_search_steps=local_search_steps)
    np.testing.assert_array_equal(centers, X[indices])
    assert (indices >= 150).all()


def test_local_search_never_stacks_seeds_on_duplicated_data():
    # Once every distinct point is a centre the potential is zero: no draw,
    # no swap; with fewer distinct points than clusters nothing is stacked
    # beyond what k-means++ itself had to.
    X = np.array([[0.0, 0.0]] * 50 + [[5.0, 5.0]] * 50 + [[9.0, 0.0]])
    centers, _ = kmeans_plusplus(X, 3, local_search_steps=20, random_state=0)
    assert {tuple(c) for c in centers} == {(0.0, 0.0), (5.0, 5.0), (9.0, 0.0)}


def test_kmeans_plusplus_dense_and_sparse_agree(rng):
    X, _ = blobs(rng, n=400, d=12, k=5)
    X[np.abs(X) < 1.0] = 0.0
    _, dense_idx = kmeans_plusplus(X, 8, random_state=3)
    _, sparse_idx = kmeans_plusplus(sp.csr_matrix(X), 8, random_state=3)
    np.testing.assert_array_equal(dense_idx, sparse_idx)


def test_kmeans_plusplus_matches_a_plain_reference(rng):
    """With one candidate per step, greedy k-means++ is plain D^2 sampling:
    replay it with the same uniform draws in plain numpy."""
    X, _ = blobs(rng, n=200, d=10, k=4)
    _, indices = kmeans_plusplus(X, 6, n_local_trials=1, random_state=11)
    draws = np.random.default_rng(np.random.SeedSequence(11)).uniform(size=6)
    weights = np.ones(200)
    chosen = [int(np.searchsorted(np.cumsum(weights), draws[0] * 200, side="right"))]
    closest = ((X - X[chosen[0]]) ** 2).sum(axis=1)
    for step in range(1, 6):
        cumulative = np.cumsum(closest)
        chosen.append(int(np.searchsorted(cumulative, draws[step] * cumulative[-1],
                                          side="right")))
        closest = np.minimum(closest, ((X - X[chosen[-1]]) ** 2).sum(axis=1))
    np.testing.assert_array_equal(indices, chosen)


QUALITY_SEEDS = range(20)


def _batches_at_any_size(monkeypatch):
    """Greedy k-means++ in batches of steps whatever the shape."""
    for name in ("BATCHED_MIN_ROWS", "BATCHED_MIN_CLUSTERS"):
        monkeypatch.setattr(init_module, name, 0)


@pytest.mark.parametrize("k, steps", [(8, "one by one"), (40, "one by one"), (40, "batched")])
def test_kmeans_plusplus_quality_matches_sklearn(rng, monkeypatch, k, steps):
    if steps == "batched":
        _batches_at_any_size(monkeypatch)
    X, _ = blobs(rng, n=3000, d=5, k=25, spread=8.0)
    ours = [_inertia(X, kmeans_plusplus(X, k, random_state=s)[0]) for s in QUALITY_SEEDS]
    theirs = [_inertia(X, sklearn_kmeans_plusplus(X, k, random_state=s)[0])
              for s in QUALITY_SEEDS]
    # Same algorithm, different random streams: equal on average up to noise.
    assert np.mean(ours) <= np.mean(theirs) * 1.05


def test_kmeans_parallel_quality_beats_kmeans_plusplus(rng):
    X, _ = blobs(rng, n=3000, d=5, k=25, spread=8.0)
    ours = [_inertia(X, kmeans_parallel(X, 25, random_state=s)) for s in QUALITY_SEEDS]
    theirs = [_inertia(X, sklearn_kmeans_plusplus(X, 25, random_state=s)[0])
              for s in QUALITY_SEEDS]
    assert np.mean(ours) <= np.mean(theirs)


@pytest.mark.parametrize("init", ["local-search++", "k-means++", "k-means||"])
def test_fitted_inertia_no_worse_than_sklearn(rng, init):
    X, _ = blobs(rng, n=3000, d=5, k=25, spread=8.0)
    ours = [KMeans(25, init=init, random_state=s).fit(X).inertia_ for s in QUALITY_SEEDS]
    theirs = [SklearnKMeans(25, n_init=1, random_state=s).fit(X).inertia_
              for s in QUALITY_SEEDS]
    assert np.mean(ours) <= np.mean(theirs) * 1.01


def test_kmeans_parallel_seeds_are_rows(rng):
    # The weighted candidates are reclustered by local-search++, whose seeds
    # are candidates: rows of X, as k-means++'s are.
    X, _ = blobs(rng, n=3000, d=5, k=25, spread=8.0)
    seeds = kmeans_parallel(X, 25, random_state=0)
    assert all((X == seed).all(axis=1).any() for seed in seeds)


@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_kmeans_parallel_at_scales_beyond_float32(rng, monkeypatch, scale):
    # The sampling ranks candidates in float32 only where the data's scale
    # allows: at 1e30 the float32 products overflow, at 1e-30 they vanish,
    # and the draws would follow nothing.  Beyond, it ranks in float64 and
    # the seeds (rows) are those of the same data at scale 1.
    monkeypatch.setattr(init_module, "FLOAT32_RANK_MIN_WORK", 0)  # rank even this in float32
    X, labels = blobs(rng, n=4000, d=8, k=20, spread=30.0)
    seeds = kmeans_parallel(X, 20, random_state=0)
    scaled = kmeans_parallel(X * scale, 20, random_state=0)
    np.testing.assert_allclose(scaled / scale, seeds, rtol=1e-12)
    rows = [np.flatnonzero((X * scale == seed).all(axis=1))[0] for seed in scaled]
    assert len(set(labels[rows])) == 20  # a seed in every blob


def test_default_fit_on_documents_no_worse_than_sklearn():
    # TF-IDF rows of overlapping topics: seeds that were means of a few dozen
    # candidates (Lloyd iterations on them, as Spark does) led these fits
    # 2.9 % above scikit-learn's on average; seeds that are rows end below.
    from kmeanskit.datasets import make_documents

    X, _ = make_documents(15_000, 20_000, 20)
    ours = [KMeans(20, random_state=s).fit(X).inertia_ for s in range(3)]
    theirs = [SklearnKMeans(20, random_state=s).fit(X).inertia_ for s in range(3)]
    assert np.mean(ours) <= np.mean(theirs) * 1.01


def test_kmeans_parallel_weights_and_sparse(rng):
    X, _ = blobs(rng, n=500, d=6, k=4, spread=10.0)
    weights = np.ones(500)
    weights[:250] = 0.0
    centers = kmeans_parallel(X, 4, sample_weight=weights, random_state=0)
    assert _inertia(X[250:], centers) < _inertia(X[250:], X[250:].mean(axis=0, keepdims=True))
    sparse_centers = kmeans_parallel(sp.csr_matrix(X), 4, random_state=0)
    assert sparse_centers.shape == (4, 6) and np.isfinite(sparse_centers).all()


def test_kmeans_parallel_reclusters_sparse_candidates_as_dense_ones(rng):
    # Sparse candidates are reclustered as CSR rows, their distances expanded
    # over the stored values (dense ones: exact differences): on data without
    # near-ties, the same seeds, through the greedy steps and the swaps.
    X, _ = blobs(rng, n=4000, d=12, k=25, spread=8.0)
    X[X < 2.0] = 0.0  # about half the values
    weights = rng.uniform(0.5, 2.0, len(X))
    dense = kmeans_parallel(X, 25, sample_weight=weights, random_state=0)
    sparse = kmeans_parallel(sp.csr_matrix(X), 25, sample_weight=weights, random_state=0)
    np.testing.assert_array_equal(sparse, dense)


def _closest_after_one_round(X, labels, n_covered=None):
    """Each row's closest of a first batch of candidates, one row of each
    cluster (of the first ``n_covered`` clusters only, if given; kept state,
    as k-means|| has it before its next batch)."""
    from kmeanskit._driver import Data

    closest = init_module._KeptClosest(Data(X, np.ones(len(X))))
    first = np.unique(labels, return_index=True)[1]
    first = first[:n_covered]
    closest.add(X[first])
    return closest, X[first]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kmeans_parallel_reach_finds_every_closer_candidate(rng, dtype):
    # A new batch tried only within reach of each row's closest must give
    # each row what trying every candidate gives: the nearest of the batch
    # where it is strictly closer (ties to the lower index).
    X, labels = blobs(rng, n=30_000, d=6, k=40, spread=30.0, dtype=dtype)
    closest, old = _closest_after_one_round(X, labels)
    _, farthest, _ = _farthest(closest)
    batch = X[rng.choice(len(X), 300, replace=False)]
    batch[1] = batch[0]  # an exact tie inside the batch
    reach = init_module._Reach.of(old, batch, farthest, np.float64)
    assert reach is not None
    listed = np.diff(reach.indptr)
    assert 0 < listed.sum() < 0.2 * len(old) * len(batch)  # pruning at work
    table = init_module._pairwise_sq(old, batch)
    for a in range(len(old)):  # each list: exactly the pairs in reach, sorted
        members = reach.members[reach.indptr[a]:reach.indptr[a + 1]]
        assert set(members) == set(np.flatnonzero(table[a] < 4 * farthest[a]))
        assert np.all(np.diff(reach.reach_sq[reach.indptr[a]:reach.indptr[a + 1]]) >= 0)
    ids, sq = closest.ids.copy(), closest.sq.copy()
    closer_in_reach(X, batch, reach.indptr, reach.members, reach.reach_sq,
                                len(old), len(batch), ids, sq, np.empty(len(X), dtype=bool))
    full = ((X[:, None, :].astype(np.float64) - batch[None].astype(np.float64)) ** 2).sum(2)
    nearest = full.argmin(axis=1)
    closer = full[np.arange(len(X)), nearest] < closest.sq
    expected_ids = np.where(closer, len(old) + nearest, closest.ids)
    # A batch row may be an old candidate again: its rows tie, and the last
    # bits of the distances (the old ones summed in the frame of their
    # batch's centre) decide between the two copies.
    tie = (batch[nearest] == old[closest.ids]).all(axis=1)
    assert 0 < tie.sum() < 100
    np.testing.assert_array_equal(ids[~tie], expected_ids[~tie])
    assert np.all((ids[tie] == closest.ids[tie]) | (ids[tie] == len(old) + nearest[tie]))
    np.testing.assert_allclose(sq, np.minimum(full.min(axis=1), closest.sq), rtol=1e-12)
    assert np.sum(closer) > 100


def test_kmeans_parallel_reach_share_over_groups(rng, monkeypatch):
    # Where a few candidates' rows include a cluster still without one, their
    # lists hold the whole batch: more than REACH_SHARE of the pairs, refused
    # before the product, taken before the groups (which ignore how close a
    # row already is).
    X, labels = blobs(rng, n=20_000, d=16, k=40, spread=30.0)
    closest, old = _closest_after_one_round(X, labels, n_covered=20)
    batch = X[rng.choice(len(X), 200, replace=False)]
    farthest = _farthest(closest)[1]
    assert init_module._Reach.of(old, batch, farthest, np.float64) is None
    reach = init_module._Reach.of(old, batch, farthest, np.float64,
                                  init_module.REACH_SHARE_OVER_GROUPS)
    share = reach.indptr[-1] / (len(old) * len(batch))
    assert init_module.REACH_SHARE < share < init_module.REACH_SHARE_OVER_GROUPS

    shares = []
    of = init_module._Reach.of.__func__

    def spy(cls, *args):
        shares.append(args[-1])
        return of(cls, *args)
    monkeypatch.setattr(init_module._Reach, "of", classmethod(spy))
    for min_candidates, expected in ((1, init_module.REACH_SHARE_OVER_GROUPS),
                                     (10**9, init_module.REACH_SHARE)):
        monkeypatch.setattr(init_module, "GROUPS_MIN_CANDIDATES", min_candidates)
        shares.clear()
        kmeans_parallel(X, 40, random_state=0)
        assert shares and set(shares) == {expected}


def _farthest(closest):
    read = init_module._read_closest(closest, np.ones(len(closest.ids)), closest.n_candidates,
                                     np.random.default_rng(0), 1.0)
    return read.potential, read.farthest_sq, read.candidate_weights


def test_kmeans_parallel_reach_used_where_it_pays(rng, monkeypatch):
    # Rows switch between the listed candidates and the whole product by
    # their own listed count (rows of the clusters without a candidate are
    # far from every one and reach most of the batch); both give the same
    # closest candidates, but for near-ties, which the product ranks in
    # float32.
    X, labels = blobs(rng, n=150_000, d=16, k=40, spread=30.0)
    closest, old = _closest_after_one_round(X, labels, n_covered=36)
    batch = X[rng.choice(len(X), 200, replace=False)]
    reach = init_module._Reach.of(old, batch, _farthest(closest)[1], np.float32)
    deferred = []
    listed = init_module.closer_in_reach

    def spy(*args):
        listed(*args)
        deferred.append(args[-1].mean())
    monkeypatch.setattr(init_module, "closer_in_reach", spy)
    with_reach, without = closest, _closest_after_one_round(X, labels, n_covered=36)[0]
    with_reach.add(batch, reach)
    without.add(batch, rank_dtype=np.float32)
    assert 0 < np.mean(deferred) < 0.5  # some rows through the product, most listed
    candidates = np.concatenate([old, batch])
    differ = np.flatnonzero(with_reach.ids != without.ids)
    assert differ.size < 1e-3 * len(X)
    exact = [((X[differ] - candidates[ids[differ]]) ** 2).sum(axis=1)
             for ids in (with_reach.ids, without.ids)]
    # Ties within float32's rounding of the centred products (|x|^2 ~ 5000).
    np.testing.assert_allclose(exact[0], exact[1], rtol=0, atol=1e-6 * 5000)
    same = with_reach.ids == without.ids
    np.testing.assert_allclose(with_reach.sq[same], without.sq[same], rtol=0, atol=1e-7 * 5000)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [400, 12])
def test_kmeans_parallel_groups_find_the_nearest_candidate(rng, dtype, batch_size):
    # A first batch searched by groups gives each row what trying every
    # candidate gives (the nearest where strictly closer than the first
    # centre, ties to the lower index), or defers the row to the product:
    # rows of the clusters that hold no candidate.  A batch smaller than the
    # neighbour lists lists every other candidate.
    X, labels = blobs(rng, n=20_000, d=8, k=150, spread=40.0, dtype=dtype)
    closest, old = _closest_after_one_round(X, labels, n_covered=1)
    batch = X[rng.choice(len(X), batch_size, replace=False)]
    batch[1] = batch[0]  # an exact tie inside the batch
    groups = init_module._Groups.of(batch, np.float64)
    assert 1 < len(groups.centres) < batch_size
    full = ((X[:, None, :].astype(np.float64) - batch[None].astype(np.float64)) ** 2).sum(2)
    table = init_module._pairwise_sq(batch, batch)
    np.fill_diagonal(table, np.inf)
    n_listed = groups.listed.shape[1]
    for a in range(batch_size):  # each candidate's nearest others, exact
        listed = groups.listed[a]
        np.testing.assert_allclose(groups.listed_sq[a], table[a, listed], rtol=1e-12)
        left_out = np.delete(table[a], np.append(listed, a))
        if batch_size - 1 > n_listed:
            assert groups.bound_sq[a] <= left_out.min() <= groups.bound_sq[a] * (1 + 1e-9)
            assert table[a, listed].max() <= left_out.min()
        else:
            assert groups.bound_sq[a] == np.inf
            assert set(listed) == set(range(batch_size)) - {a}
    ids, sq = closest.ids.copy(), closest.sq.copy()
    deferred = np.empty(len(X), dtype=bool)
    groups.closer(X, batch, len(old), ids, sq, deferred)
    if batch_size > 100:
        assert 0.02 < deferred.mean() < 0.5
    nearest = full.argmin(axis=1)  # the first of equal minima: the lower index
    closer = full[np.arange(len(X)), nearest] < closest.sq
    expected_ids = np.where(closer, len(old) + nearest, closest.ids)
    served = ~deferred
    np.testing.assert_array_equal(ids[served], expected_ids[served])
    np.testing.assert_allclose(sq[served], np.minimum(full.min(axis=1), closest.sq)[served],
                               rtol=1e-12)
    np.testing.assert_array_equal(ids[deferred], closest.ids[deferred])
    assert np.sum(closer & served) > 1000
    assert np.any(ids == len(old))  # rows of the tied pair go to the first copy
    assert not np.any(ids == len(old) + 1)


def test_kmeans_parallel_groups_used_where_they_pay(rng, monkeypatch):
    # The first round of a large batch of many features goes through the
    # groups (most rows) and the product (the rows they defer); the closest
    # candidates are the product's, but for near-ties, which the product
    # ranks in float32.
    X, labels = blobs(rng, n=60_000, d=16, k=400, spread=60.0)
    batch = X[rng.choice(len(X), 800, replace=False)]
    assert init_module._groups_pay(len(X), batch)
    assert not init_module._groups_pay(len(X), batch[:, :4])  # a few features: the product
    assert not init_module._groups_pay(20_000, batch)  # the tables would cost too much
    served = []
    grouped = init_module.closer_in_group

    def spy(*args):
        grouped(*args)
        served.append(1 - args[-1].mean())
    monkeypatch.setattr(init_module, "closer_in_group", spy)
    with_groups, _ = _closest_after_one_round(X, labels, n_covered=1)
    without, old = _closest_after_one_round(X, labels, n_covered=1)
    with_groups.add(batch, init_module._Groups.of(batch, np.float32), np.float32)
    without.add(batch, rank_dtype=np.float32)
    assert 0.5 < np.mean(served) < 1
    candidates = np.concatenate([old, batch])
    differ = np.flatnonzero(with_groups.ids != without.ids)
    assert differ.size < 1e-3 * len(X)
    exact = [((X[differ] - candidates[ids[differ]]) ** 2).sum(axis=1)
             for ids in (with_groups.ids, without.ids)]
    scale = (X ** 2).sum(axis=1).max()
    np.testing.assert_allclose(exact[0], exact[1], rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(with_groups.sq, without.sq, rtol=0, atol=1e-6 * scale)


def test_kmeans_parallel_groups_probed_before_their_pass(rng, monkeypatch):
    # The probe (rows spread through X) predicts the share of rows the whole
    # pass settles.  Where clusters overlap the groups settle few, so the
    # round leaves its rows to the product and later rounds build none.
    X, _ = blobs(rng, n=60_000, d=16, k=400, spread=60.0)
    batch = X[rng.choice(len(X), 800, replace=False)]
    groups = init_module._Groups.of(batch, np.float32)
    deferred = np.empty(len(X), dtype=bool)
    groups.closer(X, batch, 0, np.zeros(len(X), np.int32), np.full(len(X), np.inf), deferred)
    probed = groups.settled_share(X, batch)
    assert probed >= init_module.GROUPS_MIN_SETTLED
    assert abs(probed - (1.0 - deferred.mean())) < 0.03

    overlapping, _ = blobs(rng, n=60_000, d=16, k=450, spread=1.0)
    made, searched = [], []
    of, grouped = init_module._Groups.of, init_module.closer_in_group
    monkeypatch.setattr(init_module._Groups, "of", lambda *a: made.append(1) or of(*a))
    monkeypatch.setattr(init_module, "closer_in_group",
                        lambda *a: searched.append(len(a[0])) or grouped(*a))
    kmeans_parallel(overlapping, 450, random_state=0)
    assert made == [1]  # the first round's, dropped after its probe
    assert sum(searched) <= 1.1 * init_module.GROUPS_PROBE_ROWS
    monkeypatch.setattr(init_module, "GROUPS_MIN_SETTLED", 0.0)  # kept whatever they settle
    made.clear()
    searched.clear()
    kmeans_parallel(overlapping, 450, random_state=0)
    assert len(made) > 1 and sum(searched) > len(overlapping)


def test_kmeans_parallel_predicts_each_rounds_cut(rng, monkeypatch):
    # n_rounds="auto" does not draw a round predicted (from its own draws,
    # before any row is read again) not to halve the potential.  On
    # separated blobs the predictions fall on the same side of 2 as the cuts
    # the rounds then make, and near 1 within 30 %; auto stops after the two
    # rounds that find the clusters (the third cuts by ~1.2).
    X, _ = blobs(rng, n=60_000, d=8, k=60, spread=40.0)
    reads, batches = [], []
    read, add = init_module._read_closest, init_module._KeptClosest.add
    monkeypatch.setattr(init_module, "_read_closest",
                        lambda *a, **k: reads.append(read(*a, **k)) or reads[-1])
    monkeypatch.setattr(init_module._KeptClosest, "add",
                        lambda self, batch, *a: batches.append(len(batch)) or add(self, batch, *a))
    for seed in range(3):
        reads.clear()
        kmeans_parallel(X, 60, n_rounds=5, random_state=seed)
        for before, after in zip(reads[:-2], reads[1:-1], strict=True):  # the last reads count
            predicted = init_module._predicted_cut(X[before.picked], before, np.ones(len(X)),
                                                   120.0)
            actual = before.potential / after.potential
            assert (predicted >= 2) == (actual >= 2), (predicted, actual)
            if actual < 2:
                assert predicted == pytest.approx(actual, rel=0.3)
        batches.clear()
        kmeans_parallel(X, 60, random_state=seed)
        assert len(batches) == 3  # the first centre and two rounds


def test_kmeans_parallel_with_heavily_duplicated_data():
    X = np.array([[0.0, 0.0]] * 50 + [[5.0, 5.0]] * 50 + [[9.0, 0.0]])
    centers = kmeans_parallel(X, 3, random_state=0)
    assert {tuple(c) for c in np.round(centers, 9) + 0.0} == {(0.0, 0.0), (5.0, 5.0), (9.0, 0.0)}


def test_kmeans_plusplus_without_kept_distances_chooses_the_same_seeds(rng, monkeypatch):
    # Above its memory budget (and always on a memmap) k-means++ reads the
    # chosen candidate's rows again instead of keeping every candidate's
    # distances: the same arithmetic, so the same seeds.
    X, _ = blobs(rng, n=5000, d=6, k=12)
    weights = rng.uniform(0.5, 2.0, len(X))
    kept, kept_idx = kmeans_plusplus(X, 12, sample_weight=weights, random_state=4)
    monkeypatch.setattr(init_module, "KEPT_DISTANCES_MAX_BYTES", 0)
    again, again_idx = kmeans_plusplus(X, 12, sample_weight=weights, random_state=4)
    np.testing.assert_array_equal(kept_idx, again_idx)
    np.testing.assert_array_equal(kept, again)


# -- local search (init="local-search++") --------------------------------------

def test_replaced_centre_keeps_every_nearest_centre(rng):
    # After each swap the nearest other centre of every centre (ties to the
    # lower index) equals a full search, on distinct and on tied distances.
    for centers in (rng.normal(size=(40, 3)), rng.integers(0, 3, (40, 2)).astype(float)):
        pairwise_sq = init_module._pairwise_sq
        dist, neighbour = init_module._center_distances(pairwise_sq(centers, centers))
        for q in rng.integers(0, len(centers), 200):
            centers[q] = rng.normal(size=centers.shape[1]) if q % 2 else centers[(q + 1) % 40]
            init_module._replace_center(pairwise_sq(centers[q:q + 1], centers)[0], q, dist,
                                        neighbour)
            full = init_module._center_distances(pairwise_sq(centers, centers))
            np.testing.assert_array_equal(dist, full[0])
            np.testing.assert_array_equal(neighbour, full[1])


def _seeding_state(X, weights, centers, n_candidates):
    """The k-means++ bookkeeping for given centres, computed by brute force."""
    seeding = init_module._Seeding(X, weights, n_candidates)
    sq = ((X[:, None, :].astype(float) - centers[None].astype(float)) ** 2).sum(axis=2)
    seeding.closest_id[:] = sq.argmin(axis=1)
    seeding.closest_sq[:] = sq.min(axis=1)
    rows = seeding.chunk_rows
    for c in range(seeding.n_chunks):
        part = slice(c * rows, (c + 1) * rows)
        seeding.chunk_potential[c] = weights[part] @ seeding.closest_sq[part]
    return seeding


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_local_search_makes_the_best_swap_of_each_step(rng, dtype):
    # Replay each step by brute force: of every (candidate, centre) swap, the
    # one with the lowest potential is made, and only if it lowers it.
    X, _ = blobs(rng, n=2500, d=3, k=9, spread=8.0, dtype=dtype)
    X64 = X.astype(np.float64)
    weights = rng.uniform(0.5, 2.0, len(X))
    rtol = 1e-9 if dtype == np.float64 else 1e-6  # float32 differences
    centers, indices = kmeans_plusplus(X, 9, sample_weight=weights, random_state=1)
    swaps = 0
    for step in range(12):
        seeding = _seeding_state(X, weights, centers, 3)
        draws = np.random.default_rng(step)
        candidates = seeding.sample(np.random.default_rng(step), 3)
        expected = centers.copy()
        best = _inertia(X64, centers, weights)
        for row in candidates:
            for q in range(9):
                trial = centers.copy()
                trial[q] = X[row]
                potential = _inertia(X64, trial, weights)
                if potential < best * (1 - rtol):
                    best, expected = potential, trial
        swaps += init_module._local_search(seeding, centers, indices, draws, 1, 3)
        np.testing.assert_array_equal(centers, expected)
        np.testing.assert_array_equal(X[indices], centers)
        # The kept state is every row's exact closest centre.
        np.testing.assert_allclose(seeding.chunk_potential.sum(), best, rtol=rtol)
    assert swaps >= 3


def test_local_search_state_stays_exact_over_many_swaps(rng):
    X, _ = blobs(rng, n=3000, d=5, k=30, spread=8.0)
    weights = np.ones(len(X))
    centers, indices = kmeans_plusplus(X, 30, random_state=0)
    seeding = _seeding_state(X, weights, centers, 4)
    assert init_module._local_search(seeding, centers, indices, rng, 60, 4) > 5
    sq = np.sort(((X[:, None, :] - centers[None]) ** 2).sum(axis=2), axis=1)
    np.testing.assert_allclose(seeding.closest_sq, sq[:, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(
        seeding.closest_id,
        ((X[:, None, :] - centers[None]) ** 2).sum(axis=2).argmin(axis=1))


def test_local_search_lowers_the_potential_of_the_same_greedy_seeds(rng):
    X, _ = blobs(rng, n=4000, d=4, k=40, spread=8.0)
    for seed in range(5):
        greedy, _ = kmeans_plusplus(X, 40, random_state=seed)
        searched, idx = kmeans_plusplus(X, 40, local_search_steps="auto", random_state=seed)
        assert _inertia(X, searched) <= _inertia(X, greedy)
        np.testing.assert_array_equal(X[idx], searched)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", ["unit weights", "weights", "zero potential"])
def test_compiled_seeding_loops_choose_what_the_python_loops_choose(rng, monkeypatch, dtype,
                                                                   case):
    # Dense rows in memory run k-means++ and the local search as compiled
    # loops; the Python loops around the same kernels (sparse, memmap) must
    # pick the same seeds from the same draws and leave the generator in
    # the same state, also where the local search stops at zero potential
    # (as many distinct rows as seeds).
    X, _ = blobs(rng, n=3000, d=7, k=30, spread=8.0, dtype=dtype)
    weights = rng.uniform(0.2, 3.0, len(X)) if case == "weights" else np.ones(len(X))
    n_clusters = 25
    if case == "zero potential":
        X = np.repeat(X[:n_clusters], 40, axis=0)
        weights = weights[:len(X)]
    # The compiled loops also run from a table of the rows' distances
    # (forced here for 7 features): the same seeds again.
    results, tables = {}, _counted(monkeypatch, "_distance_table")
    for loops in ("compiled", "table", "python"):
        original = init_module._Seeding.__init__

        def seeding(self, *args, original=original, compiled=loops != "python"):
            original(self, *args)
            self.compiled_loops = self.compiled_loops and compiled
        monkeypatch.setattr(init_module._Seeding, "__init__", seeding)
        monkeypatch.setattr(init_module, "TABLE_MIN_FEATURES", 1 if loops == "table" else 10**9)
        monkeypatch.setattr(init_module, "TABLE_PAIRS_PER_STEP", np.inf)
        generator = np.random.default_rng(5)
        centers, indices = init_module._kmeans_plusplus(
            X, n_clusters, weights, generator, local_search_steps=60)
        results[loops] = centers, indices, generator.uniform(size=3)
        monkeypatch.setattr(init_module._Seeding, "__init__", original)
    assert len(tables) == 1
    for loops in ("compiled", "table"):
        for ours, python in zip(results[loops], results["python"], strict=True):
            np.testing.assert_array_equal(ours, python)
    if case == "zero potential":
        assert len(np.unique(results["table"][0], axis=0)) == n_clusters


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 2, 63, 64, 65, 301])
def test_distance_table_is_exact_and_symmetric(rng, dtype, n):
    # Balanced triangle tasks (row i with row n - 1 - i) and square blocks
    # mirrored: every entry, odd and even n, less than one block and more.
    from kmeanskit._kernels.seeding import TABLE_BLOCK_ROWS

    assert TABLE_BLOCK_ROWS == 64
    X = rng.normal(size=(n, 9)).astype(dtype)
    table = init_module._distance_table(X)
    np.testing.assert_array_equal(table, table.T)
    np.testing.assert_array_equal(np.diag(table), 0.0)
    expected = ((X[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(axis=2)
    np.testing.assert_allclose(table, expected, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-12)


def test_kmeans_parallel_reclusters_from_a_table_where_it_pays(rng, monkeypatch):
    # About four candidates a seed in 16 features: the recluster's steps
    # would compute more pairs than the table holds; k-means++ on the rows
    # (5,000 rows for 60 seeds) would not.  The table's seeds are those of
    # the computed distances, on 1 and 2 threads.
    X, _ = blobs(rng, n=5000, d=16, k=60, spread=30.0)
    tables = _counted(monkeypatch, "_distance_table")
    one = kmeans_parallel(X, 60, random_state=2, n_threads=1)
    assert len(tables) == 1
    kmeans_plusplus(X, 60, local_search_steps="auto", random_state=2)
    assert len(tables) == 1
    np.testing.assert_array_equal(one, kmeans_parallel(X, 60, random_state=2, n_threads=2))
    monkeypatch.setattr(init_module, "TABLE_MAX_BYTES", 0)
    np.testing.assert_array_equal(one, kmeans_parallel(X, 60, random_state=2))
    assert len(tables) == 2


def _counted(monkeypatch, name):
    """A list that grows by one at each call of ``init_module.<name>``."""
    calls = []
    original = getattr(init_module, name)
    monkeypatch.setattr(init_module, name, lambda *a: calls.append(1) or original(*a))
    return calls


def _kept_seedings(monkeypatch):
    """The _Seeding objects k-means++ creates, kept for inspection."""
    return instances_created(monkeypatch, init_module._Seeding)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_batched_seeding_leaves_every_rows_closest_centre_exact(rng, monkeypatch, dtype, weighted):
    # The batch's lists hold every row a chosen centre brings closer, from a
    # float32 screen: a pair it wrongly dropped would leave a row's distance
    # too large here.  Offset far from the origin, so that the product
    # cancels most digits and only the centring keeps the screen tight.
    X, _ = blobs(rng, n=6000, d=16, k=60, spread=8.0, dtype=dtype)
    X += dtype(1000.0)
    _batches_at_any_size(monkeypatch)
    weights = rng.uniform(0.2, 3.0, len(X)) if weighted else np.ones(len(X))
    made = _kept_seedings(monkeypatch)
    calls = _counted(monkeypatch, "_batched_greedy")
    centers, indices = init_module._kmeans_plusplus(X, 80, weights, np.random.default_rng(2))
    assert calls
    np.testing.assert_array_equal(centers, X[indices])
    assert len(np.unique(indices)) == 80
    seeding = made[0]
    exact = ((X[:, None, :].astype(np.float64) - centers[None].astype(np.float64)) ** 2).sum(-1)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(seeding.closest_sq, exact.min(axis=1), rtol=rtol)
    np.testing.assert_allclose(exact[np.arange(len(X)), seeding.closest_id], exact.min(axis=1),
                               rtol=rtol)
    chunks = np.arange(0, len(X), seeding.chunk_rows)
    np.testing.assert_allclose(seeding.chunk_potential,
                               np.add.reduceat(weights * seeding.closest_sq, chunks))


def _greedy_seed_law(X, weights, k, t):
    """Exact probability of each set of seeds under greedy k-means++ with t
    draws a step (the first of equal gains wins), by enumeration."""
    sq = (X[:, None, 0] - X[None, :, 0]) ** 2
    law = {}

    def walk(chosen, closest, probability):
        if len(chosen) == k:
            key = frozenset(chosen)
            law[key] = law.get(key, 0.0) + probability
            return
        mass = weights * closest
        draw = mass / mass.sum()
        gains = (weights * np.maximum(closest[None, :] - sq, 0.0)).sum(axis=1)
        for draws in np.ndindex(*(len(X),) * t):
            p = np.prod(draw[list(draws)])
            if p == 0.0:
                continue
            best = max(draws, key=lambda j: gains[j])  # the first of equal gains
            walk(chosen + [best], np.minimum(closest, sq[best]), probability * p)

    for first in range(len(X)):
        walk([first], sq[first].copy(), weights[first] / weights.sum())
    return law


@pytest.mark.parametrize("steps", ["one by one", "batched"])
def test_greedy_seeds_follow_the_exact_law(monkeypatch, steps):
    # Batches draw their proposals from the potential at the batch's start
    # and accept them by rejection: the seeds must still follow greedy
    # k-means++'s law exactly, the same as the steps one by one.  Six rows,
    # four seeds, two draws a step: every outcome's probability enumerated.
    if steps == "batched":
        _batches_at_any_size(monkeypatch)
    X = np.array([[0.0], [1.0], [3.0], [7.0], [15.0], [31.0]])
    weights = np.array([1.0, 2.0, 1.0, 1.0, 2.0, 1.0])
    law = _greedy_seed_law(X, weights, 4, 2)
    runs = 2000
    counts = {}
    for seed in range(runs):
        _, indices = init_module._kmeans_plusplus(X, 4, weights, np.random.default_rng(seed),
                                                  n_local_trials=2)
        key = frozenset(int(i) for i in indices)
        counts[key] = counts.get(key, 0) + 1
    assert set(counts) <= set(law)
    # Pearson's chi-square over the outcomes, the rare ones pooled.
    expected = np.array([law[key] * runs for key in law])
    observed = np.array([counts.get(key, 0) for key in law])
    rare = expected < 5
    expected = np.append(expected[~rare], expected[rare].sum())
    observed = np.append(observed[~rare], observed[rare].sum())
    statistic = ((observed - expected) ** 2 / expected).sum()
    assert statistic < chi2.ppf(0.999, len(expected) - 1)


@pytest.mark.parametrize("steps", ["one by one", "batched"])
def test_greedy_seeding_with_fewer_distinct_rows_than_seeds(rng, monkeypatch, steps):
    # Once every distinct row is a seed the potential is zero: both forms
    # then repeat the last row, as the draws from zero potential do.
    if steps == "batched":
        _batches_at_any_size(monkeypatch)
    X = np.repeat(rng.normal(size=(30, 8)), 20, axis=0)
    centers, indices = kmeans_plusplus(X, 40, random_state=1)
    assert len(np.unique(centers, axis=0)) == 30
    np.testing.assert_array_equal(centers[30:], np.repeat(X[-1:], 10, axis=0))
    np.testing.assert_array_equal(centers, X[indices])


def test_batched_seeding_beyond_float32_goes_step_by_step(rng, monkeypatch):
    # Squared norms past float32's range void the screen's error bound: the
    # steps then go one by one, and the seeds are as good as at unit scale.
    _batches_at_any_size(monkeypatch)
    X, _ = blobs(rng, n=3000, d=8, k=40, spread=8.0)
    batched = _counted(monkeypatch, "_batched_greedy")
    screened = _counted(monkeypatch, "_proposal_lists")
    one_by_one = _counted(monkeypatch, "_greedy_steps")
    scaled, _ = kmeans_plusplus(X * 1e18, 40, random_state=0)
    assert batched and one_by_one and not screened
    unit, _ = kmeans_plusplus(X, 40, random_state=0)
    assert _inertia(X, scaled / 1e18) < 2.0 * _inertia(X, unit)


def test_small_sets_are_cut_into_several_chunks():
    # Chunks are the parallel unit of the seeding kernels: a set of a few
    # thousand rows (k-means||'s candidates) must not be one chunk, and the
    # size depends on n alone.
    from kmeanskit._kernels.seeding import SEEDING_CHUNK_ROWS, SEEDING_MIN_CHUNKS, chunk_rows

    assert chunk_rows(2000) == 512 and -(-2000 // chunk_rows(2000)) == SEEDING_MIN_CHUNKS
    assert chunk_rows(100) == 256  # one chunk: too few rows to share
    assert chunk_rows(10**6) == SEEDING_CHUNK_ROWS
    for n in (1, 255, 1000, 5000, 8192, 8193, 10**5):
        rows = chunk_rows(n)
        assert rows % 64 == 0 and 256 <= rows <= SEEDING_CHUNK_ROWS
        assert -(-n // rows) >= min(SEEDING_MIN_CHUNKS, -(-n // 256))


def test_batched_seeding_is_deterministic_across_threads(rng, monkeypatch):
    X, _ = blobs(rng, n=40_000, d=16, k=70, spread=20.0)
    calls = _counted(monkeypatch, "_batched_greedy")
    one = kmeans_plusplus(X, 70, random_state=4, n_threads=1)
    two = kmeans_plusplus(X, 70, random_state=4, n_threads=2)
    assert len(calls) == 2
    np.testing.assert_array_equal(one[1], two[1])


@pytest.mark.parametrize("init", ["local-search++", "k-means||"])
def test_local_search_is_deterministic_across_threads(rng, init):
    # On the rows, and on k-means||'s weighted candidates (the default init);
    # 20 clusters run the Python loops, 70 the compiled ones.
    X, _ = blobs(rng, n=6000, d=4, k=20)
    for k in (20, 70):
        one = KMeans(k, init=init, random_state=3, n_threads=1).fit(X)
        two = KMeans(k, init=init, random_state=3, n_threads=2).fit(X)
        np.testing.assert_array_equal(one.cluster_centers_, two.cluster_centers_)


@pytest.mark.parametrize("groups", [False, True])
def test_kmeans_parallel_float32_ranking_is_deterministic_across_threads(rng, monkeypatch,
                                                                         groups):
    # Float32 products, lists of candidates in reach and (given groups) a
    # first round searched by groups: the same seeds on 1 and 2 threads.
    monkeypatch.setattr(init_module, "FLOAT32_RANK_MIN_WORK", 0)
    monkeypatch.setattr(init_module, "GROUPS_MIN_CANDIDATES", 64 if groups else 10**9)
    X, _ = blobs(rng, n=40_000, d=16, k=60, spread=30.0)
    made = []
    of = init_module._Groups.of
    monkeypatch.setattr(init_module._Groups, "of", lambda *a: made.append(1) or of(*a))
    one = kmeans_parallel(X, 60, random_state=5, n_threads=1)
    two = kmeans_parallel(X, 60, random_state=5, n_threads=2)
    np.testing.assert_array_equal(one, two)
    assert bool(made) == groups


def test_local_search_row_distance_dense_and_csr_forms(rng):
    # The two forms the swap kernels compile for, compiled and plain.
    from numba import njit

    from kmeanskit._kernels.local_search import _sq_to

    X = rng.normal(size=(50, 7))
    X[X < 0.3] = 0.0
    csr = sp.csr_matrix(X)
    form = (csr.data, csr.indices, csr.indptr, (X ** 2).sum(axis=1))
    point = rng.normal(size=7)
    point_sq = float(point @ point)
    compiled = njit(lambda X, row, p, p_sq: _sq_to(X, row, p, p_sq))
    expected = ((X - point) ** 2).sum(axis=1)
    for row in range(50):
        for version in (_sq_to, compiled):
            assert version(X, row, point, point_sq) == pytest.approx(expected[row], rel=1e-12)
            assert version(form, row, point, point_sq) == pytest.approx(expected[row],
                                                                       rel=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_local_search_on_sparse_input_makes_the_dense_swaps(rng, dtype):
    # Sparse rows use ||x||^2 + ||p||^2 - 2 x.p over the stored values, dense
    # ones exact differences: on data without near-ties, the same swaps.
    X, _ = blobs(rng, n=4000, d=12, k=25, spread=8.0, dtype=dtype)
    X[X < 2.0] = 0.0  # about half the values
    weights = rng.uniform(0.5, 2.0, len(X))
    greedy, _ = kmeans_plusplus(X, 25, sample_weight=weights, random_state=0)
    dense, dense_idx = kmeans_plusplus(X, 25, sample_weight=weights,
                                       local_search_steps="auto", random_state=0)
    sparse, sparse_idx = kmeans_plusplus(sp.csr_matrix(X), 25, sample_weight=weights,
                                         local_search_steps="auto", random_state=0)
    np.testing.assert_array_equal(sparse_idx, dense_idx)
    np.testing.assert_array_equal(sparse, dense)
    assert _inertia(X.astype(float), dense, weights) < _inertia(X.astype(float), greedy, weights)


@pytest.mark.parametrize("init", ["local-search++", "k-means||"])
def test_local_search_beats_sklearn_on_birch2(data_dir, init):
    # 100 tight clusters along a sine curve: greedy k-means++ often puts two
    # seeds in one cluster and none in another; the swaps repair that, on the
    # rows (local-search++) or on k-means||'s weighted candidates (one run
    # each; with k-means++ reclustering them, as Spark does, fits ended 2 %
    # above scikit-learn's on average).
    X = np.loadtxt(data_dir / "birch2" / "birch2.txt")
    ours = [KMeans(100, init=init, n_init=1, random_state=s).fit(X).inertia_ for s in range(5)]
    theirs = [SklearnKMeans(100, random_state=s).fit(X).inertia_ for s in range(5)]
    assert np.mean(ours) < 0.95 * np.mean(theirs)


def test_kmeans_parallel_auto_rounds_cover_birch2(data_dir):
    # Two rounds leave whole Birch2 clusters without a candidate (potential
    # 2.5-3.6x k-means++'s); "auto" keeps sampling while a round halves it.
    X = np.loadtxt(data_dir / "birch2" / "birch2.txt")
    ratios = [_inertia(X, kmeans_parallel(X, 100, random_state=s))
              / _inertia(X, sklearn_kmeans_plusplus(X, 100, random_state=s)[0])
              for s in range(3)]
    two_rounds = [_inertia(X, kmeans_parallel(X, 100, n_rounds=2, random_state=s))
                  / _inertia(X, sklearn_kmeans_plusplus(X, 100, random_state=s)[0])
                  for s in range(3)]
    assert np.mean(ratios) < 1.3 < np.mean(two_rounds)
