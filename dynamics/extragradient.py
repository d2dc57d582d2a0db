"""Extragradient: a look-ahead step, then a step with the look-ahead gradient."""

from __future__ import annotations

from typing import NamedTuple

import jax

from dynamics._base import Dynamics, axpy, check_positive, make_dynamics, zero_count
from dynamics.gradients import xi

__all__ = ["extragradient", "ExtragradientState"]


class ExtragradientState(NamedTuple):
    params: tuple       # Params
    count: jax.Array    # int32 scalar


def _init(hp, params):
    return ExtragradientState(params, zero_count())


def _step(hp, game, state):
    look = axpy(-hp["lr"], xi(game, state.params), state.params)
    return ExtragradientState(axpy(-hp["lr"], xi(game, look), state.params), state.count + 1)


def extragradient(lr) -> Dynamics:
    """omega' = omega - lr xi(omega);  omega <- omega - lr xi(omega').

    Two gradient evaluations per step; on L = xy the rate is sqrt(1 - lr^2 + lr^4).
    """
    return make_dynamics(_init, _step, lr=check_positive("lr", lr))
