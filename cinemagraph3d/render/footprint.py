"""Crack-free splat footprints: each point's radius covers the gap to its grid neighbours.

A layered depth image is a set of grids, one per layer: the points of one layer that come from
adjacent pixels are samples of one continuous surface unless their depths jump. When a new view
stretches that surface (a slanted ground seen from lower down, the side of a cloud whose depth
varies, a zoom), adjacent points land more than one pixel apart and a footprint of one pixel
leaves a crack between them: rows of half-covered pixels, a dot grid. :func:`camera_footprints`
gives every point a radius at least as large as the distance (in the new view, along the larger
image axis) to each of its *connected* neighbours, so a continuous surface stays continuous; a
neighbour across a depth jump (a relative disparity step above ``max_step`` that does not continue
the steps before or after it along the same line, as the steps of a plane do) or landing farther than
``max_gap`` pixels away is a tear, not a stretch, and is left to the layer behind and the hole
filling.
"""

from __future__ import annotations

import math

import torch

from ..ops import check_shape
from ._native import native_pass

__all__ = ["GridNeighbours", "grid_neighbours", "camera_footprints"]

#: Relative disparity step between two adjacent pixels of a layer above which they are not one
#: surface (a jump of 15 %: larger than a ground plane's step between rows anywhere but within a
#: few pixels of the horizon, where the surface is far and barely stretches).
MAX_STEP = 0.15
#: Farthest a connected neighbour may land (pixels) and still be bridged by a footprint.
MAX_GAP = 4.0


class GridNeighbours:
    """The four grid neighbours of every point and whether each is the same surface (a point of
    any layer at the adjacent pixel whose disparity is within the step).

    Attributes:
        index: ``(4, P)`` int64 point index of the right, left, lower and upper neighbour of
            every point (the point itself where there is none or it is not connected).
        connected: ``(4, P)`` bool, True where ``index`` is a connected neighbour.
        edges: ``(2, E)`` int64 joined pairs (a point and its right or lower neighbour), what
            :func:`camera_footprints` takes.
    """

    def __init__(self, index: torch.Tensor, connected: torch.Tensor) -> None:
        self.index, self.connected = index, connected
        # the joined pairs (point, right or lower neighbour), once: ``(2, E)`` int64
        counts = [int(connected[k].sum()) for k in (0, 2)]
        self.edges = torch.empty(2, sum(counts), dtype=torch.long, device=index.device)
        at = 0
        for k, n in zip((0, 2), counts):  # written in place: no stacked copies and their cat
            src = connected[k].nonzero().squeeze(1)
            self.edges[0, at : at + n] = src
            torch.index_select(index[k], 0, src, out=self.edges[1, at : at + n])
            at += n

    def slanted(self, depth: torch.Tensor, min_step: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor]:
        """The joined pairs whose relative disparity step exceeds ``min_step``, on their own.

        On a fronto-parallel surface (equal depths) a view changes every gap by the depth-scale
        magnification, up to the perspective distortion of a turned camera (under 1 % for the
        built-in paths): only slanted pairs can open gaps beyond the depth-scale radius.

        Args:
            depth: ``(P,)`` source z-depth of the points.
            min_step: relative disparity step below which a pair counts as fronto-parallel.

        Returns:
            ``nodes`` ``(N,)`` int64 (the points of those pairs, sorted) and the pairs ``(2, E')``
            as indices into ``nodes``.
        """
        src, dst = self.edges
        disp = 1.0 / depth.clamp(min=1e-12)
        a, b = disp[src], disp[dst]
        keep = (a - b).abs() > min_step * torch.minimum(a, b)
        e = self.edges[:, keep]
        nodes = torch.unique(e)
        return nodes, torch.searchsorted(nodes, e)


def grid_neighbours(
    pixels: torch.Tensor,
    layer: torch.Tensor,
    depth: torch.Tensor,
    max_step: float = MAX_STEP,
    native: bool | None = None,
) -> GridNeighbours:
    """Grid neighbours of lifted points (see the module docstring).

    Args:
        pixels: ``(P, 2)`` source pixel centres ``(u, v)`` (pixels; any integer grid + 0.5,
            points outside the photo included).
        layer: ``(P,)`` int64 LDI layer of each point: of the points at a neighbouring pixel
            (one per layer) the one nearest in disparity is the neighbour, so a surface that the
            layering cuts where it crosses a threshold (a ground plane) stays one surface.
        depth: ``(P,)`` source z-depth (scene units, > 0).
        max_step: largest relative disparity step between connected neighbours, unless the
            step is within 25 % of the step before or after it on the same line.
        native: ``cinemagraph3d._C.grid_neighbours`` (the same outputs in two passes over the
            points, ≈ 5× faster at 1280×720, ``benchmarks/bench_passes.py``; see :func:`~cinemagraph3d.render._native.native_pass`):
            ``None`` (default) where it applies, ``False`` the torch operations (the reference).

    Returns:
        :class:`GridNeighbours`.

    Example:
        >>> px = torch.tensor([[0.5, 0.5], [1.5, 0.5], [0.5, 1.5]])
        >>> nb = grid_neighbours(px, torch.zeros(3, dtype=torch.long), torch.tensor([1.0, 1.0, 2.0]))
        >>> nb.index[0].tolist(), nb.connected[2].tolist()
        ([1, 1, 2], [False, False, False])
    """
    check_shape(pixels, ("P", 2), "pixels")
    P = pixels.shape[0]
    check_shape(layer, (P,), "layer")
    check_shape(depth, (P,), "depth")
    dev = pixels.device
    if P == 0:
        empty = torch.empty(4, 0, dtype=torch.long, device=dev)
        return GridNeighbours(empty, torch.empty(4, 0, dtype=torch.bool, device=dev))
    fn = native_pass("grid_neighbours", (depth, pixels), native)
    if fn is not None:
        return GridNeighbours(*fn(pixels, layer, depth, float(max_step)))
    own = torch.arange(P, device=dev)
    j = torch.floor(pixels[:, 0]).long()
    i = torch.floor(pixels[:, 1]).long()
    j = j - j.min() + 1
    i = i - i.min() + 1
    Wx = int(j.max()) + 2
    Hx = int(i.max()) + 2
    lay_ids, lay = torch.unique(layer.long(), return_inverse=True)
    L = int(lay_ids.numel())
    # one dense map per layer of the point at each pixel (-1: none); later points win a tie
    slot = (lay * Hx + i) * Wx + j
    grid = torch.full((L * Hx * Wx,), -1, dtype=torch.long, device=dev)
    grid[slot] = own
    base = i * Wx + j  # the pixel's slot in layer 0
    del slot, lay, i, j  # transients go once used: this is the setup's largest allocation
    index = own.expand(4, P).clone()
    found = torch.zeros(4, P, dtype=torch.bool, device=dev)
    disp = 1.0 / depth.clamp(min=1e-12)
    for k, off in enumerate((1, -1, Wx, -Wx)):
        best = torch.full((P,), math.inf, dtype=disp.dtype, device=dev)
        for q in range(L):  # the neighbour pixel's point in every layer: the nearest in depth
            nb = grid[base + off + q * (Hx * Wx)]
            hit = nb >= 0
            nb = torch.where(hit, nb, own)
            step = torch.where(hit, (disp[nb] - disp).abs(), math.inf)
            better = step < best
            best = torch.where(better, step, best)
            index[k] = torch.where(better, nb, index[k])
        found[k] = torch.isfinite(best)
    del grid, base, best, nb, hit, step, better
    # Joined: a small relative step, or a step that continues the step before or after it along
    # the same line (on a plane disparity is affine in the pixel coordinates: a slanted ground
    # near the horizon has large relative steps, all alike; an occlusion edge is one step unlike
    # its neighbours').
    connected = torch.zeros(4, P, dtype=torch.bool, device=dev)
    for k in range(4):
        nb, back = index[k], index[k ^ 1]
        d1 = disp[nb] - disp
        rel = d1.abs() / torch.minimum(disp[nb], disp).clamp(min=1e-12)
        d0 = torch.where(found[k ^ 1], disp - disp[back], math.inf)
        d2 = torch.where(found[k][nb], disp[index[k][nb]] - disp[nb], math.inf)
        alike = ((d1 - d0).abs() <= 0.25 * d1.abs()) | ((d1 - d2).abs() <= 0.25 * d1.abs())
        connected[k] = found[k] & ((rel <= max_step) | alike)
    del d1, rel, d0, d2, alike
    for k in range(4):  # row by row: no second (4, P) index alive at once
        index[k] = torch.where(connected[k], index[k], own)
    return GridNeighbours(index, connected)


def camera_footprints(
    points: torch.Tensor,
    K: torch.Tensor,
    pairs: torch.Tensor,
    base: torch.Tensor,
    znear: float = 1e-3,
    max_gap: float = MAX_GAP,
) -> torch.Tensor:
    """Footprint radii that close the gaps between connected neighbours in a view.

    With ``(u_p, v_p)`` the projection of point ``p`` (``u = fx x / z + cx``, ``v = fy y / z +
    cy``), the gap to a connected neighbour ``n`` (its right and lower ones, and those whose right
    or lower neighbour it is) is ``g = max(|u_n − u_p|, |v_n − v_p|)`` pixels; the radius is
    ``max(base_p, max_n g)`` over the neighbours with ``g <= max_gap`` (a point behind
    ``znear`` never bridges). Two tent footprints of radius ``r >= g`` sum to at
    least 1 everywhere on the segment between their centres, so no pixel between them is left
    under-covered. Where nothing is stretched (``g <= base``) the radius is ``base`` bit for bit.

    Args:
        points: ``(P, 3)`` camera-frame positions of the view, scene units.
        K: ``(3, 3)`` intrinsics of the view, pixels.
        pairs: ``(2, E)`` int64 joined neighbour pairs of the same points
            (:attr:`GridNeighbours.edges`, or a subset such as :meth:`GridNeighbours.slanted`'s).
        base: ``(P,)`` radius without stretch (pixels), e.g. the depth-scale radius.
        znear: points at ``z <= znear`` are ignored.
        max_gap: largest gap (pixels) that is bridged.

    Returns:
        ``(P,)`` radii in pixels, same dtype as ``base``.
    """
    P = points.shape[0]
    check_shape(points, (P, 3), "points")
    check_shape(base, (P,), "base")
    if P == 0 or pairs.shape[1] == 0:
        return base
    # Points behind znear project far away and so never bridge (their gaps exceed max_gap).
    iz = 1.0 / points[:, 2].clamp(min=znear)
    u = points[:, 0] * iz
    v = points[:, 1] * iz
    src, dst = pairs[0], pairs[1]
    g = torch.maximum(
        (torch.index_select(u, 0, dst) - torch.index_select(u, 0, src)).abs() * K[0, 0],
        (torch.index_select(v, 0, dst) - torch.index_select(v, 0, src)).abs() * K[1, 1],
    )
    g = torch.where(g <= max_gap, g, torch.zeros_like(g)).to(base.dtype)
    gap = torch.zeros_like(base)
    gap.scatter_reduce_(0, src, g, "amax")
    gap.scatter_reduce_(0, dst, g, "amax")
    return torch.where(gap > base * (1.0 + 1e-4), gap, base)
