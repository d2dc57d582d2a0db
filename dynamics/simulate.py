"""Run a dynamics on a game as one jitted ``lax.scan``."""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from dynamics._base import Dynamics
from dynamics.gradients import xi
from games._base import check_params

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


def distance_to_equilibrium(game, params):
    """Euclidean distance of all players' parameters to ``game.equilibrium()``."""
    eq = game.equilibrium()
    if eq is None:
        raise ValueError(f"{type(game).__name__} has no known equilibrium, so the "
                         f"'distance' metric is undefined; pass metrics=('losses',).")
    return jnp.linalg.norm(ravel_pytree(params)[0] - ravel_pytree(eq)[0])


def _grad_norm(game, params):
    return jnp.linalg.norm(ravel_pytree(xi(game, params))[0])


METRICS: dict[str, Callable] = {
    "losses": lambda game, params: game.losses(params),
    "distance": distance_to_equilibrium,
    "grad_norm": _grad_norm,
}


def _normalise_metrics(game, metrics):
    if metrics is None:
        names = ("losses", "distance") if game.equilibrium() is not None else ("losses",)
        return tuple((n, METRICS[n]) for n in names)
    if callable(metrics):
        return (("metric", metrics),)
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
    return tuple(out)


def _finite(tree):
    leaves = [x for x in jax.tree_util.tree_leaves(tree)
              if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]
    return functools.reduce(operator.and_, [jnp.all(jnp.isfinite(x)) for x in leaves],
                            jnp.bool_(True))


@functools.partial(jax.jit, static_argnames=("steps", "every", "metrics", "unroll"))
def _simulate(game, dyn, params, steps, every, metrics, unroll):
    def record(state):
        return state.params, {name: fn(game, state.params) for name, fn in metrics}

    def inner(carry, _):
        state, diverged_at, t = carry
        state = dyn.step(game, state)
        t = t + 1
        diverged_at = jnp.where((diverged_at < 0) & ~_finite(state), t, diverged_at)
        return (state, diverged_at, t), None

    def outer(carry, _):
        carry, _ = jax.lax.scan(inner, carry, None, length=every, unroll=unroll)
        return carry, record(carry[0])

    state0 = dyn.init(params)
    carry0 = (state0, jnp.int32(-1), jnp.int32(0))
    carry, recs = jax.lax.scan(outer, carry0, None, length=steps // every)
    first = record(state0)
    recs = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a[None], b]), first, recs)
    return Trajectory(recs[0], recs[1], carry[0], carry[1],
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
      unroll: ``lax.scan`` unroll of the inner loop (default min(8, every)).

    Divergence is a result: ``Trajectory.diverged_at`` is the first step whose
    state is not finite (-1 if none); the run itself never raises for it.
    """
    check_params(game, params)
    for name, v in (("steps", steps), ("every", every)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int; got {v!r}.")
    if steps % every:
        raise ValueError(f"steps ({steps}) must be a multiple of every ({every}); e.g. "
                         f"steps={steps - steps % every or every}.")
    if not isinstance(dyn, Dynamics):
        raise TypeError(f"dyn must be a dynamics.Dynamics (e.g. dynamics.simgd(0.1)); got "
                        f"{type(dyn).__name__}.")
    unroll = min(8, every) if unroll is None else int(unroll)
    return _simulate(game, dyn, params, steps, every, _normalise_metrics(game, metrics),
                     unroll)
