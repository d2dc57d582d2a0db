"""Convergence-rate sweeps of complex momentum over (lr, |beta|, arg beta) grids.

Each sweep is one compiled, vmapped call.  With several devices the flattened
grid axis is sharded over all of ``jax.devices()`` with ``jax.sharding`` (a
1-D ``Mesh``), so the same code fills one CPU, several GPUs or, after
``jax.distributed.initialize``, several hosts.
"""

from __future__ import annotations

import functools
import numbers
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from dynamics._complex_momentum import complex_momentum
from dynamics._linearize import spectral_radius
from dynamics._simulate import simulate
from games import check_params

__all__ = ["RateGrid", "grid_map", "spectral_radius_grid", "steps_to_tolerance_grid",
           "rate_grid"]


def _mesh(devices=None):
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), ("grid",))


@functools.lru_cache(maxsize=64)
def _mapped(fn, ncols, devices):
    # Cached per (function, arity, devices): repeated sweeps reuse the compiled call.
    sharding = NamedSharding(_mesh(devices), PartitionSpec("grid"))
    return jax.jit(jax.vmap(fn, in_axes=(None,) + (0,) * ncols), out_shardings=sharding)


def grid_map(fn: Callable, context, *columns, devices=None, chunks: int = 1, progress=None):
    """``vmap(fn)(context, *columns)`` over the leading axis, sharded over devices.

    ``context`` is broadcast (e.g. the game); every column is a 1-D array of
    the same length N.  The axis is padded to a multiple of the device count
    and laid out with ``NamedSharding(Mesh(devices, ('grid',)), P('grid'))``;
    the result has the padded length (slice [:N]).  With ``chunks > 1`` (or a
    ``progress`` callback, which defaults ``chunks`` to 10) the grid runs as that
    many equal compiled calls and ``progress(done_points, N)`` is called after
    each; the result is the same.
    """
    devices = tuple(jax.devices() if devices is None else devices)
    n = columns[0].shape[0]
    if progress is not None and chunks == 1:
        chunks = 10
    chunks = max(1, min(int(chunks), n))
    size = -(-n // chunks)
    size += (-size) % len(devices)                  # equal chunks, each shardable
    pad = size * -(-n // size) - n
    cols = [jnp.concatenate([c, jnp.repeat(c[-1:], pad, axis=0)]) if pad else c
            for c in columns]
    mesh = _mesh(devices)
    sharding = NamedSharding(mesh, PartitionSpec("grid"))
    context = jax.device_put(context, NamedSharding(mesh, PartitionSpec()))
    mapped = _mapped(fn, len(cols), devices)
    out = []
    for start in range(0, n + pad, size):
        part = [jax.device_put(c[start:start + size], sharding) for c in cols]
        out.append(mapped(context, *part))
        if progress is not None:
            jax.block_until_ready(out[-1])
            progress(min(start + size, n), n)
    return out[0] if len(out) == 1 else jax.tree_util.tree_map(
        lambda *xs: jnp.concatenate(xs), *out)


class RateGrid(NamedTuple):
    """A sweep's axes and results; arrays have shape (len(lrs), len(mags), len(args))."""

    lrs: np.ndarray
    mags: np.ndarray
    args: np.ndarray
    spectral_radius: np.ndarray | None
    steps: np.ndarray | None          # simulated steps to tolerance (inf: not reached)


def _grid_columns(lrs, mags, args):
    lrs, mags, args = (np.asarray(v, dtype=float).ravel() for v in (lrs, mags, args))
    L, M, A = np.meshgrid(lrs, mags, args, indexing="ij")
    beta = M * np.exp(1j * A)
    return (lrs, mags, args), L.ravel(), beta.ravel(), L.shape


@functools.lru_cache(maxsize=None)
def _radius_fn(alternating):
    def fn(ctx, lr, beta):
        game, eq = ctx
        return spectral_radius(game, complex_momentum(lr, beta, alternating=alternating), eq)
    return fn


def spectral_radius_grid(game, lrs, mags, args, *, alternating=False, at=None,
                         devices=None, progress=None) -> np.ndarray:
    """Spectral radius of complex momentum at ``at`` (default the equilibrium) per setting.

    Eigenvalues of non-symmetric matrices are computed on the CPU by XLA; on
    an accelerator use :func:`steps_to_tolerance_grid`.  ``progress(done, total)``
    (grid points) is called as the grid goes, in chunks (see :func:`grid_map`).
    """
    at = game.equilibrium() if at is None else at
    if at is None:
        raise ValueError(f"{type(game).__name__} has no known equilibrium; pass at=params.")
    check_params(game, at)
    _, lr, beta, shape = _grid_columns(lrs, mags, args)
    out = grid_map(_radius_fn(bool(alternating)), (game, at), jnp.asarray(lr),
                   jnp.asarray(beta), devices=devices, progress=progress)
    return np.asarray(out)[: lr.size].reshape(shape)


@functools.lru_cache(maxsize=None)
def _steps_fn(alternating, steps, unroll):
    def fn(ctx, lr, beta):
        game, start, tol = ctx
        eq = jax.tree_util.tree_leaves(game.equilibrium())

        def within(game, params):
            # Leafwise sums of squares: no ravel/concatenate in the loop.
            sq = sum(jnp.sum((p - q) ** 2)
                     for p, q in zip(jax.tree_util.tree_leaves(params), eq))
            return sq <= tol**2

        traj = simulate(game, complex_momentum(lr, beta, alternating=alternating), start,
                        steps, every=steps, metrics=(), events={"hit": within},
                        unroll=unroll)
        return traj.events["hit"]
    return fn


def steps_to_tolerance_grid(game, start, lrs, mags, args, *, steps: int, tol: float = 1e-6,
                            alternating=False, devices=None, progress=None) -> np.ndarray:
    """Simulated steps until the distance to the equilibrium is <= ``tol`` (inf if never).

    Each grid point is a ``simulate`` run with a first-hit event, so divergence
    tracking and the step loop are the engine's own.  ``progress(done, total)``
    (grid points) is called as the grid goes, in chunks (see :func:`grid_map`).
    """
    if game.equilibrium() is None:
        raise ValueError(f"{type(game).__name__} has no known equilibrium to measure "
                         f"distances to.")
    check_params(game, start)
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive int; got {steps!r}.")
    _, lr, beta, shape = _grid_columns(lrs, mags, args)
    # Measured with benchmarks/rates.py: unrolling makes XLA:CPU recompute the
    # gradient's inputs in several kernels per step (1.4-2x slower), while on a
    # GPU unroll=4 is 2-3x faster than 1.
    unroll = 1 if jax.default_backend() == "cpu" else 4
    fn = _steps_fn(bool(alternating), int(steps), unroll)
    out = np.asarray(grid_map(fn, (game, start, jnp.asarray(tol, float)), jnp.asarray(lr),
                              jnp.asarray(beta), devices=devices,
                              progress=progress))[: lr.size].astype(float)
    out[out < 0] = np.inf
    return out.reshape(shape)


def rate_grid(game, lrs, mags, args, *, alternating=False, start=None, steps=None,
              tol=1e-6, devices=None) -> RateGrid:
    """Spectral radii over the grid, and simulated steps to ``tol`` when ``start`` is given."""
    (lrs, mags, args), *_ = _grid_columns(lrs, mags, args)
    rho = spectral_radius_grid(game, lrs, mags, args, alternating=alternating,
                               devices=devices)
    sim = None
    if start is not None:
        sim = steps_to_tolerance_grid(game, start, lrs, mags, args, steps=steps or 1000,
                                      tol=tol, alternating=alternating, devices=devices)
    return RateGrid(lrs, mags, args, rho, sim)
