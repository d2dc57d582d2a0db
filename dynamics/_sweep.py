"""Sweeps: any dynamics over a grid of hyperparameters, starts and games.

``sweep`` is one compiled, vmapped call per chunk.  The flattened grid axis is
sharded over all of ``jax.devices()`` with ``jax.sharding`` (a 1-D ``Mesh``), so
the same code fills one CPU, several GPUs or, after
``jax.distributed.initialize``, the devices of several processes (hosts): each
process supplies the grid indices of its own devices and receives the whole
result.  ``grid_map`` (any function over columns) runs on the same mechanism,
and the complex-momentum heatmaps (``spectral_radius_grid``,
``steps_to_tolerance_grid``) are uses of ``sweep``.
"""

from __future__ import annotations

import collections
import functools
import inspect
import math
import time
import warnings
from collections.abc import Mapping
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from dynamics._base import Dynamics
from dynamics._complex_momentum import complex_momentum
from dynamics._linearize import spectral_radius
from dynamics._simulate import memory_budget, simulate
from games import check_params
from games.checks import check_int

__all__ = ["sweep", "Sweep", "RateGrid", "grid_map", "spectral_radius_grid",
           "steps_to_tolerance_grid", "rate_grid"]


def _mesh(devices=None):
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), ("grid",))


def grid_map(fn: Callable, context, *columns, devices=None, chunks: int = 1, progress=None):
    """``vmap(fn)(context, *columns)`` over the leading axis, sharded over devices.

    ``context`` is broadcast (e.g. the game); every column is an array of the
    same length N along its leading axis.  The same mechanism as :func:`sweep`:
    one compiled, vmapped call per chunk over the flat index, sharded over
    ``devices`` (default all devices of all processes), each point reading its
    row of the columns on the device.  Returns ``fn``'s outputs with leading axis
    N as NumPy arrays, gathered to every process.  With ``chunks > 1`` (or a
    ``progress`` callback, which defaults ``chunks`` to 10) the grid runs as that
    many equal calls and ``progress(done_points, N)`` is called after each; the
    result is the same.
    """
    columns = [jnp.asarray(c) for c in columns]
    lengths = [c.shape[0] if c.ndim else None for c in columns]
    if not columns or None in lengths or len(set(lengths)) > 1 or lengths[0] == 0:
        raise ValueError(f"grid_map needs one or more columns: non-empty arrays of one "
                         f"length N along their leading axis; got shapes "
                         f"{[tuple(c.shape) for c in columns]}.")
    chunks = check_int("chunks", chunks)
    if progress is not None and chunks == 1:
        chunks = 10
    devices = _devices(devices)
    ctx = jax.device_put({"context": context, "columns": columns},
                         NamedSharding(_mesh(devices), PartitionSpec()))
    out, _ = _run(_column_point(fn), ctx, lengths[0], devices, min(chunks, lengths[0]),
                  progress)
    return out


@functools.lru_cache(maxsize=64)
def _column_point(fn):
    """``fn`` as a grid point of :func:`_run`: one row of every column."""
    def point(ctx, index):
        return fn(ctx["context"], *(c[index] for c in ctx["columns"]))
    return point


def _devices(devices):
    devices = tuple(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices is empty; pass None (all of jax.devices()) or a list of "
                         "devices.")
    return devices


def _run(point, ctx, n, devices, chunks, progress):
    """``point(ctx, i)`` for i in 0..n-1: ``chunks`` equal compiled, vmapped calls over
    the flat index, sharded over ``devices``; outputs gathered to every process as
    NumPy with leading axis n.  ``ctx`` is already placed (replicated).  Returns
    the outputs and the seconds spent compiling and on the device."""
    clock = time.perf_counter
    size = -(-n // chunks)
    size += (-size) % len(devices)                  # equal chunks, each shardable
    sharding = NamedSharding(_mesh(devices), PartitionSpec("grid"))
    t = clock()
    run = _executable(point, devices, _signature(ctx), size)
    seconds = {"compile": clock() - t, "device": 0.0}
    parts = []
    for offset in range(0, n, size):
        # Each process builds the indices of its own devices' shards.
        index = jax.make_array_from_callback(
            (size,), sharding,
            lambda s, o=offset: np.minimum(np.arange(o, o + size, dtype=np.int32)[s], n - 1))
        t = clock()
        out = jax.block_until_ready(run(ctx, index))
        seconds["device"] += clock() - t
        parts.append(_gather(out))
        if progress is not None:
            progress(min(offset + size, n), n)
    out = jax.tree_util.tree_map(lambda *xs: np.concatenate(xs)[:n], *parts)
    return out, seconds


MEASURES = ("rate", "steps", "final")


class Sweep(NamedTuple):
    """The result of :func:`sweep`: the grid's coordinates and one array per
    quantity, shaped like the grid (one axis per grid entry, in order, or a single
    axis for a zipped grid), with trailing axes for vector quantities.

    ``values`` holds, by measure: ``"spectral_radius"`` (rate); ``"steps"`` (steps
    until the distance to ``at`` is at most ``tol``; ``inf`` where never within
    ``steps``); ``"final_losses"`` (trailing axis: players) and, when ``at`` is
    known, ``"final_distance"`` (final); and ``"diverged_at"`` for any measure that
    simulates (first non-finite step, -1 for none).  A diverged point is a value
    (``nan``/``inf``/-1 as above), never an error.
    """

    axes: dict          # name -> 1-D np.ndarray of that axis's values (indices for
                        # "start"/"game" axes of stacked pytrees)
    values: dict        # quantity -> np.ndarray
    product: bool       # Cartesian grid (True) or zipped (False)
    seconds: dict | None = None     # wall time by phase: "compile" (tracing and
                        # compiling; ~0 when reused), "device" (the compiled calls,
                        # until their results are ready), "host" (the rest: checking
                        # input, placing it, gathering results to NumPy)

    @property
    def shape(self) -> tuple:
        return (tuple(len(v) for v in self.axes.values()) if self.product
                else (len(next(iter(self.axes.values()))),))

    def best(self, quantity: str, k: int = 5, *, largest: bool = False) -> list[dict]:
        """The ``k`` grid points with the smallest (``largest=True``: largest)
        finite ``quantity``, as dicts of coordinates plus the value."""
        if quantity not in self.values:
            raise KeyError(f"no quantity {quantity!r} in this sweep; it has "
                           f"{', '.join(self.values)}.")
        k = check_int("k", k)
        v = np.asarray(self.values[quantity], float)
        if v.ndim != len(self.shape):
            raise ValueError(f"{quantity!r} is not a scalar per point (shape {v.shape}); "
                             f"choose one of {_scalar_names(self)}.")
        flat = v.ravel()
        order = [i for i in np.argsort(-flat if largest else flat, kind="stable")
                 if np.isfinite(flat[i])][:k]
        out = []
        for i in order:
            idx = np.unravel_index(i, self.shape) if self.product else (i,) * len(self.axes)
            row = {name: _item(ax[j]) for (name, ax), j in zip(self.axes.items(), idx)}
            row[quantity] = float(flat[i])
            out.append(row)
        return out

    def arrays(self) -> dict:
        """Flat ``{name: array}`` for ``np.savez``: ``axis/<name>`` and ``<quantity>``."""
        out = {f"axis/{k}": np.asarray(v) for k, v in self.axes.items()}
        out.update({k: np.asarray(v) for k, v in self.values.items()})
        return out


def _scalar_names(res):
    return [k for k, v in res.values.items() if np.ndim(v) == len(res.shape)]


def _item(x):
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.integer):
        return int(x)
    return complex(x) if np.iscomplexobj(x) else float(x)


_TREE_AXES = ("start", "game")      # grid entries that are stacked pytrees, not numbers


def _axes(factory, grid, product):
    """Validated axes: name -> numbers (1-D array) or a stacked pytree ("start", "game")."""
    if not callable(factory):
        raise TypeError(f"factory must be a callable returning a dynamics.Dynamics (e.g. "
                        f"dynamics.momentum); got {type(factory).__name__}.")
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(f"grid must be a non-empty dict name -> values (e.g. {{'lr': "
                         f"np.linspace(0.01, 0.5, 64)}}); got {grid!r}.")
    valid = _parameter_names(factory)
    axes, sizes = {}, {}
    for name, values in grid.items():
        if name in _TREE_AXES:
            leaves = jax.tree_util.tree_leaves(values)
            lengths = {jnp.shape(x)[0] if jnp.ndim(x) else None for x in leaves}
            if not leaves or None in lengths or len(lengths) > 1:
                raise ValueError(
                    f"grid[{name!r}] must be a stacked pytree whose leaves all share a "
                    f"leading axis (the points), e.g. jax.tree_util.tree_map(lambda *x: "
                    f"jnp.stack(x), *items); got leaf shapes "
                    f"{[tuple(jnp.shape(x)) for x in leaves][:6]}.")
            sizes[name] = int(lengths.pop())
            axes[name] = values
            continue
        if valid is not None and name not in valid:
            raise ValueError(f"unknown hyperparameter {name!r} for "
                             f"{getattr(factory, '__name__', factory)!r}; valid: "
                             f"{', '.join(valid)} (and 'start', 'game' for stacked starts "
                             f"or games).")
        v = np.asarray(values)
        if v.ndim != 1 or v.size == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty 1-D sequence of numbers; "
                             f"got shape {v.shape}.")
        if not np.issubdtype(v.dtype, np.number) or v.dtype == bool:
            raise TypeError(f"grid[{name!r}] must hold numbers; got dtype {v.dtype}.")
        if not np.isfinite(v).all():
            raise ValueError(f"grid[{name!r}] has non-finite values at positions "
                             f"{np.flatnonzero(~np.isfinite(v)).tolist()[:5]}; a sweep "
                             f"takes finite settings (divergence is a result, not an input).")
        with np.errstate(over="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            used = np.asarray(jnp.asarray(v))       # JAX's precision (x64 or not)
        if not np.isfinite(used).all() or (np.issubdtype(v.dtype, np.integer)
                                           and not np.array_equal(used, v)):
            bad = np.flatnonzero(~np.isfinite(used) | (np.issubdtype(v.dtype, np.integer)
                                                        & (used != v)))[:5].tolist()
            raise ValueError(f"grid[{name!r}] has values that do not fit {used.dtype} "
                             f"(JAX's precision now) at positions {bad}; rescale them, or "
                             f"enable jax.config.update('jax_enable_x64', True).")
        axes[name], sizes[name] = v, v.size
    if not product and len(set(sizes.values())) > 1:
        raise ValueError(f"a zipped grid (product=False) needs equal lengths; got {sizes}.")
    missing = [n for n in _required_names(factory) if n not in axes]
    if missing:
        raise ValueError(f"{getattr(factory, '__name__', 'the factory')} needs "
                         f"{', '.join(missing)}: add them to the grid (one value is fine) or "
                         f"bind them with functools.partial.")
    return axes, sizes


def _required_names(factory):
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.default is p.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _parameter_names(factory):
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


@functools.lru_cache(maxsize=64)
def _point_fn(factory, names, shape, measures, steps):
    """One grid point from its flat index; cached so equal sweeps share a program."""
    def point(ctx, index):
        game, start, at, tol = ctx["game"], ctx["start"], ctx["at"], ctx["tol"]
        idx = jnp.unravel_index(index, shape) if len(shape) > 1 else (index,) * len(names)
        hyper = {}
        for name, i in zip(names, idx):
            if name == "start":
                start = jax.tree_util.tree_map(lambda x: x[i], start)
            elif name == "game":
                game = jax.tree_util.tree_map(lambda x: x[i], game)
            else:
                hyper[name] = ctx["axes"][name][i]
        if at is None:                  # each game's own equilibrium (None: unknown)
            at = game.equilibrium()
        try:
            dyn = factory(**hyper)
        except jax.errors.ConcretizationTypeError:
            raise TypeError(
                f"{getattr(factory, '__name__', 'the factory')} uses one of "
                f"{', '.join(hyper)} in Python control flow, so it cannot be swept (grid "
                f"values arrive as traced arrays): fix it with functools.partial(factory, "
                f"name=value) and sweep the others.") from None
        if not isinstance(dyn, Dynamics):
            raise TypeError(f"factory must return a dynamics.Dynamics (e.g. "
                            f"dynamics.momentum(lr, beta)); it returned "
                            f"{type(dyn).__name__}.")
        out = {}
        if "rate" in measures:
            out["spectral_radius"] = spectral_radius(game, dyn, at)
        if "steps" in measures or "final" in measures:
            events = {}
            if "steps" in measures:
                target = jax.tree_util.tree_leaves(at)

                def within(g, params):
                    sq = sum(jnp.sum((p - q) ** 2) for p, q in
                             zip(jax.tree_util.tree_leaves(params), target))
                    return sq <= tol ** 2
                events["hit"] = within
            traj = simulate(game, dyn, start, steps, every=steps, metrics=(),
                            events=events or None, record_params=False, key=ctx["key"])
            if "steps" in measures:
                out["steps"] = traj.events["hit"]
            if "final" in measures:
                final = traj.final.params
                out["final_losses"] = game.losses(final)
                if at is not None:
                    out["final_distance"] = jnp.sqrt(sum(
                        jnp.sum((p - q) ** 2) for p, q in
                        zip(jax.tree_util.tree_leaves(final), jax.tree_util.tree_leaves(at))))
            out["diverged_at"] = traj.diverged_at
        return out
    return point


_EXECUTABLES: collections.OrderedDict = collections.OrderedDict()


def _signature(ctx):
    """A hashable description of ``ctx``'s structure, shapes and dtypes."""
    leaves, treedef = jax.tree_util.tree_flatten(ctx)
    return treedef, tuple((jnp.shape(x), jnp.result_type(x), getattr(x, "weak_type", False))
                          for x in leaves)


def _abstract(signature):
    treedef, leaves = signature
    return jax.tree_util.tree_unflatten(
        treedef, [jax.ShapeDtypeStruct(s, d, weak_type=w) for s, d, w in leaves])


def _executable(point, devices, signature, size):
    """The compiled sweep for these inputs, compiled ahead of time (so its time is
    measured apart from running) and kept for repeated sweeps (64 at most)."""
    key = (point, devices, size, signature)
    if key not in _EXECUTABLES:
        mesh = _mesh(devices)
        sharding = NamedSharding(mesh, PartitionSpec("grid"))
        ctx = jax.tree_util.tree_map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, weak_type=x.weak_type,
                                           sharding=NamedSharding(mesh, PartitionSpec())),
            _abstract(signature))
        index = jax.ShapeDtypeStruct((size,), jnp.int32, sharding=sharding)
        fn = jax.jit(jax.vmap(point, in_axes=(None, 0)), out_shardings=sharding)
        _EXECUTABLES[key] = fn.lower(ctx, index).compile()
        if len(_EXECUTABLES) > 64:
            _EXECUTABLES.popitem(last=False)
    _EXECUTABLES.move_to_end(key)
    return _EXECUTABLES[key]


def sweep(game, factory, grid, *, measure="rate", params=None, at=None, steps: int = 1000,
          tol: float = 1e-6, product: bool = True, key=None, devices=None,
          chunks: int | None = None, progress=None) -> Sweep:
    """Evaluate a dynamics over a grid of hyperparameters, starts and games.

    One compiled, vmapped call per chunk, the grid axis sharded over ``devices``
    (default all devices of all processes, so after ``jax.distributed.initialize``
    one call spans every host).  Grid points are built on the device from their
    flat index; only the axes' values travel.

    Args:
      game: the game (or, with a ``"game"`` grid entry, a template it replaces).
      factory: ``factory(**hyperparameters) -> Dynamics``, e.g. ``dynamics.momentum``
        or ``lambda lr, mag, arg: dynamics.complex_momentum(lr, mag *
        jnp.exp(1j * arg))``.  Pass the same function object to reuse programs.
      grid: dict name -> values.  Names are the factory's parameters (an unknown
        one is an error listing the valid ones), plus ``"start"`` (a stack of
        starts, leading axis the points) and ``"game"`` (a stack of games of one
        type, e.g. ``jax.vmap(games.adversarial)(gammas)``).
      measure: ``"rate"`` (spectral radius of the step map at ``at``), ``"steps"``
        (steps from the start until the distance to ``at`` is at most ``tol``),
        ``"final"`` (losses and distance to ``at`` after ``steps`` steps), or a
        tuple of them.
      params: the start for simulating measures (unless the grid has "start").
      at: the point for ``"rate"`` and distances (default: the game's
        ``equilibrium()``, each game's own along a ``"game"`` axis).
      steps, tol: simulated steps and the distance tolerance.
      product: Cartesian product of the axes (default) or zip them.
      key: for stochastic games (with ``resample``): every point draws the same
        minibatch sequence from it (common random numbers).
      devices: the devices to shard over (default ``jax.devices()``).
      chunks: run the grid as about this many compiled calls of equal size
        (default: as few as fit in memory); ``progress(done, total)`` is called
        after each.  Under ``jax.distributed`` every process must pass the same.

    Returns a :class:`Sweep`.  Before running, the memory of one chunk is estimated
    and a grid that would not fit is refused with the number of chunks to pass.
    Simulated points record no metrics, so ``diverged_at`` is the first step whose
    state is not finite (``simulate(..., metrics=())``'s).
    """
    started = time.perf_counter()
    measures = ((measure,) if isinstance(measure, str) else tuple(measure)
                if isinstance(measure, (tuple, list)) else ())
    bad = [m for m in measures if m not in MEASURES]
    if bad or not measures:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)} or a tuple of them; "
                         f"got {measure!r}.")
    axes, sizes = _axes(factory, grid, product)
    names = tuple(axes)
    steps = check_int("steps", steps)
    try:
        ok = float(tol) > 0 and math.isfinite(float(tol))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"tol must be a positive finite number; got {tol!r}.")
    template = game
    if "game" in axes:
        template = jax.tree_util.tree_map(lambda x: x[0], axes["game"])
        if (type(template) is not type(game)
                or jax.tree_util.tree_structure(template) != jax.tree_util.tree_structure(game)
                or [jnp.shape(x) for x in jax.tree_util.tree_leaves(template)]
                != [jnp.shape(x) for x in jax.tree_util.tree_leaves(game)]):
            raise ValueError(
                f"grid['game'] must be a stack of games like game= ({type(game).__name__}), "
                f"leading axis the points (e.g. jax.vmap(games.adversarial)(gammas)); got "
                f"a {type(axes['game']).__name__} whose first entry is not shaped like game=.")
    start = params
    if "start" in axes:
        start = axes["start"]
        check_params(template, jax.tree_util.tree_map(lambda x: x[0], start))
    elif any(m in measures for m in ("steps", "final")):
        if params is None:
            raise ValueError(f"measure {measure!r} simulates from a start: pass params= (or a "
                             f"'start' grid entry).")
        check_params(template, params)
    known = at if at is not None else template.equilibrium()
    if known is None and ("rate" in measures or "steps" in measures):
        raise ValueError(f"{type(template).__name__} has no known equilibrium: pass at= for "
                         f"measure {measure!r}.")
    if known is not None:
        check_params(template, known)
    if at is None and "game" not in axes:
        at = known                      # else each point takes its game's equilibrium
    shape = tuple(sizes.values()) if product else (next(iter(sizes.values())),)
    n = math.prod(shape)
    devices = _devices(devices)
    point = _point_fn(factory, names, shape, measures, steps)
    ctx = {"game": axes.get("game", game), "start": start, "at": at, "key": key,
           "tol": jnp.asarray(tol, float),
           "axes": {k: jnp.asarray(v) for k, v in axes.items() if k not in _TREE_AXES}}
    one_start = (jax.tree_util.tree_map(lambda x: x[0], start) if "start" in axes
                 else start if start is not None else known)
    # Placed first: Python scalars in a game become (weakly typed) arrays, as the
    # compiled call will see them.
    ctx = jax.device_put(ctx, NamedSharding(_mesh(devices), PartitionSpec()))
    signature = _signature(ctx)
    chunks = _chunks(point, signature, one_start, "rate" in measures, n, devices, chunks)
    values, seconds = _run(point, ctx, n, devices, chunks, progress)
    values = {k: v.reshape(shape + v.shape[1:]) for k, v in values.items()}
    if "steps" in values:
        v = values["steps"].astype(float)
        v[v < 0] = np.inf
        values["steps"] = v
    coords = {k: (np.arange(sizes[k]) if k in _TREE_AXES else v) for k, v in axes.items()}
    seconds["host"] = (time.perf_counter() - started - seconds["compile"]
                       - seconds["device"])
    return Sweep(coords, values, bool(product), seconds)


def _gather(tree):
    """Every process gets the whole result (the grid may span several hosts)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        return jax.tree_util.tree_map(np.asarray, multihost_utils.process_allgather(
            tree, tiled=True))
    return jax.tree_util.tree_map(np.asarray, tree)


def _chunks(point, signature, params, jacobian, n, devices, chunks):
    """The chunk count: as asked, else the fewest whose memory fits (estimated
    per point); refuse a request that does not fit.  It depends on the arguments
    only, never on ``progress``: every process must make the same calls."""
    size = sum(math.prod(jnp.shape(x)) for x in jax.tree_util.tree_leaves(params))
    per_point = _bytes_per_point(point, signature, size, jacobian)
    # CPU devices (even several forced ones) share the host's memory.
    shared = all(d.platform == "cpu" for d in devices)
    budget = memory_budget() * (1 if shared else len(devices))
    most = budget // per_point                   # points a chunk may hold
    if most < 1:
        raise ValueError(f"one grid point needs about {per_point / 2**30:.1f} GiB, more than "
                         f"the {budget / 2**30:.1f} GiB available; sweep a smaller game or "
                         f"fewer steps' worth of state.")
    fit = -(-n // most)
    if chunks is None:
        return min(n, fit)
    chunks = check_int("chunks", chunks)
    if -(-n // chunks) > most:
        raise ValueError(
            f"a chunk of {-(-n // chunks)} grid points needs about "
            f"{-(-n // chunks) * per_point / 2**30:.1f} GiB ({per_point} bytes a point), "
            f"more than the {budget / 2**30:.1f} GiB available: pass chunks={fit} or more.")
    return min(chunks, n)


@functools.lru_cache(maxsize=64)
def _bytes_per_point(point, signature, size, jacobian):
    shapes = jax.eval_shape(point, _abstract(signature),
                            jax.ShapeDtypeStruct((), jnp.int32))
    out = sum(math.prod(x.shape) * x.dtype.itemsize for x in jax.tree_util.tree_leaves(shapes))
    # The big terms: the state with its buffers (a few copies of the parameters,
    # complex ones twice) and, for rates, the dense step-map Jacobian over them.
    d = 4 * max(1, size)
    return out + 8 * (4 * d + (2 * d * d if jacobian else 0))


class RateGrid(NamedTuple):
    """A sweep's axes and results; arrays have shape (len(lrs), len(mags), len(args))."""

    lrs: np.ndarray
    mags: np.ndarray
    args: np.ndarray
    spectral_radius: np.ndarray | None
    steps: np.ndarray | None          # simulated steps to tolerance (inf: not reached)


def _grid(lrs, mags, args):
    lrs, mags, args = (np.asarray(v, dtype=float).ravel() for v in (lrs, mags, args))
    return {"lr": lrs, "beta_abs": mags, "beta_arg": args}


def _polar(lr, beta_abs, beta_arg):
    return complex_momentum(lr, beta_abs * jnp.exp(1j * beta_arg))


def _polar_alternating(lr, beta_abs, beta_arg):
    return complex_momentum(lr, beta_abs * jnp.exp(1j * beta_arg), alternating=True)


def _default_chunks(progress):
    return 10 if progress is not None else None


def spectral_radius_grid(game, lrs, mags, args, *, alternating=False, at=None,
                         devices=None, progress=None) -> np.ndarray:
    """Spectral radius of complex momentum at ``at`` (default the equilibrium) per
    setting beta = mag * exp(i arg): ``sweep(game, factory, {"lr": lrs, "beta_abs":
    mags, "beta_arg": args})``, shape (len(lrs), len(mags), len(args)).

    Eigenvalues of non-symmetric matrices are computed on the CPU by XLA; on
    an accelerator use :func:`steps_to_tolerance_grid`.  ``progress(done, total)``
    (grid points) is called after each of 10 chunks.
    """
    res = sweep(game, _polar_alternating if alternating else _polar, _grid(lrs, mags, args),
                measure="rate", at=at, devices=devices, progress=progress,
                chunks=_default_chunks(progress))
    return res.values["spectral_radius"]


def steps_to_tolerance_grid(game, start, lrs, mags, args, *, steps: int, tol: float = 1e-6,
                            alternating=False, devices=None, progress=None) -> np.ndarray:
    """Simulated steps until the distance to the equilibrium is <= ``tol`` (inf if
    never) per setting beta = mag * exp(i arg): :func:`sweep` with
    ``measure="steps"``, shape (len(lrs), len(mags), len(args)).

    Each grid point is a ``simulate`` run with a first-hit event, so divergence
    tracking and the step loop are the engine's own.  ``progress(done, total)``
    (grid points) is called after each of 10 chunks.
    """
    if game.equilibrium() is None:
        raise ValueError(f"{type(game).__name__} has no known equilibrium to measure "
                         f"distances to.")
    res = sweep(game, _polar_alternating if alternating else _polar, _grid(lrs, mags, args),
                measure="steps", params=start, steps=steps, tol=tol, devices=devices,
                progress=progress, chunks=_default_chunks(progress))
    return res.values["steps"]


def rate_grid(game, lrs, mags, args, *, alternating=False, start=None, steps=None,
              tol=1e-6, devices=None) -> RateGrid:
    """Spectral radii over the grid, and simulated steps to ``tol`` when ``start`` is given."""
    lrs, mags, args = _grid(lrs, mags, args).values()
    rho = spectral_radius_grid(game, lrs, mags, args, alternating=alternating,
                               devices=devices)
    sim = None
    if start is not None:
        sim = steps_to_tolerance_grid(game, start, lrs, mags, args, steps=steps or 1000,
                                      tol=tol, alternating=alternating, devices=devices)
    return RateGrid(lrs, mags, args, rho, sim)
