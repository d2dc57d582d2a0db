"""Extragradient: a look-ahead step, then a step with the look-ahead gradient."""

from __future__ import annotations


from dynamics._base import Dynamics, GradientState, axpy, make_dynamics, init_gradient_state
from dynamics._gradients import xi
from games.checks import check_positive

__all__ = ["extragradient"]


def _step(hp, game, state):
    look = axpy(-hp["lr"], xi(game, state.params), state.params)
    return GradientState(axpy(-hp["lr"], xi(game, look), state.params), state.count + 1)


def extragradient(lr) -> Dynamics:
    """omega' = omega - lr xi(omega);  omega <- omega - lr xi(omega').

    Two gradient evaluations per step; on L = xy the rate is sqrt(1 - lr^2 + lr^4).
    """
    return make_dynamics(init_gradient_state, _step, lr=check_positive("lr", lr))
