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

    Update (every player from the same point)::

        omega_{t+1} = omega_t - lr * xi(omega_t)

    i.e. theta_i <- theta_i - lr * dL_i/dtheta_i for all i at once (gradient
    descent-ascent on a zero-sum game).  One evaluation of xi per step.

    Args:
      lr: step size, real and > 0; may be traced (``jax.vmap`` over lr).

    State: ``GradientState(params, count)``: ``params`` shaped like the
    game's Params, ``count`` an int32 scalar; no buffers.

    Linearised at an equilibrium the step is I - lr J, so for small lr simgd
    converges locally iff every eigenvalue lambda of J has a positive real
    part, at rate max |1 - lr lambda|.  On L = xy (eigenvalues +-i) the rate is
    sqrt(1 + lr^2) > 1 for every lr: it spirals out.

    >>> import games, dynamics, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))                      # L_1 = xy = -L_2
    >>> s = dynamics.simgd(0.5).step(g, dynamics.simgd(0.5).init((jnp.ones(1), jnp.ones(1))))
    >>> [float(p[0]) for p in s.params]                     # x - lr y, y + lr x
    [0.5, 1.5]

    References:
      Mescheder, Nowozin & Geiger (2017), "The Numerics of GANs", NeurIPS
      (local convergence of simultaneous gradient descent from the eigenvalues
      of J).
    """
    return make_dynamics(init_gradient_state, _step, lr=check_positive("lr", lr))
