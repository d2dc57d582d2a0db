"""Run a dynamics on a game: the one simulation engine.

Every run, whether one call, a chunked long run with a progress bar, a
stochastic game drawing a minibatch per step, or a first-hit sweep, goes
through the same step loop and the same divergence tracking.
"""

from __future__ import annotations

import functools
import math
import numbers
import operator
import os
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from dynamics._base import Dynamics
from dynamics._gradients import xi
from games import check_params

__all__ = ["simulate", "Trajectory", "METRICS", "distance_to_equilibrium", "memory_budget"]


class Trajectory(NamedTuple):
    """What ``simulate`` recorded.

    params: the Params at steps ``0, every, 2 every, ..., steps`` (leading time
      axis), or None with ``record_params=False``.
    metrics: dict name -> array with the same leading time axis.
    final: the dynamics' State after the last step.
    diverged_at: int32 scalar, the first step at which the state or a recorded
      metric held a non-finite value, or -1 when everything stayed finite.  The
      state is checked after every step, metrics where they are recorded.
    steps: int32 array of the recorded step indices.
    events: dict name -> int32 scalar, the first step (0 = the start) at which
      the event's predicate held, or -1 if it never did (see ``events=``).
    """

    params: Any
    metrics: dict
    final: Any
    diverged_at: jax.Array
    steps: jax.Array
    events: dict = {}


def _distance_from(game):
    eq = game.equilibrium()
    if eq is None:
        raise ValueError(f"{type(game).__name__} has no known equilibrium, so the "
                         f"'distance' metric is undefined; pass metrics=('losses',).")
    eq = ravel_pytree(eq)[0]
    return lambda params: jnp.linalg.norm(ravel_pytree(params)[0] - eq)


def distance_to_equilibrium(game, params):
    """Euclidean distance of all players' parameters to ``game.equilibrium()``."""
    return _distance_from(game)(params)


# A metric (or event) may carry ``prepare(game) -> (params -> value)`` to compute
# what does not change along the run (here the equilibrium) once, outside the loop.
distance_to_equilibrium.prepare = _distance_from


def _grad_norm(game, params):
    return jnp.linalg.norm(ravel_pytree(xi(game, params))[0])


METRICS: dict[str, Callable] = {
    "losses": lambda game, params: game.losses(params),
    "distance": distance_to_equilibrium,
    "grad_norm": _grad_norm,
}


def _named_functions(what, items, builtin):
    """Normalise names / a dict / (name, fn) pairs / one callable to (name, fn) pairs."""
    if callable(items):
        return (("metric", items),)
    if isinstance(items, str):
        items = (items,)
    items = tuple(items.items()) if isinstance(items, dict) else tuple(items)
    out = []
    for item in items:
        if isinstance(item, str) and builtin is not None:
            if item not in builtin:
                raise ValueError(f"unknown {what} {item!r}; built-in {what}s are "
                                 f"{sorted(builtin)}, or pass name -> fn(game, params).")
            out.append((item, builtin[item]))
        elif isinstance(item, tuple) and len(item) == 2 and callable(item[1]):
            out.append((str(item[0]), item[1]))
        else:
            raise TypeError(f"{what}s must be "
                            + ("names, " if builtin is not None else "")
                            + f"a dict name -> fn(game, params), or (name, fn) pairs; "
                            f"got {item!r}.")
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ValueError(f"{what} names must be unique; got {names}.")
    return tuple(out)


def _normalise_metrics(game, metrics):
    if metrics is None:
        # eval_shape: learn whether an equilibrium is known without computing it.
        known = jax.eval_shape(game.equilibrium) is not None
        names = ("losses", "distance") if known else ("losses",)
        return tuple((n, METRICS[n]) for n in names)
    return _named_functions("metric", metrics, METRICS)


def _bind(fn, game):
    """``fn(game, params)`` as a function of params, prepared once per run."""
    prepare = getattr(fn, "prepare", None)
    return prepare(game) if prepare is not None else functools.partial(fn, game)


def _inexact_leaves(tree):
    return [x for x in jax.tree_util.tree_leaves(tree)
            if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]


def _finite_by_shape(tree):
    """Elementwise finiteness of the state's float leaves, one bool array per leaf shape."""
    groups: dict = {}
    for x in _inexact_leaves(tree):
        groups.setdefault(x.shape, []).append(jnp.isfinite(x))
    return {shape: functools.reduce(operator.and_, fs) for shape, fs in groups.items()}


_NEVER = jnp.iinfo(jnp.int32).max
_SMALL = 4096      # parameters up to which the inner loop is unrolled by default


class _Carry(NamedTuple):
    state: Any
    first: dict          # leaf shape -> int32 array: first non-finite step per element
    t: jax.Array         # int32, steps taken
    key: Any             # PRNG key of a stochastic game, or None
    hits: tuple          # int32 per event: first step it held (_NEVER: not yet)


class _Spec(NamedTuple):
    """The static part of a run (hashable: it is a jit static argument)."""

    every: int
    metrics: tuple       # (name, fn(game, params)) pairs
    events: tuple        # (name, predicate(game, params)) pairs
    unroll: int
    stochastic: bool
    record_params: bool


def _record(bound, params, spec):
    return params if spec.record_params else None, {name: fn(params) for name, fn in bound}


def _begin(game, dyn, params, key, spec):
    state = dyn.init(params)
    first = {shape: jnp.full(shape, _NEVER, jnp.int32) for shape in _finite_by_shape(state)}
    hits = tuple(jnp.where(_bind(fn, game)(state.params), 0, _NEVER).astype(jnp.int32)
                 for _, fn in spec.events)
    carry = _Carry(state, first, jnp.int32(0), key, hits)
    return carry, _record([(n, _bind(fn, game)) for n, fn in spec.metrics], state.params, spec)


def _segment(game, dyn, carry, records, spec, callback=None):
    """``records`` x ``every`` steps; the state after each ``every`` steps is recorded.

    Performance notes (measured with benchmarks/sweep.py, a vmapped 4096-setting
    sweep on a 2-core CPU, where the loop is overhead-bound): the inner loop is a
    scan over blocks of ``unroll`` steps written out in Python, so XLA fuses a
    block's elementwise updates into a few kernels; and divergence is tracked
    *elementwise* (``first`` holds, per state element, the first non-finite
    step), reduced to one number once, after the loop: a per-step
    ``all(isfinite(.))`` reduction ends a fusion after every step and made the
    unrolled loop 2-4x slower.
    """
    metrics = [(n, _bind(fn, game)) for n, fn in spec.metrics]
    events = [_bind(fn, game) for _, fn in spec.events]

    def advance(c: _Carry, n: int) -> _Carry:
        state, first, t, key, hits = c
        for _ in range(n):
            g = game
            if spec.stochastic:
                key, sub = jax.random.split(key)
                g = game.resample(sub)
            state = dyn.step(g, state)
            t = t + 1
            finite = _finite_by_shape(state)
            first = {s: jnp.minimum(first[s], jnp.where(finite[s], _NEVER, t)) for s in first}
            hits = tuple(jnp.where((h == _NEVER) & ev(state.params), t, h)
                         for h, ev in zip(hits, events))
        return _Carry(state, first, t, key, hits)

    blocks, rest = divmod(spec.every, spec.unroll)

    def outer(c, _):
        c, _ = jax.lax.scan(lambda c, _: (advance(c, spec.unroll), None), c, None,
                            length=blocks)
        c = advance(c, rest)
        return c, _record(metrics, c.state.params, spec)

    carry, recs = jax.lax.scan(outer, carry, None, length=records)
    if callback is not None:
        jax.debug.callback(callback, carry.t)
    return carry, recs


def _end(carry, rec0, recs, steps, spec):
    recs = jax.tree_util.tree_map(lambda a, *b: jnp.concatenate([a[None], *b]), rec0, *recs)
    params, metrics = recs
    first = functools.reduce(jnp.minimum, [jnp.min(f) for f in carry.first.values()],
                             jnp.int32(_NEVER))
    recorded = jnp.arange(0, steps + 1, spec.every, dtype=jnp.int32)
    # Metrics overflow before the state does (squares in a distance, products in
    # losses): a non-finite recorded metric is divergence too.
    bad = jnp.zeros(recorded.shape, bool)
    for m in jax.tree_util.tree_leaves(metrics):
        if jnp.issubdtype(m.dtype, jnp.inexact):
            bad = bad | ~jnp.all(jnp.isfinite(m.reshape(m.shape[0], -1)), axis=1)
    first = jnp.minimum(first, jnp.min(jnp.where(bad, recorded, _NEVER)))
    never = lambda x: jnp.where(x == _NEVER, -1, x)
    events = {name: never(h) for (name, _), h in zip(spec.events, carry.hits)}
    return Trajectory(params, metrics, carry.state, never(first), recorded, events)


@functools.partial(jax.jit, static_argnames=("steps", "spec"))
def _whole(game, dyn, params, key, steps, spec):
    carry, rec0 = _begin(game, dyn, params, key, spec)
    carry, recs = _segment(game, dyn, carry, steps // spec.every, spec)
    return _end(carry, rec0, [recs], steps, spec)


_begin_jit = jax.jit(_begin, static_argnames="spec")


@functools.partial(jax.jit, static_argnames=("records", "spec", "callback"))
def _next_chunk(game, dyn, carry, records, spec, callback):
    return _segment(game, dyn, carry, records, spec, callback)


@functools.partial(jax.jit, static_argnames=("steps", "spec"))
def _finish(carry, rec0, recs, steps, spec):
    return _end(carry, rec0, recs, steps, spec)


def _chunked(game, dyn, params, key, steps, spec, chunks, report, traced):
    records = steps // spec.every
    size = -(-records // chunks)
    sizes = [size] * (records // size) + ([records % size] if records % size else [])
    # Under an outer jit/vmap nothing runs until later: report from inside the
    # program (jax.debug.callback); called directly, report between the calls.
    cb = report if traced else None
    # Equal chunks share one compiled program (the start is its own small one).
    carry, rec0 = _begin_jit(game, dyn, params, key, spec)
    recs = []
    for n in sizes:
        carry, r = _next_chunk(game, dyn, carry, n, spec, cb)
        recs.append(r)
        if not traced and report is not None:
            report(int(carry.t))             # int() waits for the chunk to finish
    return _finish(carry, rec0, recs, steps, spec)


def _is_traced(*trees) -> bool:
    return any(isinstance(x, jax.core.Tracer) for t in trees
               for x in jax.tree_util.tree_leaves(t))


def _progress_reporter(progress, steps):
    """``progress`` (None, True, or fn(done, total)) as (fn(done) or None, close)."""
    if progress is None or progress is False:
        return None, lambda: None
    if progress is True:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc="simulate", unit="step", leave=False)

        def report(done):
            bar.update(int(done) - bar.n)
            if int(done) >= steps:
                bar.close()
        return report, bar.close
    if not callable(progress):
        raise TypeError(f"progress must be None, True or a function (done, total) -> None; "
                        f"got {type(progress).__name__}.")
    return (lambda done: progress(int(done), steps)), lambda: None


def memory_budget() -> int:
    """Bytes a recorded trajectory (or a sweep's arrays) may use: half of the
    default device's memory on an accelerator, half of the host's physical memory
    on the CPU.  ``simulate`` refuses runs whose records would exceed it."""
    try:
        stats = jax.devices()[0].memory_stats() or {}
    except Exception:     # backends without memory statistics
        stats = {}
    if "bytes_limit" in stats:
        return int(stats["bytes_limit"]) // 2
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def _check_memory(game, params, spec, steps):
    point = jax.eval_shape(
        lambda p: _record([(n, _bind(fn, game)) for n, fn in spec.metrics], p, spec), params)
    per_record = sum(math.prod(x.shape) * jnp.dtype(x.dtype).itemsize
                     for x in jax.tree_util.tree_leaves(point))
    need = per_record * (steps // spec.every + 1)
    limit = memory_budget()
    if need > limit:
        fit = -(-(per_record * steps) // limit)
        raise ValueError(
            f"simulate would record {steps // spec.every + 1} steps of "
            f"{per_record} bytes each ({need / 2**30:.1f} GiB), more than the "
            f"{limit / 2**30:.1f} GiB it may use here. Record less often, e.g. "
            f"every={max(fit, 2 * spec.every)}, or fewer metrics.")


def _check_positive_int(name, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{name} must be a positive int; got {v!r}.")
    return int(v)


def simulate(game, dyn: Dynamics, params, steps: int, *, every: int = 1, metrics=None,
             events=None, key=None, chunks: int = 1, progress=None,
             record_params: bool = True, unroll: int | None = None) -> Trajectory:
    """Evolve ``params`` under ``dyn`` for ``steps`` steps on ``game``.

    A jitted ``lax.scan``: the game, the dynamics' hyperparameters and the
    start are traced arguments, so new values of the same shapes reuse the
    compiled program, and ``jax.vmap`` over any of them batches the run.

    Args:
      game: a ``games.Game``.  A *stochastic* game, one with ``resample(key)``
        (e.g. ``games.gan_mixture``), needs ``key``: every step then runs on
        ``game.resample(k)`` with ``k`` split from ``key`` inside the scan (the
        same key gives a bitwise-identical run).  Metrics are evaluated on
        ``game`` as given (its current minibatch), so curves are comparable.
      dyn: a ``Dynamics``.
      params: the start, one pytree per player.
      steps: number of steps (a multiple of ``every``).
      every: record params and metrics every this many steps (and at step 0).
      metrics: ``None`` for losses (and distance to the equilibrium when the
        game knows one), names from ``METRICS``, or a dict name -> fn(game, params).
        Functions are static: pass the same function objects to avoid recompiling.
      events: a dict name -> predicate(game, params) -> bool scalar, checked at
        the start and after *every* step (not only recorded ones);
        ``Trajectory.events[name]`` is the first step at which it held (-1:
        never).  E.g. ``{"converged": lambda g, p: distance_to_equilibrium(g, p)
        <= 1e-6}`` gives steps to a tolerance without recording every step.
      key: a PRNG key, for stochastic games.
      chunks: run as this many compiled calls (equal up to the last), carrying
        the state between them; the result is identical to one call.  Long runs
        use it to report progress, and an interrupt lands between chunks.
      progress: ``None``, ``True`` (a ``tqdm.auto`` bar: a widget in notebooks),
        or ``fn(done_steps, total_steps)``, called after each chunk.  Under an
        outer ``jit``/``vmap`` it is called from inside the program, as it runs.
      record_params: record the parameters (``False``: ``Trajectory.params`` is
        ``None``, for large models where only metrics are wanted).
      unroll: steps per iteration of the compiled inner loop (default
        ``min(4, every)`` for games with at most 4096 parameters, the fastest on
        the CPU sweep benchmark, and 1 for larger ones, where unrolling only
        costs compile time, and on the CPU when ``events`` are checked).

    Divergence is a result: ``Trajectory.diverged_at`` is the first step at
    which the state or a recorded metric is not finite (-1 if none); the run
    itself never raises for it.  Before running, the recorded trajectory's size
    is estimated and a run that would not fit in memory is refused with a
    message suggesting ``every=``.

    >>> import jax, jax.numpy as jnp, games, dynamics
    >>> g = games.bilinear(jnp.eye(1))                       # L = xy
    >>> traj = dynamics.simulate(g, dynamics.simgd(10.0), g.init(jax.random.key(0)), 400,
    ...                          every=100)
    >>> int(traj.diverged_at) > 0                              # spirals out, overflows
    True
    """
    check_params(game, params)
    steps, every = _check_positive_int("steps", steps), _check_positive_int("every", every)
    chunks = _check_positive_int("chunks", chunks)
    if steps % every:
        raise ValueError(f"steps ({steps}) must be a multiple of every ({every}); e.g. "
                         f"steps={steps - steps % every or every}.")
    if not isinstance(dyn, Dynamics):
        raise TypeError(f"dyn must be a dynamics.Dynamics (e.g. dynamics.simgd(0.1)); got "
                        f"{type(dyn).__name__}.")
    if unroll is None:
        # Unrolling pays on small games, where the loop is overhead-bound; on large
        # ones (networks) it only multiplies compile time.  On XLA:CPU an event (a
        # reduction) checked every step ends a fusion per step, and unrolled blocks
        # then ran 1.2-2x slower than unroll=1 (benchmarks/rates.py); on a GPU
        # unrolling still pays.
        size = sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(
            jax.eval_shape(lambda p: p, params)))
        per_step_reductions = bool(events) and jax.default_backend() == "cpu"
        unroll = min(4, every) if size <= _SMALL and not per_step_reductions else 1
    else:
        unroll = _check_positive_int("unroll", unroll)
    stochastic = callable(getattr(game, "resample", None))
    if stochastic and key is None:
        raise ValueError(f"{type(game).__name__} is stochastic (it has resample(key)): pass "
                         f"key=jax.random.key(seed) so every step draws a fresh minibatch.")
    if key is not None and not stochastic:
        raise ValueError(f"key= is for stochastic games (with resample(key)); "
                         f"{type(game).__name__} has none. Drop key=.")
    spec = _Spec(every, _normalise_metrics(game, metrics),
                 () if events is None else _named_functions("event", events, None),
                 unroll, stochastic, bool(record_params))
    # Abstract evaluation raises now (e.g. for a missing equilibrium), computes nothing.
    for _, fn in spec.metrics + spec.events:
        jax.eval_shape(lambda g, p, fn=fn: _bind(fn, g)(p), game, params)
    _check_memory(game, params, spec, steps)
    report, close = _progress_reporter(progress, steps)
    traced = _is_traced(game, dyn, params, key)
    if chunks == 1 and report is None:
        return _whole(game, dyn, params, key, steps, spec)
    try:
        return _chunked(game, dyn, params, key, steps, spec, min(chunks, steps // every),
                        report, traced)
    finally:
        if not traced:
            close()
