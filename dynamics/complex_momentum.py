"""Complex momentum (Lorraine, Acuna, Vicol & Duvenaud, AISTATS 2022).

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
import jax.numpy as jnp
import numpy as np
import optax

from dynamics._base import Dynamics, check_scalar, make_dynamics, zero_count
from dynamics.gradients import player_gradient, xi

__all__ = ["complex_momentum", "ComplexMomentumState", "optax_complex_momentum",
           "check_complex_step", "check_complex"]


def check_complex(name: str, value, *, scalar: bool = True):
    """A real or complex number (or array, with ``scalar=False``), finite when concrete."""
    if isinstance(value, bool) or isinstance(value, str) or value is None:
        raise TypeError(f"{name} must be a (complex) number or array; got {value!r}.")
    if not isinstance(value, jax.core.Tracer):
        arr = np.asarray(value)
        if not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"{name} must be a (complex) number or array; got {value!r}.")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite; got {value!r}.")
    return check_scalar(name, value) if scalar else value


def check_complex_step(name: str, value):
    """Real step sizes must be > 0; complex ones non-zero."""
    check_complex(name, value)
    if not isinstance(value, jax.core.Tracer):
        arr = np.asarray(value)
        if np.iscomplexobj(arr):
            bad = np.any(arr == 0)
        else:
            bad = not np.all(arr > 0)
        if bad:
            raise ValueError(f"{name} must be positive (or a non-zero complex number); got "
                             f"{value!r}. Pass e.g. {name}=0.1.")
    return value


def complex_dtype(x):
    return jnp.result_type(x, jnp.complex64)


def complex_zeros_like(tree):
    return jax.tree_util.tree_map(lambda p: jnp.zeros(p.shape, complex_dtype(p)), tree)


def momentum_update(lr, beta, mu, g, theta):
    """One player's (mu, theta) update; leafwise over pytrees."""
    mu = jax.tree_util.tree_map(lambda m, gi: (beta * m - gi).astype(m.dtype), mu, g)
    theta = jax.tree_util.tree_map(lambda t, m: (t + jnp.real(lr * m)).astype(t.dtype),
                                   theta, mu)
    return mu, theta


class ComplexMomentumState(NamedTuple):
    params: tuple       # Params (real)
    mu: tuple           # Params-shaped complex buffer (one per player)
    count: jax.Array    # int32 scalar


def _init(hp, params):
    return ComplexMomentumState(params, complex_zeros_like(params), zero_count())


def _step_simultaneous(hp, game, state):
    mu, params = momentum_update(hp["lr"], hp["beta"], state.mu, xi(game, state.params),
                                 state.params)
    return ComplexMomentumState(params, mu, state.count + 1)


def _step_alternating(hp, game, state):
    params, mu = state.params, list(state.mu)
    for i in range(game.num_players):
        mu[i], theta_i = momentum_update(hp["lr"], hp["beta"], mu[i],
                                         player_gradient(game, params, i), params[i])
        params = params[:i] + (theta_i,) + params[i + 1:]
    return ComplexMomentumState(params, tuple(mu), state.count + 1)


def complex_momentum(lr, beta, *, alternating: bool = False) -> Dynamics:
    """Complex momentum: mu <- beta mu - xi; omega <- omega + Re(lr mu).

    Args:
      lr: step size, real (> 0) or complex.
      beta: momentum coefficient, complex (real works and is heavy-ball momentum).
      alternating: players update in turn, each with its own buffer, each
        seeing the others' newest parameters.

    A practical start is |beta| ~ 0.9, arg(beta) ~ pi/8, but it does not
    converge for every lr (on L = xy it diverges at lr = 0.5): check the rate
    with ``spectral_radius`` or sweep with ``spectral_radius_grid``.

    >>> import games, dynamics, jax, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))
    >>> dyn = dynamics.complex_momentum(0.5, 0.72 * jnp.exp(3j * jnp.pi / 8))
    >>> round(float(dynamics.spectral_radius(g, dyn, g.equilibrium())), 2)
    0.92
    """
    step = _step_alternating if alternating else _step_simultaneous
    return make_dynamics(_init, step, lr=check_complex_step("lr", lr),
                         beta=check_complex("beta", beta))


class OptaxComplexMomentumState(NamedTuple):
    mu: optax.Updates   # complex buffer shaped like the params


def optax_complex_momentum(learning_rate, beta) -> optax.GradientTransformation:
    """Complex momentum as an optax ``GradientTransformation``.

    ``update(grads, state)`` returns ``Re(lr mu)`` with ``mu <- beta mu - grads``;
    add it with ``optax.apply_updates``.  Composes with ``optax.chain`` (e.g.
    after ``optax.clip_by_global_norm``).
    """
    check_complex_step("learning_rate", learning_rate)
    check_complex("beta", beta)

    def init(params):
        return OptaxComplexMomentumState(complex_zeros_like(params))

    def update(grads, state, params=None):
        del params
        mu = jax.tree_util.tree_map(lambda m, g: (beta * m - g).astype(m.dtype), state.mu,
                                    grads)
        updates = jax.tree_util.tree_map(lambda m, g: jnp.real(learning_rate * m).astype(
            g.dtype), mu, grads)
        return updates, OptaxComplexMomentumState(mu)

    return optax.GradientTransformation(init, update)
