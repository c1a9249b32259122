"""Ward's hierarchical clustering of one-dimensional samples, cut into flat clusters.

In one dimension Ward's method only ever merges neighbouring clusters: its clusters are intervals
of the sorted values, and the Ward distance of two clusters ``A``, ``B`` (counts ``nA``, ``nB``,
means ``mA``, ``mB``) is ``sqrt(2·nA·nB / (nA + nB)) · |mA − mB|``, the distance
:func:`scipy.cluster.hierarchy.linkage` reports for ``method="ward"``. So the whole hierarchy is a
sequence of merges of adjacent intervals, cheapest first, kept in a heap: ``O(n log n)`` for
``n`` samples instead of the general algorithm's ``O(n²)``, and no ``scipy.cluster`` import
(≈ 0.4 s of the command line's set-up together). Where two merges cost exactly the same, the one
further left (smaller values) is made first; scipy breaks such ties by its own order, so on data
with equal gaps the two may cut differently, both equally valid Ward hierarchies
(``tests/test_ward.py`` compares them on data without ties).
"""

from __future__ import annotations

import heapq

import numpy as np

from ..errors import InputError

__all__ = ["ward_1d"]


def ward_1d(values: np.ndarray, distance: float, max_clusters: int) -> np.ndarray:
    """Flat Ward clusters of ``values``: the merges up to height ``distance`` (scipy's
    ``fcluster(..., criterion="distance")``), or, when they leave more than ``max_clusters``
    clusters, the lowest merge height that leaves at most that many (``criterion="maxclust"``).

    Args:
        values: ``(n,)`` finite samples (any units), ``n >= 1``.
        distance: cut height, in the units of the Ward distance (``sqrt(count) ·`` the values').
        max_clusters: at most this many clusters (>= 1).

    Returns:
        ``(n,)`` int64 labels ``0 … k − 1``, numbered in increasing order of value.
    """
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size == 0 or not np.isfinite(x).all():
        raise InputError("values", "a non-empty array of finite samples", f"{x.size} values")
    if max_clusters < 1:
        raise InputError("max_clusters", "an integer >= 1", max_clusters)
    # Equal values merge first, at height 0, in any order: start from the distinct values.
    uniq, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    m = uniq.size
    n = counts.astype(np.float64)
    s = uniq * n  # sums, so that a merged interval's mean is its sum over its count
    left = np.arange(-1, m - 1)  # neighbouring intervals of each live interval (-1: none)
    right = np.arange(1, m + 1)
    right[-1] = -1
    version = np.zeros(m, dtype=np.int64)  # bumped when an interval changes: stale heap entries

    def cost(a: int, b: int) -> float:
        na, nb = n[a], n[b]
        return float(np.sqrt(2.0 * na * nb / (na + nb)) * abs(s[b] / nb - s[a] / na))

    heap = [(cost(i, i + 1), i, 0, 0) for i in range(m - 1)]  # (height, left interval, versions)
    heapq.heapify(heap)
    merges = []  # (height, left interval, right interval), in the order made
    while heap:
        h, a, va, vb = heapq.heappop(heap)
        b = right[a]
        if b < 0 or version[a] != va or version[b] != vb:
            continue
        merges.append((h, a, b))
        n[a] += n[b]  # interval a takes b in
        s[a] += s[b]
        version[a] += 1
        version[b] = -1
        right[a] = right[b]
        if right[b] >= 0:
            left[right[b]] = a
        for p, q in ((left[a], a), (a, right[a])):
            if p >= 0 and q >= 0:
                heapq.heappush(heap, (cost(p, q), int(p), int(version[p]), int(version[q])))
    heights = np.array([h for h, _, _ in merges], dtype=np.float64)
    # every merge at most `distance` high (the merges of equal values, at 0, always), unless that
    # leaves more than max_clusters clusters: then the lowest cut that leaves at most that many
    cut = float(distance)
    if m - int((heights <= cut).sum()) > max_clusters:
        cut = float(np.sort(heights)[m - max_clusters - 1])
    # an interval is named by its first distinct value and takes in the one on its right, so a
    # merged value's parent is on its left: its cluster's first value is found in one sweep
    parent = np.arange(m)
    for h, a, b in merges:
        if h <= cut:
            parent[b] = a
    root = parent.copy()
    for i in range(m):
        root[i] = root[parent[i]]
    label_of_distinct = np.cumsum(np.r_[True, root[1:] != root[:-1]]) - 1
    return label_of_distinct[inverse].astype(np.int64)
