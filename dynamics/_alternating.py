"""Alternating (Gauss-Seidel) gradient descent over n players in order."""

from __future__ import annotations


from dynamics._base import Dynamics, GradientState, axpy, make_dynamics, init_gradient_state
from dynamics._gradients import player_gradient
from games.checks import check_positive

__all__ = ["alternating"]


def _step(hp, game, state):
    params = state.params
    for i in range(game.num_players):        # static player count: unrolled
        theta_i = axpy(-hp["lr"], player_gradient(game, params, i), params[i])
        params = params[:i] + (theta_i,) + params[i + 1:]
    return GradientState(params, state.count + 1)


def alternating(lr) -> Dynamics:
    """Alternating gradient descent: player 1 steps, player 2 sees the new theta_1, ...

    theta_i <- theta_i - lr * dL_i/dtheta_i(theta_1', ..., theta_{i-1}', theta_i, ...).
    On L = xy it neither converges nor diverges: the linear rate is exactly 1.
    """
    return make_dynamics(init_gradient_state, _step, lr=check_positive("lr", lr))
