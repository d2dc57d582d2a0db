"""Complex momentum and complex Adam as optax ``GradientTransformation``s.

They share their update equations with the dynamics ``complex_momentum`` and
``complex_adam`` (one implementation each), so a JAX user can drop them into an
existing training loop.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from dynamics._base import complex_zeros_like, zero_count
from dynamics._complex_adam import adam_direction, adam_hyper
from dynamics._momentum import momentum_buffer
from games.checks import check_complex, check_complex_step

__all__ = ["optax_complex_momentum", "optax_complex_adam", "OptaxComplexMomentumState",
           "OptaxComplexAdamState"]


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
        mu = momentum_buffer(beta, state.mu, grads)
        updates = jax.tree_util.tree_map(lambda m, g: jnp.real(learning_rate * m).astype(
            g.dtype), mu, grads)
        return updates, OptaxComplexMomentumState(mu)

    return optax.GradientTransformation(init, update)


class OptaxComplexAdamState(NamedTuple):
    count: jax.Array
    mu: optax.Updates
    v: optax.Updates


def optax_complex_adam(learning_rate, beta1, beta2=0.999, eps=1e-8
                       ) -> optax.GradientTransformation:
    """Complex Adam as an optax ``GradientTransformation`` (updates are added)."""
    hp = adam_hyper(learning_rate, beta1, beta2, eps)

    def init(params):
        return OptaxComplexAdamState(zero_count(), complex_zeros_like(params),
                                     jax.tree_util.tree_map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        del params
        mu, v, d = adam_direction(hp, state.mu, state.v, grads, state.count)
        updates = jax.tree_util.tree_map(lambda di, g: (hp["lr"] * di).astype(g.dtype), d,
                                         grads)
        return updates, OptaxComplexAdamState(state.count + 1, mu, v)

    return optax.GradientTransformation(init, update)
