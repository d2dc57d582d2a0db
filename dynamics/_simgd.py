"""Simultaneous gradient descent: omega <- omega - lr * xi(omega)."""

from __future__ import annotations


from dynamics._base import Dynamics, GradientState, axpy, make_dynamics, init_gradient_state
from dynamics._gradients import xi
from games.checks import check_positive

__all__ = ["simgd"]


def _step(hp, game, state):
    return GradientState(axpy(-hp["lr"], xi(game, state.params), state.params), state.count + 1)


def simgd(lr) -> Dynamics:
    """Simultaneous gradient descent, every player stepping on its own loss.

    omega_{t+1} = omega_t - lr * xi(omega_t).  On L = xy its linear rate is
    sqrt(1 + lr^2) > 1: it spirals out.

    >>> import games, dynamics, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))
    >>> s = dynamics.simgd(0.5).step(g, dynamics.simgd(0.5).init((jnp.ones(1), jnp.ones(1))))
    >>> [float(p[0]) for p in s.params]
    [0.5, 1.5]
    """
    return make_dynamics(init_gradient_state, _step, lr=check_positive("lr", lr))
