"""Consensus optimisation (Mescheder, Nowozin & Geiger 2017, "The Numerics of GANs")."""

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
    """Descend xi + gamma * grad(1/2 |xi|^2) = xi + gamma J^T xi::

        omega <- omega - lr * (xi(omega) + gamma * J(omega)^T xi(omega))

    (Mescheder et al. write it as ascent on v - gamma grad L, with v = -xi and
    L = 1/2 |v|^2.)  One evaluation of xi and one J^T xi product per step.

    Args:
      lr: step size, real and > 0; may be traced.
      gamma: consensus weight, real (default 1; gamma = 0 is simgd, the
        method uses gamma > 0).

    State: ``GradientState(params, count)``, no buffers.

    Linearised at an equilibrium the step is I - lr (J + gamma J^T J); on
    L = xy (J^T J = I) the rate is sqrt((1 - lr gamma)^2 + lr^2).

    >>> import games, dynamics, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))                      # L_1 = xy = -L_2
    >>> dyn = dynamics.consensus(0.5, gamma=1.0)
    >>> round(float(dynamics.spectral_radius(g, dyn, g.equilibrium())), 4)
    0.7071

    References:
      Mescheder, Nowozin & Geiger (2017), "The Numerics of GANs", NeurIPS.
    """
    return make_dynamics(init_gradient_state, _step, lr=check_positive("lr", lr),
                         gamma=check_real("gamma", gamma))
