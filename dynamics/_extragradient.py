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
    """Extragradient: extrapolate, then step from the original point::

        omega' = omega - lr * xi(omega)          (look-ahead)
        omega <- omega - lr * xi(omega')

    Two evaluations of xi per step.

    Args:
      lr: step size (both half-steps), real and > 0; may be traced.

    State: ``GradientState(params, count)``, no buffers.

    Linearised at an equilibrium the step is I - lr J + lr^2 J^2; on L = xy
    the rate is sqrt(1 - lr^2 + lr^4), below 1 for 0 < lr < 1.

    >>> import games, dynamics, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))                      # L_1 = xy = -L_2
    >>> dyn = dynamics.extragradient(0.5)
    >>> round(float(dynamics.spectral_radius(g, dyn, g.equilibrium())), 4)
    0.9014

    References:
      Korpelevich (1976), "The extragradient method for finding saddle points
      and other problems", Ekonomika i Matematicheskie Metody.
      Gidel, Berard, Vignoud, Vincent & Lacoste-Julien (2019), "A Variational
      Inequality Perspective on Generative Adversarial Networks", ICLR.
    """
    return make_dynamics(init_gradient_state, _step, lr=check_positive("lr", lr))
