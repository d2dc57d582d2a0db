"""Matching pennies with sigmoid-parameterised mixed strategies.

The standard two-action zero-sum normal-form game, used as a differentiable
game by Balduzzi et al. (2018) and Letcher et al. (2019).
"""

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
    rotational (J = [[0, -1/4], [1/4, 0]] * scale).  Field: ``scale``, a 0-d
    data leaf.
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
    """Matching pennies; player 0 wants to match, player 1 to mismatch.

    Each player plays heads with probability p = sigmoid(theta_1) (player 0)
    and q = sigmoid(theta_2) (player 1).  Payoffs are +1 to the matcher and -1
    to the mismatcher on a match, the reverse on a mismatch, so the expected
    payoff to player 0 is (2p - 1)(2q - 1) and::

        L_1 = -scale (2p - 1)(2q - 1),        L_2 = -L_1.

    Args:
      scale: a real number multiplying both losses (default 1); may be traced.

    Params: ``(theta_1, theta_2)``, two 0-d arrays of logits.  The unique Nash
    equilibrium is the uniform mix p = q = 1/2, i.e. theta = (0, 0)
    (``equilibrium()``), where J = scale * [[0, -1/4], [1/4, 0]] has
    eigenvalues +-i scale/4: purely rotational.

    >>> import games, jax.numpy as jnp
    >>> g = games.matching_pennies()
    >>> heads, tails = jnp.array(20.0), jnp.array(-20.0)    # near-pure strategies
    >>> [round(v, 3) for v in g.losses((heads, heads)).tolist()]   # a match
    [-1.0, 1.0]
    >>> [round(v, 3) for v in g.losses((heads, tails)).tolist()]   # a mismatch
    [1.0, -1.0]

    References:
      Balduzzi, Racanière, Martens, Foerster, Tuyls & Graepel (2018), "The
      Mechanics of n-Player Differentiable Games", ICML.  Letcher, Balduzzi,
      Racanière, Martens, Foerster, Tuyls & Graepel (2019), "Differentiable
      Game Mechanics", JMLR.
    """
    return MatchingPennies(as_real_scalar("scale", scale))
