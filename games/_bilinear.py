"""Bilinear zero-sum games L_1 = x^T A y + b^T x + c^T y, L_2 = -L_1.

The standard test bed for rotational game dynamics (Daskalakis et al. 2018;
Gidel et al. 2019, "Negative Momentum for Improved Game Dynamics").
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from games._base import Game, register_game
from games.checks import as_float_matrix

__all__ = ["bilinear"]


@register_game
class Bilinear(Game):
    """Two players, x in R^m and y in R^n; J = [[0, A], [-A^T, 0]] (constant).

    Fields: ``A`` (m, n), ``b`` (m,), ``c`` (n,), all data leaves.
    """

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

    Losses (player 1 owns x, player 2 owns y)::

        L_1(x, y) = x^T A y + b^T x + c^T y,        L_2 = -L_1,

    so player 1 minimises the payoff over x and player 2 maximises it over y.
    Simultaneous gradient xi = (A y + b, -(A^T x + c)); game Jacobian
    J = [[0, A], [-A^T, 0]], whose eigenvalues are +-i s_k for the singular
    values s_k of A (and zeros when m != n): purely rotational, so simultaneous
    gradient descent spirals out and alternating descent cycles.

    Args:
      A: payoff matrix, real, shape (m, n); ints are converted to floats.
      b: linear term for x, shape (m,) (default zeros).
      c: linear term for y, shape (n,) (default zeros).

    Params: ``(x, y)`` with x of shape (m,) and y of shape (n,), in ``A``'s
    dtype.  ``equilibrium()`` is x* = -(A^+)^T c, y* = -A^+ b (A^+ the
    pseudo-inverse): the unique equilibrium when A is square and invertible,
    the origin when b = c = 0, and a least-squares point when xi = 0 has no
    solution.  ``bilinear([[1.0]])`` is L = xy, with J eigenvalues +-i.

    >>> import games, jax.numpy as jnp
    >>> g = games.bilinear([[1.0]])                          # L_1 = xy = -L_2
    >>> g.losses((jnp.array([2.0]), jnp.array([3.0]))).tolist()
    [6.0, -6.0]

    References:
      Daskalakis, Ilyas, Syrgkanis & Zeng (2018), "Training GANs with Optimism",
      ICLR.  Gidel, Askari Hemmat, Pezeshki, Le Priol, Huang, Lacoste-Julien &
      Mitliagkas (2019), "Negative Momentum for Improved Game Dynamics", AISTATS.
    """
    A = as_float_matrix("A (the payoff matrix)", A, 2)
    m, n = A.shape
    b = jnp.zeros(m, A.dtype) if b is None else as_float_matrix("b", b, 1, (m,))
    c = jnp.zeros(n, A.dtype) if c is None else as_float_matrix("c", c, 1, (n,))
    return Bilinear(A, b.astype(A.dtype), c.astype(A.dtype))
