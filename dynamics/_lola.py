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
    variant).  All players update simultaneously with step ``lr``.
    """
    return make_dynamics(init_gradient_state, _step, lr=check_positive("lr", lr),
                         eta=check_real("eta", eta))
