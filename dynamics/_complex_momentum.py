"""Complex momentum (Lorraine, Acuna, Vicol & Duvenaud 2022, "Complex Momentum for
Optimization in Games", AISTATS).

Parameters stay real; the momentum buffer is complex:

    mu    <- beta mu - xi(omega)
    omega <- omega + Re(lr mu)

with complex ``beta`` and real or complex ``lr``.  Because Re(mu) averages the
buffers of beta and its conjugate, this is aggregated momentum over the pair
(beta, conj beta); with two real buffers it is recurrently linked momentum.
"""

from __future__ import annotations

from typing import NamedTuple

import jax

from dynamics._base import Dynamics, complex_zeros_like, make_dynamics, zero_count
from dynamics._momentum import step_alternating, step_simultaneous
from games.checks import check_complex, check_complex_step

__all__ = ["complex_momentum", "ComplexMomentumState"]


class ComplexMomentumState(NamedTuple):
    params: tuple       # Params (real)
    mu: tuple           # Params-shaped complex buffer (one per player)
    count: jax.Array    # int32 scalar


def _init(hp, params):
    return ComplexMomentumState(params, complex_zeros_like(params), zero_count())


def complex_momentum(lr, beta, *, alternating: bool = False) -> Dynamics:
    """Complex momentum: mu <- beta mu - xi; omega <- omega + Re(lr mu).

    Simultaneous update (every player from the same point)::

        mu_{t+1}    = beta mu_t - xi(omega_t)
        omega_{t+1} = omega_t + Re(lr mu_{t+1})

    With ``alternating=True``, for i = 1..n in turn: mu_i <- beta mu_i -
    dL_i/dtheta_i(theta_1', ..., theta_{i-1}', theta_i, ...); theta_i <- theta_i
    + Re(lr mu_i).  Parameters stay real; only the buffer is complex.

    Args:
      lr: step size, real (> 0) or complex (non-zero).
      beta: momentum coefficient, complex (real works and is heavy-ball
        momentum); |beta| < 1 keeps the buffer from growing on its own.
      alternating: players update in turn, each with its own buffer, each
        seeing the others' newest parameters.

    State: ``ComplexMomentumState(params, mu, count)``: ``mu`` is
    Params-shaped and complex (complex64 for float32 parameters, complex128 for
    float64), zeros at init.  On a linear game the step is the closed-form
    ``augmented_matrix(J, lr, beta)``.

    A practical start is |beta| ~ 0.9, arg(beta) ~ pi/8, but it does not
    converge for every lr (on L = xy it diverges at lr = 0.5): check the rate
    with ``spectral_radius`` or sweep with ``spectral_radius_grid``.

    >>> import games, dynamics, jax, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))
    >>> dyn = dynamics.complex_momentum(0.5, 0.72 * jnp.exp(3j * jnp.pi / 8))
    >>> round(float(dynamics.spectral_radius(g, dyn, g.equilibrium())), 2)
    0.92

    References:
      Lorraine, Acuna, Vicol & Duvenaud (2022), "Complex Momentum for
      Optimization in Games", AISTATS.  Lorraine (2024), "Scalable Nested
      Optimization for Deep Learning", PhD thesis, University of Toronto.
    """
    step = step_alternating if alternating else step_simultaneous
    return make_dynamics(_init, step, lr=check_complex_step("lr", lr),
                         beta=check_complex("beta", beta))
