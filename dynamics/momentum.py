"""Heavy-ball momentum with a real (possibly negative) coefficient."""

from __future__ import annotations

from typing import NamedTuple

import jax

from dynamics._base import (Dynamics, axpy, check_positive, check_real, make_dynamics,
                            tree_scale, tree_zeros_like, zero_count)
from dynamics.gradients import xi

__all__ = ["momentum", "MomentumState"]


class MomentumState(NamedTuple):
    params: tuple       # Params
    mu: tuple           # Params-shaped momentum buffer
    count: jax.Array    # int32 scalar


def _init(hp, params):
    return MomentumState(params, tree_zeros_like(params), zero_count())


def _step(hp, game, state):
    mu = axpy(-1.0, xi(game, state.params), tree_scale(hp["beta"], state.mu))
    return MomentumState(axpy(hp["lr"], mu, state.params), mu, state.count + 1)


def momentum(lr, beta) -> Dynamics:
    """Simultaneous heavy-ball momentum: mu <- beta mu - xi; omega <- omega + lr mu.

    ``beta`` is real and may be negative (Gidel et al. 2019).  For complex beta
    see complex momentum.
    """
    check_real("beta", beta, "Complex momentum coefficients need a complex-momentum "
               "dynamics; momentum() takes real beta only.")
    return make_dynamics(_init, _step, lr=check_positive("lr", lr), beta=beta)
