"""Matching pennies with sigmoid-parameterised mixed strategies."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from games._base import Game, register_game
from games.checks import as_real_scalar

__all__ = ["matching_pennies"]


@register_game
class MatchingPennies(Game):
    """p = sigmoid(theta_1), q = sigmoid(theta_2), L_1 = -(2p-1)(2q-1), L_2 = -L_1.

    ``scale`` multiplies the payoffs; the unique equilibrium theta = 0 is purely
    rotational (J = [[0, -1/4], [1/4, 0]] * scale).
    """

    scale: jax.Array
    num_players = 2

    def losses(self, params):
        p, q = jax.nn.sigmoid(params[0]), jax.nn.sigmoid(params[1])
        l1 = -self.scale * (2 * p - 1) * (2 * q - 1)
        return jnp.stack([l1, -l1])

    def init(self, key):
        k1, k2 = jax.random.split(key)
        dt = jnp.result_type(self.scale)
        return (jax.random.normal(k1, (), dt), jax.random.normal(k2, (), dt))

    def equilibrium(self):
        z = jnp.zeros((), jnp.result_type(self.scale))
        return (z, z)


def matching_pennies(scale=1.0) -> MatchingPennies:
    """Matching pennies; player 0 wants to match, player 1 to mismatch."""
    return MatchingPennies(as_real_scalar("scale", scale))
