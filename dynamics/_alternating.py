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

    Update, for i = 1..n in turn (primes mark parameters already updated in
    this step)::

        theta_i' = theta_i - lr * dL_i/dtheta_i(theta_1', ..., theta_{i-1}', theta_i, ...)

    One player-gradient evaluation per player per step.

    Args:
      lr: step size, real and > 0; may be traced.

    State: ``GradientState(params, count)``, no buffers.

    On L = xy the step matrix [[1, -lr], [lr, 1 - lr^2]] has determinant 1 and,
    for 0 < lr < 2, both eigenvalues on the unit circle: the iterates neither
    converge nor diverge, the linear rate is exactly 1 (Gidel et al. 2019).
    Below, one step from x = y = 1: y' = 1 + 0.5 * 0.5 uses the new x' = 0.5.

    >>> import games, dynamics, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))                      # L_1 = xy = -L_2
    >>> dyn = dynamics.alternating(0.5)
    >>> [float(p[0]) for p in dyn.step(g, dyn.init((jnp.ones(1), jnp.ones(1)))).params]
    [0.5, 1.25]
    >>> round(float(dynamics.spectral_radius(g, dyn, g.equilibrium())), 4)
    1.0

    References:
      Gidel, Askari Hemmat, Pezeshki, Le Priol, Huang, Lacoste-Julien &
      Mitliagkas (2019), "Negative Momentum for Improved Game Dynamics",
      AISTATS.
    """
    return make_dynamics(init_gradient_state, _step, lr=check_positive("lr", lr))
