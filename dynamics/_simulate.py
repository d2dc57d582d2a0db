"""Run a dynamics on a game as one jitted ``lax.scan``."""

from __future__ import annotations

import functools
import numbers
import operator
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from dynamics._base import Dynamics
from dynamics._gradients import xi
from games import check_params

__all__ = ["simulate", "Trajectory", "METRICS", "distance_to_equilibrium"]


class Trajectory(NamedTuple):
    """What ``simulate`` recorded.

    params: the Params at steps ``0, every, 2 every, ..., steps`` (leading time axis).
    metrics: dict name -> array with the same leading time axis.
    final: the dynamics' State after the last step.
    diverged_at: int scalar, the first step after which the state held a
      non-finite value, or -1 when it stayed finite.
    steps: int array of the recorded step indices.
    """

    params: Any
    metrics: dict
    final: Any
    diverged_at: jax.Array
    steps: jax.Array


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


# A metric may carry ``prepare(game) -> (params -> value)`` to compute what does
# not change along the run (here the equilibrium) once, outside the loop.
distance_to_equilibrium.prepare = _distance_from


def _grad_norm(game, params):
    return jnp.linalg.norm(ravel_pytree(xi(game, params))[0])


METRICS: dict[str, Callable] = {
    "losses": lambda game, params: game.losses(params),
    "distance": distance_to_equilibrium,
    "grad_norm": _grad_norm,
}


def _normalise_metrics(game, metrics):
    if metrics is None:
        # eval_shape: learn whether an equilibrium is known without computing it.
        known = jax.eval_shape(game.equilibrium) is not None
        names = ("losses", "distance") if known else ("losses",)
        return tuple((n, METRICS[n]) for n in names)
    if callable(metrics):
        return (("metric", metrics),)
    if isinstance(metrics, str):
        metrics = (metrics,)
    if isinstance(metrics, dict):
        items = tuple(metrics.items())
    else:
        items = tuple(metrics)
    out = []
    for item in items:
        if isinstance(item, str):
            if item not in METRICS:
                raise ValueError(f"unknown metric {item!r}; built-in metrics are "
                                 f"{sorted(METRICS)}, or pass name -> fn(game, params).")
            out.append((item, METRICS[item]))
        elif isinstance(item, tuple) and len(item) == 2 and callable(item[1]):
            out.append((str(item[0]), item[1]))
        else:
            raise TypeError(f"metrics must be names, a dict name -> fn(game, params), or "
                            f"(name, fn) pairs; got {item!r}.")
    # Abstract evaluation raises now (e.g. for a missing equilibrium), computes nothing.
    shapes = jax.eval_shape(game.init, jax.random.key(0))
    for _, fn in out:
        jax.eval_shape(lambda g, p, fn=fn: _bind(fn, g)(p), game, shapes)
    return tuple(out)


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


@functools.partial(jax.jit, static_argnames=("steps", "every", "metrics", "unroll"))
def _simulate(game, dyn, params, steps, every, metrics, unroll):
    # Performance notes (measured with benchmarks/sweep.py, a vmapped 4096-setting
    # sweep on a 2-core CPU, where the loop is overhead-bound):
    # * The inner loop is a scan over blocks of ``unroll`` steps written out in
    #   Python, so XLA fuses a block's elementwise updates into a few kernels.
    # * Divergence is tracked *elementwise*: ``first`` holds, per state element,
    #   the first step at which it was non-finite.  Its update is elementwise and
    #   fuses with the step; the reduction to one step number happens once, after
    #   the loop.  A per-step ``all(isfinite(.))`` reduction instead ends a fusion
    #   after every step and made the unrolled loop 2-4x slower.
    bound = [(name, _bind(fn, game)) for name, fn in metrics]

    def record(state):
        return state.params, {name: fn(state.params) for name, fn in bound}

    state0 = dyn.init(params)
    first0 = {shape: jnp.full(shape, _NEVER, jnp.int32) for shape in _finite_by_shape(state0)}

    def advance(carry, n):
        state, first, t = carry
        for _ in range(n):
            state = dyn.step(game, state)
            t = t + 1
            finite = _finite_by_shape(state)
            first = {s: jnp.minimum(first[s], jnp.where(finite[s], _NEVER, t)) for s in first}
        return state, first, t

    blocks, rest = divmod(every, unroll)

    def outer(carry, _):
        carry, _ = jax.lax.scan(lambda c, _: (advance(c, unroll), None), carry, None,
                                length=blocks)
        carry = advance(carry, rest)
        return carry, record(carry[0])

    carry0 = (state0, first0, jnp.int32(0))
    (state, first, _), recs = jax.lax.scan(outer, carry0, None, length=steps // every)
    first = functools.reduce(jnp.minimum, [jnp.min(f) for f in first.values()],
                             jnp.int32(_NEVER))
    diverged_at = jnp.where(first == _NEVER, -1, first)
    rec0 = record(state0)
    recs = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), rec0, recs)
    return Trajectory(recs[0], recs[1], state, diverged_at,
                      jnp.arange(0, steps + 1, every, dtype=jnp.int32))


def simulate(game, dyn: Dynamics, params, steps: int, *, every: int = 1,
             metrics=None, unroll: int | None = None) -> Trajectory:
    """Evolve ``params`` under ``dyn`` for ``steps`` steps on ``game``.

    One jitted ``lax.scan``: the game, the dynamics' hyperparameters and the
    start are traced arguments, so new values of the same shapes reuse the
    compiled program, and ``jax.vmap`` over any of them batches the run.

    Args:
      game: a ``games.Game``.
      dyn: a ``Dynamics``.
      params: the start, one pytree per player.
      steps: number of steps (a multiple of ``every``).
      every: record params and metrics every this many steps (and at step 0).
      metrics: ``None`` for losses (and distance to the equilibrium when the
        game knows one), names from ``METRICS``, or a dict name -> fn(game, params).
        Functions are static: pass the same function objects to avoid recompiling.
      unroll: steps per iteration of the compiled inner loop (default
        ``min(4, every)``, the fastest on the CPU sweep benchmark; larger values
        compile more slowly).

    Divergence is a result: ``Trajectory.diverged_at`` is the first step whose
    state is not finite (-1 if none); the run itself never raises for it.
    """
    check_params(game, params)
    for name, v in (("steps", steps), ("every", every)):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int; got {v!r}.")
    if steps % every:
        raise ValueError(f"steps ({steps}) must be a multiple of every ({every}); e.g. "
                         f"steps={steps - steps % every or every}.")
    if not isinstance(dyn, Dynamics):
        raise TypeError(f"dyn must be a dynamics.Dynamics (e.g. dynamics.simgd(0.1)); got "
                        f"{type(dyn).__name__}.")
    if unroll is None:
        unroll = min(4, every)
    elif isinstance(unroll, bool) or not isinstance(unroll, numbers.Integral) or unroll < 1:
        raise ValueError(f"unroll must be a positive int; got {unroll!r}.")
    unroll, steps, every = int(unroll), int(steps), int(every)
    return _simulate(game, dyn, params, steps, every, _normalise_metrics(game, metrics),
                     unroll)
