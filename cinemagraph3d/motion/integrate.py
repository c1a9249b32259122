"""Euler integration of an Eulerian motion field into forward and backward displacements.

Forward states (``M`` the field in px/step, ``x`` a source pixel centre):

    F_0(x) = 0,    F_n(x) = F_{n-1}(x) + M(x + F_{n-1}(x))        n = 1..N

Backward states use ``-M``: ``B_0 = 0``, ``B_n(x) = B_{n-1}(x) - M(x + B_{n-1}(x))``.

With turbulence (``field.turbulence``, see :mod:`cinemagraph3d.motion.turbulence`) the field is
``M(x) + T(x, t)``, loop-periodic in ``t``; forward step ``n`` reads it at ``t = n - 1`` and
backward step ``n`` at ``t = N - n + 1`` (the time of the state it starts from).

``M`` is sampled bilinearly between pixel centres and replicated up to the image border. Beyond
the image rectangle ``[0, W] x [0, H]`` it is 0 with ``outside="stop"`` (the rule before issue
13): a point that leaves the image stops just beyond the border. Every point that flows out over the loop then
piles up there, within a splat footprint of the last pixel column, and the renderer draws that
pile as a line of unrelated colour along the border (the border seam of issue 13: worst 2.2–2.5
against the target 1.5 on the study photo). With ``outside="continue"`` (default) the field keeps the
values of the nearest border pixel beyond the image, so a point that leaves goes on at the
border's velocity and out of view, as the fluid does (border seam 1.2–1.4). A pixel with
``M(x) = 0`` never moves, so states are kept only for the moving pixels.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from ..errors import InputError
from ..types import MotionField, SceneFlow

__all__ = ["Displacements", "PointDisplacements", "integrate_motion"]


def _native_step(flow: torch.Tensor):
    """``cinemagraph3d._C.flow_step`` for this field where it applies, else ``None``."""
    from ..render._native import native_pass

    return native_pass("flow_step", (flow,), None)


class _Stepper:
    """Euler steps of the moving pixels through a ``(2, H, W)`` field.

    The field is sampled with ``grid_sample`` (bilinear, border replicated); with
    ``outside="stop"`` it is then set to 0 for positions outside ``[0, W] x [0, H]``. The first
    step reads ``M`` at the pixel centres directly, so ``F_1 = M(x)`` exactly. Where the native
    extension has it (CPU float tensors, the native CPU backend), ``cinemagraph3d._C.flow_step``
    takes each step in one pass over the points on every thread: the same rule, the sample
    positions computed without the reference's round trip through normalised coordinates (so
    within ~1e-7 of a position of the reference, ``tests/test_flow_native.py``).
    """

    def __init__(
        self,
        flow: torch.Tensor,
        index: torch.Tensor,
        turbulence=None,
        num_steps: int = 1,
        outside: str = "stop",
    ) -> None:
        self.height, self.width = int(flow.shape[1]), int(flow.shape[2])
        self.extended = outside == "continue"
        h, w = self.height, self.width
        self.turbulence, self.num_steps = turbulence, int(num_steps)
        self.flow = flow[None]
        if turbulence is not None:  # sample M and the turbulence amplitude A together
            amp = turbulence.amplitude.to(device=flow.device, dtype=flow.dtype) * turbulence.gain(num_steps)
            self.flow = torch.cat([flow, amp[None]], 0)[None]
        self.index = index
        opts = {"dtype": flow.dtype, "device": flow.device}
        self.positions = torch.stack(
            [(index % w).to(**opts) + 0.5, torch.div(index, w, rounding_mode="floor").to(**opts) + 0.5], dim=1
        )
        # The turbulence's wave grid at each time, computed once: the block recomputation of kept
        # states and the border ghosts step through the same times again (as many grids as fit
        # in WAVE_GRID_CACHE_BYTES; the rest are computed at each use, the same values).
        self._grids: dict[float, torch.Tensor] = {}
        self.first = flow.reshape(2, -1)[:, index].T.contiguous()
        if turbulence is not None:
            a0 = self.flow[0, 2].reshape(-1)[index][:, None]
            self.first = self.first + a0 * turbulence.sample(self.wave_grid(0.0), self.positions)
        # grid_sample coordinates (align_corners=False): g = 2 x / size - 1.
        self.scale = torch.tensor([2.0 / w, 2.0 / h], **opts)
        self.minus_one = torch.tensor(-1.0, **opts)
        self.native = _native_step(self.flow) is not None  # a flag: the stepper stays picklable

    def _native_takes(self, *tensors) -> bool:
        """Whether ``_C.flow_step`` takes these tensors (``None`` for an absent one): the native
        pass is available, the field is still on the CPU (the flag was set there: a stepper moved
        to a GPU by :func:`~cinemagraph3d.devices.to_device` keeps it), and each tensor is a
        contiguous CPU tensor of the field's dtype."""
        return (
            self.native
            and self.flow.device.type == "cpu"
            and all(
                x is None or (x.device.type == "cpu" and x.dtype == self.flow.dtype and x.is_contiguous())
                for x in tensors
            )
        )

    def _native(self, pos: torch.Tensor, state, sign: float, extended: bool, t: float, out=None):
        """``cinemagraph3d._C.flow_step``: ``state + sign * v(pos + state)`` (``v(pos)`` without
        ``state``), ``(P, 2)``, written into ``out`` when given."""
        wave, cell = None, 1.0
        if self.turbulence is not None:
            wave = self.wave_grid(t)[0].to(pos.dtype).contiguous()
            cell = float(self.turbulence.cell)
        from .. import _C  # type: ignore[attr-defined]

        return _C.flow_step(
            self.flow[0], pos.contiguous(), state, float(sign), bool(extended), wave, cell, out
        )

    def wave_grid(self, t: float) -> torch.Tensor:
        """``(1, 2, h, w)`` the turbulence's wave grid at scene time ``t``
        (:meth:`~cinemagraph3d.motion.turbulence.Turbulence.grid`), cached per time."""
        g = self._grids.get(t)
        if g is None:
            g = self.turbulence.grid(t, self.num_steps)
            if (len(self._grids) + 1) * g.nbytes <= WAVE_GRID_CACHE_BYTES:  # all grids alike
                self._grids[t] = g
        return g

    def sample(self, pos: torch.Tensor, t: float = 0.0, extended: bool = False) -> torch.Tensor:
        """``(P, 2)`` field values at ``pos`` ``(P, 2)`` pixel positions (centres at +0.5) at scene
        time ``t`` (only the turbulence depends on it). Outside the image the field is 0, or the
        replicated border values when ``extended``."""
        if self._native_takes(pos.contiguous()):
            return self._native(pos, None, 1.0, extended, t)
        grid = torch.addcmul(self.minus_one, pos, self.scale)
        v = F.grid_sample(
            self.flow, grid.view(1, 1, -1, 2), mode="bilinear", padding_mode="border", align_corners=False
        )[0, :, 0]
        if not extended:
            inside = (grid[:, 0].abs() <= 1.0) & (grid[:, 1].abs() <= 1.0)
            v = v * inside
        v = v.T
        if self.turbulence is None:
            return v
        tb = self.turbulence
        return v[:, :2] + v[:, 2:] * tb.sample(self.wave_grid(t), pos)

    def step(self, state: torch.Tensor, n: int, sign: float, out: torch.Tensor | None = None) -> torch.Tensor:
        """State ``n + 1`` from state ``n``: ``S + sign * M(x + S, t)`` with ``t = n`` forward and
        ``t = N - n`` backward (the time of state ``n``; only the turbulence depends on it)."""
        t = float(n) if sign > 0 else float(self.num_steps - n)
        if n > 0 and self._native_takes(state, out):
            return self._native(self.positions, state, sign, self.extended, t, out)
        v = self.first if n == 0 else self.sample(self.positions + state, t, self.extended)
        if sign > 0:
            return torch.add(state, v, out=out)
        return torch.sub(state, v, out=out)


class _KeptStates:
    """Every ``store_every``-th state of both directions, the ones between recomputed in blocks.

    Subclasses set ``_states`` (forward, backward kept states), ``store_every``, ``num_steps``,
    ``_blocks = [None, None]`` and define ``_step(state, m, sign, out)`` (state ``m + 1`` from
    state ``m``)."""

    def _state(self, direction: int, n: int) -> torch.Tensor:
        """``(P, 2)`` state number ``n`` (0..N) of ``direction`` (0 forward, 1 backward).

        A state between two kept ones is read from the *block* of the states after the kept state
        ``base = k·⌊n / k⌋`` (``base + 1 … base + k − 1``, at most ``N``), which is recomputed
        whole, with the same Euler steps, when ``n`` falls outside the block held for that
        direction. Frames in time order read the forward states ascending and the backward ones
        descending: each block is then computed once per video in either direction (``N`` steps
        per direction in all), where stepping on from the nearest kept state each time cost up
        to ``k − 1`` steps per query going backwards. A block is a fresh tensor each time, so a
        state handed out earlier keeps its values."""
        k = self.store_every
        base = (n // k) * k
        kept = self._states[direction]
        if n == base:
            return kept[n // k]
        block = self._blocks[direction]
        if block is None or block[0] != base:
            last = min(base + k - 1, self.num_steps)
            buf = kept.new_empty((last - base,) + tuple(kept.shape[1:]))
            sign = 1.0 if direction == 0 else -1.0
            state = kept[n // k]
            for m in range(base, last):
                state = self._step(state, m, sign, buf[m - base])
            block = self._blocks[direction] = (base, buf)
        return block[1][n - base - 1]

    def _at(self, direction: int, u: float) -> torch.Tensor:
        """``(P, 2)`` displacement after ``u`` (fractional) steps of ``direction``."""
        n = min(int(math.floor(u)), self.num_steps)
        s = u - n
        state = self._state(direction, n)
        if s == 0.0:
            return state
        return torch.lerp(state, self._state(direction, n + 1), s)


class Displacements(_KeptStates, SceneFlow):
    """Forward and backward Euler displacements of every source pixel over one motion loop.

    Built by :func:`integrate_motion`. Only the ``P_m`` moving pixels (``M != 0``) are stored;
    the others have zero displacement at every time. With ``store_every = k`` the states
    ``n = 0, k, 2k, ...`` are kept (``ceil((N + 1) / k)`` states of ``(P_m, 2)`` per direction)
    and the ``k - 1`` states after a kept one are recomputed together, with the same Euler
    steps, when one of them is first needed (one such block held per direction; see
    :meth:`_state`).

    Attributes:
        num_steps: loop length ``N`` in motion steps.
        height, width: image size in pixels.
        index: ``(P_m,)`` int64 flat indices ``i * W + j`` of the moving pixels.
        store_every: ``k``, the spacing of the kept states.
    """

    def __init__(
        self,
        stepper: _Stepper,
        forward_states: torch.Tensor,
        backward_states: torch.Tensor,
        num_steps: int,
        store_every: int,
    ) -> None:
        self._stepper = stepper
        self.height, self.width = stepper.height, stepper.width
        self.index = stepper.index
        self._states = (forward_states, backward_states)
        self.num_steps = int(num_steps)
        self.store_every = int(store_every)
        self._blocks: list[tuple[int, torch.Tensor] | None] = [None, None]  # (base, states)
        self._inverse: torch.Tensor | None = None

    # ------------------------------------------------------------------ properties
    @property
    def num_moving(self) -> int:
        """Number ``P_m`` of moving pixels."""
        return int(self.index.shape[0])

    @property
    def forward_states(self) -> torch.Tensor:
        """``(S, P_m, 2)`` kept forward states ``F_0, F_k, F_2k, ...`` in pixels."""
        return self._states[0]

    @property
    def backward_states(self) -> torch.Tensor:
        """``(S, P_m, 2)`` kept backward states ``B_0, B_k, B_2k, ...`` in pixels."""
        return self._states[1]

    @property
    def nbytes(self) -> int:
        """Bytes held by the kept states and the moving-pixel index."""
        return sum(s.numel() * s.element_size() for s in self._states) + self.index.numel() * 8

    @property
    def device(self) -> torch.device:
        return self.index.device

    # ------------------------------------------------------------------ states
    def _step(self, state: torch.Tensor, m: int, sign: float, out: torch.Tensor) -> torch.Tensor:
        return self._stepper.step(state, m, sign, out=out)

    def _check_t(self, t) -> float:
        if isinstance(t, torch.Tensor):
            if t.numel() != 1:
                raise InputError("t", "a scalar scene time", f"tensor of shape {tuple(t.shape)}")
            t = t.item()
        if isinstance(t, bool) or not isinstance(t, numbers.Real):
            raise InputError("t", "a number", type(t).__name__)
        t = float(t)
        if not (math.isfinite(t) and 0.0 <= t <= self.num_steps):
            raise InputError("t", f"a scene time in [0, {self.num_steps}] motion steps", t)
        return t

    def _full(self, moving: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(2, self.height * self.width, dtype=moving.dtype, device=moving.device)
        out[:, self.index] = moving.T
        return out.view(2, self.height, self.width)

    # ------------------------------------------------------------------ public
    def extend(self, sources: torch.Tensor, store_every: int = 1) -> PointDisplacements:
        """Integrate extra source positions through the same field (and turbulence), with the
        field extended beyond the image by replicating its border values (so sources outside the
        image follow the velocity of the nearest border pixel; inside it they move as the image's
        pixels do). States ``0, k, 2k, … ≤ N`` of both directions are kept
        (``k = store_every``; all ``N + 1`` by default: ``2 (N + 1) P 2`` numbers); the others
        are recomputed in blocks, with the same steps, when they are read.

        Args:
            sources: ``(P, 2)`` positions ``(x, y)`` in pixels (anywhere).
            store_every: ``k >= 1``, the spacing of the kept states.

        Returns:
            :class:`PointDisplacements`.
        """
        if not isinstance(sources, torch.Tensor) or sources.dim() != 2 or sources.shape[1] != 2:
            raise InputError("sources", "a (P, 2) tensor of positions", getattr(sources, "shape", None))
        if isinstance(store_every, bool) or not isinstance(store_every, int) or store_every < 1:
            raise InputError("store_every", "an integer >= 1", store_every)
        st = self._stepper
        pos0 = sources.to(device=st.flow.device, dtype=st.flow.dtype)
        N, k = self.num_steps, store_every
        states = torch.zeros(2, N // k + 1, pos0.shape[0], 2, dtype=pos0.dtype, device=pos0.device)
        for direction, sign in ((0, 1.0), (1, -1.0)):
            state = states[direction, 0]
            for n in range(N // k * k):
                state = _point_step(
                    st, pos0, state, n, sign, states[direction, (n + 1) // k] if (n + 1) % k == 0 else None
                )
        return PointDisplacements(pos0, states[0], states[1], N, store_every=k, field=st)

    def forward(self, t: float) -> torch.Tensor:
        """Displacement from scene time 0 to ``t``: ``F(0 -> t)``.

        For ``t = n + s`` (integer ``n``, ``0 <= s < 1``) this is ``F_n + s (F_{n+1} - F_n)``
        ``= F_n(x) + s M(x + F_n(x))``: exactly the continuous piecewise-linear path of the Euler
        scheme (each step moves along a straight segment at constant velocity), not an
        approximation of it.

        Args:
            t: scene time in motion steps, ``0 <= t <= N`` (may be fractional).

        Returns:
            ``(2, H, W)`` displacement ``(dx, dy)`` in pixels of each source pixel.
        """
        return self._full(self._at(0, self._check_t(t)))

    def backward(self, t: float) -> torch.Tensor:
        """Displacement from scene time 0 to ``t - N``: ``B_{N - t}`` (``N - t`` steps of ``-M``).

        Fractional ``N - t`` is handled as in :meth:`forward` (the Euler path of ``-M``).

        Args:
            t: scene time in motion steps, ``0 <= t <= N``.

        Returns:
            ``(2, H, W)`` displacement in pixels; ``backward(N)`` is 0 and ``backward(0)`` is
            ``B_N``.
        """
        t = self._check_t(t)
        return self._full(self._at(1, self.num_steps - t))

    def moving_at(self, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward and backward displacement of the moving pixels only.

        Args:
            t: scene time in motion steps, ``0 <= t <= N``.

        Returns:
            ``fwd`` and ``bwd``, each ``(P_m, 2)`` pixels, row ``r`` for the pixel ``index[r]``
            (the values :meth:`forward` and :meth:`backward` hold at those pixels).
        """
        t = self._check_t(t)
        return self._at(0, t), self._at(1, self.num_steps - t)

    def _inverse_map(self) -> torch.Tensor:
        if self._inverse is None:
            inv = torch.full((self.height * self.width,), -1, dtype=torch.int64, device=self.device)
            inv[self.index] = torch.arange(self.num_moving, device=self.device)
            self._inverse = inv
        return self._inverse

    def sample_at(
        self, t: float, uv: torch.Tensor, mode: str = "nearest"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward and backward displacement of given source positions, without full maps.

        Args:
            t: scene time in motion steps, ``0 <= t <= N``.
            uv: ``(P, 2)`` source positions ``(x, y)`` in pixels inside ``[0, W] x [0, H]``.
            mode: ``"nearest"`` (default) takes the displacement of the pixel containing each
                position (exact for points made at pixel centres, as LDI points are);
                ``"bilinear"`` interpolates the displacements of the four nearest pixel centres
                (border replicated).

        Returns:
            ``fwd`` ``(P, 2)`` = ``F(0 -> t)`` and ``bwd`` ``(P, 2)`` = ``F(0 -> t - N)`` in
            pixels, in the dtype of the states.
        """
        t = self._check_t(t)
        if mode not in ("nearest", "bilinear"):
            raise InputError("mode", "'nearest' or 'bilinear'", repr(mode))
        if not isinstance(uv, torch.Tensor) or uv.dim() != 2 or uv.shape[1] != 2:
            raise InputError(
                "uv", "a (P, 2) tensor of pixel positions", getattr(uv, "shape", type(uv).__name__)
            )
        uv = uv.to(device=self.device)
        h, w = self.height, self.width
        x, y = uv[:, 0], uv[:, 1]
        if not bool((torch.isfinite(uv).all()) and ((x >= 0) & (x <= w) & (y >= 0) & (y <= h)).all()):
            raise InputError("uv", f"finite positions inside the {w}x{h} image", "a position outside")
        fwd_m = self._at(0, t)
        bwd_m = self._at(1, self.num_steps - t)
        both = torch.cat([fwd_m, bwd_m], dim=1)  # (P_m, 4)
        both = torch.cat([both, torch.zeros(1, 4, dtype=both.dtype, device=both.device)])  # row -1: 0
        inv = self._inverse_map()
        if mode == "nearest":
            j = torch.floor(x).long().clamp(0, w - 1)
            i = torch.floor(y).long().clamp(0, h - 1)
            out = both[inv[i * w + j]]
        else:
            qx, qy = x.double() - 0.5, y.double() - 0.5
            x0f, y0f = torch.floor(qx), torch.floor(qy)
            fx, fy = (qx - x0f).to(both.dtype)[:, None], (qy - y0f).to(both.dtype)[:, None]
            x0 = x0f.long().clamp(0, w - 1)
            x1 = (x0f + 1).long().clamp(0, w - 1)
            y0 = y0f.long().clamp(0, h - 1) * w
            y1 = (y0f + 1).long().clamp(0, h - 1) * w
            out = (
                both[inv[y0 + x0]] * ((1 - fx) * (1 - fy))
                + both[inv[y0 + x1]] * (fx * (1 - fy))
                + both[inv[y1 + x0]] * ((1 - fx) * fy)
                + both[inv[y1 + x1]] * (fx * fy)
            )
        return out[:, :2].contiguous(), out[:, 2:].contiguous()


def _point_step(
    stepper: _Stepper,
    sources: torch.Tensor,
    state: torch.Tensor,
    n: int,
    sign: float,
    out: torch.Tensor | None,
) -> torch.Tensor:
    """State ``n + 1`` of extra sources (:meth:`Displacements.extend`): ``S + sign · M(x + S, t)``
    with the field extended beyond the image, ``t = n`` forward and ``N - n`` backward."""
    t = float(n) if sign > 0 else float(stepper.num_steps - n)
    if stepper._native_takes(sources.contiguous(), state, out):
        return stepper._native(sources, state, sign, True, t, out)
    v = stepper.sample(sources + state, t, extended=True)
    return torch.add(state, sign * v, out=out)


class PointDisplacements(_KeptStates):
    """Forward and backward displacements of extra source positions (e.g. outside the image).

    Built by :meth:`Displacements.extend` (or by a motion's own ``extend``, e.g. the evaluation's
    exact motion). The field is extended beyond the image by replicating its border values, so a
    source outside the image moves with the velocity at the nearest border pixel and enters the
    image where the fluid flows inwards. With ``store_every = k > 1`` only the states
    ``0, k, 2k, …`` are held and the others are recomputed through ``field`` (the
    :class:`Displacements`' stepper) in blocks, as :class:`Displacements` does.

    Attributes:
        num_steps: loop length ``N``.
        sources: ``(P, 2)`` source positions, pixels.
        store_every: ``k``, the spacing of the kept states.
    """

    def __init__(self, sources: torch.Tensor, forward_states: torch.Tensor, backward_states: torch.Tensor,
                 num_steps: int, store_every: int = 1, field: _Stepper | None = None) -> None:  # fmt: skip
        self.sources, self.num_steps = sources, int(num_steps)
        self._states = (forward_states, backward_states)
        self.store_every, self._field = int(store_every), field
        if self.store_every > 1 and field is None:
            raise InputError("field", "the stepper that recomputes the states between kept ones", None)
        self._blocks: list[tuple[int, torch.Tensor] | None] = [None, None]

    def _step(self, state: torch.Tensor, m: int, sign: float, out: torch.Tensor) -> torch.Tensor:
        return _point_step(self._field, self.sources, state, m, sign, out)

    @property
    def forward_states(self) -> torch.Tensor:
        """``(⌊N / k⌋ + 1, P, 2)`` kept forward states ``F_0, F_k, …`` (all ``N + 1`` when
        ``k = 1``), pixels."""
        return self._states[0]

    @property
    def backward_states(self) -> torch.Tensor:
        """``(⌊N / k⌋ + 1, P, 2)`` kept backward states ``B_0, B_k, …``, pixels."""
        return self._states[1]

    @property
    def nbytes(self) -> int:
        """Bytes held by the kept states and the sources."""
        return sum(t.numel() * t.element_size() for t in (*self._states, self.sources))

    def subset(self, keep: torch.Tensor) -> PointDisplacements:
        """The sources selected by the ``(P,)`` bool mask ``keep``."""
        k = keep.to(self.sources.device)
        return PointDisplacements(self.sources[k], self._states[0][:, k], self._states[1][:, k], self.num_steps,
                                  self.store_every, self._field)  # fmt: skip

    def thinned(self, store_every: int) -> PointDisplacements:
        """The same displacements holding only every ``store_every``-th state (a multiple of this
        one's spacing; the others recomputed when read, the same values). Without a field to
        recompute them (a motion's own ``extend``), ``self``."""
        if self._field is None or store_every == self.store_every:
            return self
        if store_every % self.store_every:
            raise InputError("store_every", f"a multiple of {self.store_every}", store_every)
        r = store_every // self.store_every
        f, b = (st[::r].clone() for st in self._states)
        return PointDisplacements(self.sources, f, b, self.num_steps, store_every, self._field)

    @staticmethod
    def cat(parts: list[PointDisplacements]) -> PointDisplacements:
        """The sources of ``parts`` (same ``N``, spacing and field) one after another."""
        first = parts[0]
        if len(parts) == 1:
            return first
        for p in parts[1:]:
            if (p.num_steps, p.store_every, p._field) != (first.num_steps, first.store_every, first._field):
                raise InputError("parts", "displacements of one motion with one spacing", "mixed ones")
        f, b = (torch.cat([p._states[d] for p in parts], 1) for d in (0, 1))
        return PointDisplacements(torch.cat([p.sources for p in parts]), f, b, first.num_steps,
                                  first.store_every, first._field)  # fmt: skip

    def at(self, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(P, 2)`` forward ``F(0 -> t)`` and backward ``F(0 -> t - N)`` displacements, pixels."""
        t = float(t)
        if not (math.isfinite(t) and 0.0 <= t <= self.num_steps):
            raise InputError("t", f"a scene time in [0, {self.num_steps}] motion steps", t)
        return self._at(0, t), self._at(1, self.num_steps - t)


#: Bytes the states of :func:`integrate_motion` may take before it keeps only every ``k``-th by
#: default (``store_every=None``): 64 MiB (a 1280×720 lake of 60 steps has ≈ 30 k moving pixels
#: at most for all states to fit; the demo's 363 k moving pixels would take 338 MiB).
STATE_BUDGET_BYTES = 64 << 20
#: Memory for the turbulence's wave grids kept between Euler steps (one per scene time; the
#: README lake's 61 grids of 84 × 150 cells take 6 MB).
WAVE_GRID_CACHE_BYTES = 16 << 20


def _state_bytes(num_steps: int, num_moving: int, itemsize: int, k: int) -> int:
    """Bytes of both directions' states with ``store_every = k``: the kept ones and one block of
    up to ``k - 1`` recomputed ones per direction."""
    return 2 * (num_steps // k + 1 + min(k - 1, num_steps)) * num_moving * 2 * itemsize


def _auto_store_every(num_steps: int, num_moving: int, itemsize: int) -> int:
    """1 while all states fit in :data:`STATE_BUDGET_BYTES`; otherwise the divisor ``k`` of
    ``N`` whose kept states plus one recomputed block per direction take the least memory (the
    smallest such ``k``; about ``√N``: 6 for 60 steps, 16 states per direction instead of 61).
    A divisor keeps state ``N`` (the loop's end) among the stored ones."""
    if _state_bytes(num_steps, num_moving, itemsize, 1) <= STATE_BUDGET_BYTES:
        return 1
    divisors = [k for k in range(1, num_steps + 1) if num_steps % k == 0]
    return min(divisors, key=lambda k: (_state_bytes(num_steps, num_moving, itemsize, k), k))


def integrate_motion(
    field: MotionField, num_steps: int, *, store_every: int | None = None, outside: str = "continue"
) -> Displacements:
    """Integrate a motion field forward (``M``) and backward (``-M``) over ``N`` steps.

    ``F_0 = 0``, ``F_n(x) = F_{n-1}(x) + M(x + F_{n-1}(x))`` and
    ``B_0 = 0``, ``B_n(x) = B_{n-1}(x) - M(x + B_{n-1}(x))``, with ``M`` sampled bilinearly (see
    the module docstring for the border rule). The states are computed incrementally: ``2 N``
    Euler steps over the ``P_m`` moving pixels, ``O(N * P_m)`` time in all. Memory is
    ``2 * (⌊N / store_every⌋ + 1) * P_m * 2`` numbers for the kept states (8 bytes each pair in
    float32), plus up to ``store_every - 1`` recomputed states per direction while queried.

    Args:
        field: the motion field; ``flow`` ``(2, H, W)`` in px/step (its dtype and device are kept).
        num_steps: loop length ``N`` in motion steps (>= 1).
        store_every: keep every ``k``-th state (>= 1); 1 keeps all of them. Larger values trade
            memory for recomputed steps: the ``k - 1`` states after a kept one are recomputed
            together when first needed (the values are the same: a recomputed state takes the
            same Euler steps; frames in time order recompute each block once, ``N`` more steps
            per direction). ``None`` (default): 1 when all states fit in
            :data:`STATE_BUDGET_BYTES` (64 MiB), else the divisor of ``N`` that needs the least
            memory (every 6th of 60 steps: 89 MiB instead of 338 MiB for the demo's lake).
        outside: the field beyond the image: ``"stop"`` (default: 0, a point that leaves stops
            just beyond the border) or ``"continue"`` (the border's values: it goes on out of
            view, which removes the border seam; see the module docstring).

    Returns:
        :class:`Displacements` with ``forward(t)``, ``backward(t)`` and ``sample_at(t, uv)``.

    Example:
        >>> flow = torch.zeros(2, 8, 8); flow[0, 2:6, 2:6] = 0.5
        >>> d = integrate_motion(MotionField(flow, (flow[:1] != 0).float()), 4)
        >>> d.forward(2.0)[0, 3, 3].item()
        1.0
    """
    if not isinstance(field, MotionField):
        raise InputError("field", "a MotionField", type(field).__name__)
    flow = field.flow
    if not isinstance(flow, torch.Tensor) or flow.dim() != 3 or flow.shape[0] != 2 or flow.numel() == 0:
        raise InputError("field.flow", "a (2, H, W) tensor", tuple(getattr(flow, "shape", ())))
    if not flow.is_floating_point() or not bool(torch.isfinite(flow).all()):
        raise InputError("field.flow", "finite floating-point values", flow.dtype)
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise InputError("num_steps", "an integer >= 1", num_steps)
    if store_every is not None and (
        isinstance(store_every, bool) or not isinstance(store_every, int) or store_every < 1
    ):
        raise InputError("store_every", "an integer >= 1 or None", store_every)
    if outside not in ("continue", "stop"):
        raise InputError("outside", "'continue' or 'stop'", repr(outside))

    flow = flow.detach().contiguous()
    turbulence = getattr(field, "turbulence", None)
    moving = (flow != 0).any(dim=0)
    if turbulence is not None:
        moving = moving | (turbulence.amplitude.to(flow.device) > 0)
    index = torch.nonzero(moving.reshape(-1)).squeeze(1)
    stepper = _Stepper(flow, index, turbulence, num_steps, outside)
    if store_every is None:
        store_every = _auto_store_every(num_steps, int(index.shape[0]), flow.element_size())
    kept = (num_steps // store_every) + 1
    states = torch.empty(2, kept, index.shape[0], 2, dtype=flow.dtype, device=flow.device)
    for direction, sign in ((0, 1.0), (1, -1.0)):
        states[direction, 0] = 0.0
        state = states[direction, 0]
        for n in range(1, (kept - 1) * store_every + 1):
            out = states[direction, n // store_every] if n % store_every == 0 else None
            state = stepper.step(state, n - 1, sign, out=out)
    return Displacements(stepper, states[0], states[1], num_steps, store_every)
