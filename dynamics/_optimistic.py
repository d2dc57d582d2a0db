"""Optimistic gradient descent (past-gradient extrapolation)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from dynamics._base import Dynamics, axpy, make_dynamics, tree_zeros_like, zero_count
from dynamics._gradients import xi
from games.checks import check_positive

__all__ = ["optimistic", "OptimisticState"]


class OptimisticState(NamedTuple):
    params: tuple       # Params
    prev_grad: tuple    # Params-shaped xi of the previous step (zeros before the first)
    count: jax.Array    # int32 scalar


def _init(hp, params):
    return OptimisticState(params, tree_zeros_like(params), zero_count())


def _step(hp, game, state):
    g = xi(game, state.params)
    first = state.count == 0      # no previous gradient yet: use xi_t twice
    prev = jax.tree_util.tree_map(lambda a, b: jnp.where(first, a, b), g, state.prev_grad)
    params = axpy(-2 * hp["lr"], g, state.params)
    params = axpy(hp["lr"], prev, params)
    return OptimisticState(params, g, state.count + 1)


def optimistic(lr) -> Dynamics:
    """omega <- omega - 2 lr xi_t + lr xi_{t-1}; the first step uses xi_t twice.

    Matches ``optax.optimistic_gradient_descent(lr)`` step for step.
    """
    return make_dynamics(_init, _step, lr=check_positive("lr", lr))
