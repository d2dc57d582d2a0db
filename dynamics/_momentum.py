"""Heavy-ball momentum (real beta, negative allowed), simultaneous or alternating.

The update below is written once and shared with complex momentum, which runs
it with complex buffers, and with its optax transformation.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from dynamics._base import Dynamics, make_dynamics, tree_zeros_like, zero_count
from dynamics._gradients import player_gradient, xi
from games.checks import check_positive, check_real

__all__ = ["momentum", "MomentumState"]


class MomentumState(NamedTuple):
    params: tuple       # Params
    mu: tuple           # Params-shaped momentum buffer (real here, complex in complex momentum)
    count: jax.Array    # int32 scalar


def momentum_buffer(beta, mu, g):
    """mu <- beta mu - g, leafwise; each buffer keeps its dtype."""
    return jax.tree_util.tree_map(lambda m, gi: (beta * m - gi).astype(m.dtype), mu, g)


def momentum_move(lr, mu, theta):
    """theta <- theta + Re(lr mu), leafwise; parameters keep their (real) dtype."""
    return jax.tree_util.tree_map(lambda t, m: (t + jnp.real(lr * m)).astype(t.dtype),
                                  theta, mu)


def step_simultaneous(hp, game, state):
    """Every player's buffer and parameters from the gradient at the current point."""
    mu = momentum_buffer(hp["beta"], state.mu, xi(game, state.params))
    return state._replace(params=momentum_move(hp["lr"], mu, state.params), mu=mu,
                          count=state.count + 1)


def step_alternating(hp, game, state):
    """Players in order, each with its own buffer, each seeing the earlier players'
    new parameters."""
    params, mu = state.params, list(state.mu)
    for i in range(game.num_players):        # static player count: unrolled
        mu[i] = momentum_buffer(hp["beta"], mu[i], player_gradient(game, params, i))
        params = params[:i] + (momentum_move(hp["lr"], mu[i], params[i]),) + params[i + 1:]
    return state._replace(params=params, mu=tuple(mu), count=state.count + 1)


def _init(hp, params):
    return MomentumState(params, tree_zeros_like(params), zero_count())


def momentum(lr, beta, *, alternating: bool = False) -> Dynamics:
    """Heavy-ball momentum with a real, possibly negative, coefficient.

    Simultaneous (every player from the same point)::

        mu    <- beta mu - xi(omega)
        omega <- omega + lr mu

    With ``alternating=True`` the players update in turn, each with its own
    buffer and each seeing the earlier players' new parameters (Gauss-Seidel):
    for i = 1..n, mu_i <- beta mu_i - dL_i/dtheta_i(theta_1', ..., theta_{i-1}',
    theta_i, ...); theta_i <- theta_i + lr mu_i.

    On L = xy simultaneous momentum diverges for every real beta, while
    alternating updates with negative momentum converge (Gidel, Askari Hemmat,
    Pezeshki, Le Priol, Huang, Lacoste-Julien & Mitliagkas 2019, "Negative
    momentum for improved game dynamics"). Parameters: any real floating
    pytrees; the buffer is shaped like them. For complex beta see
    ``complex_momentum``.

    >>> import games, dynamics, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))                     # L = xy
    >>> rate = lambda dyn: float(dynamics.spectral_radius(g, dyn, g.equilibrium()))
    >>> rate(dynamics.momentum(0.5, -0.5)) > 1 > rate(dynamics.momentum(0.5, -0.5, alternating=True))
    True

    References:
      Polyak (1964), "Some methods of speeding up the convergence of iteration
      methods", USSR Computational Mathematics and Mathematical Physics.
      Gidel, Askari Hemmat, Pezeshki, Le Priol, Huang, Lacoste-Julien &
      Mitliagkas (2019), "Negative Momentum for Improved Game Dynamics", AISTATS.
    """
    check_real("beta", beta, "Complex momentum coefficients need complex_momentum(); "
               "momentum() takes real beta only.")
    step = step_alternating if alternating else step_simultaneous
    return make_dynamics(_init, step, lr=check_positive("lr", lr), beta=beta)
