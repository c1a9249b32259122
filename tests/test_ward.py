"""The one-dimensional Ward clustering of the layers against scipy's general algorithm."""

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage

from cinemagraph3d.errors import InputError
from cinemagraph3d.ldi.ward import ward_1d


def _scipy(x: np.ndarray, t: float, k: int) -> np.ndarray:
    Z = linkage(x[:, None], method="ward")
    lab = fcluster(Z, t=t, criterion="distance")
    return fcluster(Z, t=k, criterion="maxclust") if lab.max() > k else lab


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Labels equal up to renaming."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("kind", ["uniform", "blobs", "exponential"])
def test_same_partition_as_scipy(kind):
    rng = np.random.default_rng({"uniform": 0, "blobs": 1, "exponential": 2}[kind])
    for _ in range(60):  # continuous values: no two merges cost the same
        n = int(rng.integers(2, 300))
        if kind == "uniform":
            x = rng.random(n)
        elif kind == "exponential":
            x = rng.exponential(1.0, n)
        else:
            centres = rng.random(int(rng.integers(1, 6)))
            x = np.concatenate([rng.normal(c, 0.03, int(rng.integers(1, 60))) for c in centres])
        t = float(rng.uniform(0.05, 0.5)) * np.sqrt(len(x))
        k = int(rng.integers(1, 6))
        mine = ward_1d(x, t, k)
        assert _same_partition(mine, _scipy(x, t, k))
        assert mine.max() + 1 <= k
        # numbered in increasing order of value, and every cluster is an interval
        order = np.argsort(x, kind="stable")
        assert (np.diff(mine[order]) >= 0).all() and mine.min() == 0


def test_equal_values_and_ties():
    # repeated values merge first; of two equal gaps the left one merges first
    x = np.array([0.0, 1.0, 2.0, 2.0, 10.0, 10.0, 10.0])
    assert ward_1d(x, 0.5, 7).tolist() == [0, 1, 2, 2, 3, 3, 3]
    assert ward_1d(x, 1e9, 1).tolist() == [0] * 7
    # 0 | 1 costs 1, 1 | {2, 2} sqrt(4/3): 0 and 1 merge first
    assert ward_1d(x, 1.05, 7).tolist() == [0, 0, 1, 1, 2, 2, 2]
    # 0 | 1 and 1 | 2 both cost 1: the left pair merges, then {0, 1} | 2 costs sqrt(4/3) · 1.5
    assert ward_1d(np.array([2.0, 1.0, 0.0]), 1.0, 3).tolist() == [1, 0, 0]
    assert ward_1d(np.array([3.0, 3.0]), 0.0, 1).tolist() == [0, 0]
    assert ward_1d(np.array([5.0]), 1.0, 1).tolist() == [0]


def test_max_clusters_bounds_the_count():
    x = np.linspace(0.0, 1.0, 50) ** 2
    for k in range(1, 8):
        assert ward_1d(x, 0.0, k).max() + 1 == k


def test_refuses_bad_input():
    with pytest.raises(InputError, match="values"):
        ward_1d(np.array([]), 1.0, 2)
    with pytest.raises(InputError, match="values"):
        ward_1d(np.array([0.0, np.nan]), 1.0, 2)
    with pytest.raises(InputError, match="max_clusters"):
        ward_1d(np.array([0.0, 1.0]), 1.0, 0)
