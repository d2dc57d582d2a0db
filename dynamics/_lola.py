"""Learning with opponent-learning awareness, exact-gradient version (Foerster et al. 2018)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dynamics._base import Dynamics, GradientState, axpy, make_dynamics, init_gradient_state
from dynamics._gradients import xi
from games.checks import check_positive, check_real

__all__ = ["lola"]


def _step(hp, game, state):
    params, n = state.params, game.num_players
    losses, loss_vjp = jax.vjp(game.losses, params)
    eye = jnp.eye(n, dtype=losses.dtype)
    g, xi_vjp = jax.vjp(lambda p: xi(game, p), params)
    new = []
    for i in range(n):
        # v_j = dL_i/dtheta_j for j != i, 0 for j = i.  As a cotangent of xi's VJP
        # it is held fixed while differentiating, which is the original variant;
        # no stop_gradient, so linearize() still sees how v moves with the state.
        full = loss_vjp(eye[i])[0]
        v = tuple(jax.tree_util.tree_map(jnp.zeros_like, full[j]) if j == i else full[j]
                  for j in range(n))
        correction = xi_vjp(v)[0][i]                 # d/dtheta_i sum_j v_j . xi_j
        direction = axpy(-hp["eta"], correction, g[i])
        new.append(axpy(-hp["lr"], direction, params[i]))
    return GradientState(tuple(new), state.count + 1)


def lola(lr, eta) -> Dynamics:
    """Exact LOLA: player i descends

        dL_i/dtheta_i - eta * d/dtheta_i sum_{j != i} [dL_i/dtheta_j] . dL_j/dtheta_j,

    the first-order effect on L_i of every opponent's next naive step
    -eta dL_j/dtheta_j, with the factor dL_i/dtheta_j held fixed (the original
    variant).  All players update simultaneously with step ``lr``::

        theta_i <- theta_i - lr * (dL_i/dtheta_i - eta * sum_{j != i} J_ji^T dL_i/dtheta_j)

    with J_ji = d(dL_j/dtheta_j)/dtheta_i the (j, i) block of the game Jacobian.

    Exact: the gradients and second derivatives come from the game's losses
    (e.g. the exact IPD values of ``games.ipd``), not from policy-gradient
    estimates.  Per step: one forward pass, one reverse pass per player and
    one xi-VJP per player.

    Args:
      lr: each player's own step size, real and > 0; may be traced.
      eta: the opponents' assumed (naive) learning rate, real (0 is simgd).

    State: ``GradientState(params, count)``, no buffers.

    On L = xy the direction is (J + eta I) omega, so the rate is
    sqrt((1 - lr eta)^2 + lr^2).

    >>> import games, dynamics, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))                      # L_1 = xy = -L_2
    >>> dyn = dynamics.lola(0.5, eta=1.0)
    >>> round(float(dynamics.spectral_radius(g, dyn, g.equilibrium())), 4)
    0.7071

    References:
      Foerster, Chen, Al-Shedivat, Whiteson, Abbeel & Mordatch (2018),
      "Learning with Opponent-Learning Awareness", AAMAS.
    """
    return make_dynamics(init_gradient_state, _step, lr=check_positive("lr", lr),
                         eta=check_real("eta", eta))
