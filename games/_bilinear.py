"""Bilinear zero-sum games L_1 = x^T A y + b^T x + c^T y, L_2 = -L_1."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from games._base import Game, register_game
from games.checks import as_float_matrix

__all__ = ["bilinear"]


@register_game
class Bilinear(Game):
    """Two players, x in R^m and y in R^n; J = [[0, A], [-A^T, 0]]."""

    A: jax.Array
    b: jax.Array
    c: jax.Array
    num_players = 2

    def losses(self, params):
        x, y = params
        l1 = x @ self.A @ y + self.b @ x + self.c @ y
        return jnp.stack([l1, -l1])

    def init(self, key):
        kx, ky = jax.random.split(key)
        m, n = self.A.shape
        return (jax.random.normal(kx, (m,), self.A.dtype),
                jax.random.normal(ky, (n,), self.A.dtype))

    def equilibrium(self):
        # xi = (A y + b, -(A^T x + c)) = 0; least squares when A is not invertible.
        pinv = jnp.linalg.pinv(self.A)
        return (-pinv.T @ self.c, -pinv @ self.b)


def bilinear(A, b=None, c=None) -> Bilinear:
    """The bilinear zero-sum game with payoff matrix ``A`` (shape (m, n)).

    Player 1 minimises ``x^T A y + b^T x + c^T y`` over x, player 2 maximises
    it over y.  ``bilinear([[1.0]])`` is L = xy, whose simultaneous-gradient
    Jacobian has eigenvalues +-i.
    """
    A = as_float_matrix("A (the payoff matrix)", A, 2)
    m, n = A.shape
    b = jnp.zeros(m, A.dtype) if b is None else as_float_matrix("b", b, 1, (m,))
    c = jnp.zeros(n, A.dtype) if c is None else as_float_matrix("c", c, 1, (n,))
    return Bilinear(A, b.astype(A.dtype), c.astype(A.dtype))
