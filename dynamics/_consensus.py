"""Consensus optimisation (Mescheder et al. 2017)."""

from __future__ import annotations


from dynamics._base import Dynamics, GradientState, axpy, make_dynamics, init_gradient_state
from dynamics._gradients import xi_jvp_vjp
from games.checks import check_positive, check_real

__all__ = ["consensus"]


def _step(hp, game, state):
    g, _, vjp = xi_jvp_vjp(game, state.params)
    direction = axpy(hp["gamma"], vjp(g), g)          # xi + gamma J^T xi
    return GradientState(axpy(-hp["lr"], direction, state.params), state.count + 1)


def consensus(lr, gamma=1.0) -> Dynamics:
    """Descend xi + gamma * grad(1/2 |xi|^2) = xi + gamma J^T xi."""
    return make_dynamics(init_gradient_state, _step, lr=check_positive("lr", lr),
                         gamma=check_real("gamma", gamma))
