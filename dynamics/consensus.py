"""Consensus optimisation (Mescheder et al. 2017)."""

from __future__ import annotations

from typing import NamedTuple

import jax

from dynamics._base import (Dynamics, axpy, check_positive, check_real, make_dynamics,
                            zero_count)
from dynamics.gradients import xi_jvp_vjp

__all__ = ["consensus", "ConsensusState"]


class ConsensusState(NamedTuple):
    params: tuple       # Params
    count: jax.Array    # int32 scalar


def _init(hp, params):
    return ConsensusState(params, zero_count())


def _step(hp, game, state):
    g, _, vjp = xi_jvp_vjp(game, state.params)
    direction = axpy(hp["gamma"], vjp(g), g)          # xi + gamma J^T xi
    return ConsensusState(axpy(-hp["lr"], direction, state.params), state.count + 1)


def consensus(lr, gamma=1.0) -> Dynamics:
    """Descend xi + gamma * grad(1/2 |xi|^2) = xi + gamma J^T xi."""
    return make_dynamics(_init, _step, lr=check_positive("lr", lr),
                         gamma=check_real("gamma", gamma))
