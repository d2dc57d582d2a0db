"""Simultaneous gradient descent: omega <- omega - lr * xi(omega)."""

from __future__ import annotations

from typing import NamedTuple

import jax

from dynamics._base import Dynamics, axpy, check_positive, make_dynamics, zero_count
from dynamics.gradients import xi

__all__ = ["simgd", "SimGDState"]


class SimGDState(NamedTuple):
    params: tuple       # Params
    count: jax.Array    # int32 scalar, steps taken


def _init(hp, params):
    return SimGDState(params, zero_count())


def _step(hp, game, state):
    return SimGDState(axpy(-hp["lr"], xi(game, state.params), state.params), state.count + 1)


def simgd(lr) -> Dynamics:
    """Simultaneous gradient descent, every player stepping on its own loss.

    omega_{t+1} = omega_t - lr * xi(omega_t).  On L = xy its linear rate is
    sqrt(1 + lr^2) > 1: it spirals out.

    >>> import games, dynamics, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))
    >>> s = dynamics.simgd(0.5).step(g, dynamics.simgd(0.5).init((jnp.ones(1), jnp.ones(1))))
    >>> [float(p[0]) for p in s.params]
    [0.5, 1.5]
    """
    return make_dynamics(_init, _step, lr=check_positive("lr", lr))
