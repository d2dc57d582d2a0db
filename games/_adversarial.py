"""The adversarialness family of quadratic games (Lorraine et al. 2022).

Lorraine, Acuna, Vicol & Duvenaud (2022), "Complex Momentum for Optimization in
Games", AISTATS, interpolate between minimisation and a bilinear zero-sum game
with an adversarialness coefficient gamma in [0, 1].
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp

from games._base import Game, register_game
from games.checks import as_float_matrix, as_real_scalar, is_concrete

__all__ = ["adversarial"]


@register_game
class Adversarial(Game):
    """Per coordinate k (summed over k):
    L_1 = 1/2 (1 - g_k) b_k x_k^2 - g_k a_k x_k y_k,
    L_2 = 1/2 (1 - g_k) b_k y_k^2 + g_k a_k x_k y_k.

    Fields: ``gammas``, ``a``, ``b``, each of shape (dim,), data leaves.
    """

    gammas: jax.Array
    a: jax.Array
    b: jax.Array
    num_players = 2

    def losses(self, params):
        x, y = params
        g, a, b = self.gammas, self.a, self.b
        cross = jnp.sum(g * a * x * y)
        l1 = 0.5 * jnp.sum((1 - g) * b * x**2) - cross
        l2 = 0.5 * jnp.sum((1 - g) * b * y**2) + cross
        return jnp.stack([l1, l2])

    def init(self, key):
        kx, ky = jax.random.split(key)
        d = self.gammas.shape[0]
        return (jax.random.normal(kx, (d,), self.a.dtype),
                jax.random.normal(ky, (d,), self.a.dtype))

    def equilibrium(self):
        z = jnp.zeros_like(self.a)
        return (z, z)


def adversarial(gamma_max=None, *, gammas=None, dim: int = 7) -> Adversarial:
    """The adversarialness family with ``a = b = linspace(1/4, 4, dim)``.

    Losses, summed over the coordinates k = 1..dim (player 1 owns x, player 2
    owns y)::

        L_1 = sum_k 1/2 (1 - g_k) b_k x_k^2 - g_k a_k x_k y_k
        L_2 = sum_k 1/2 (1 - g_k) b_k y_k^2 + g_k a_k x_k y_k

    so g_k = 0 is two independent minimisations of b_k x_k^2 / 2 and b_k y_k^2 / 2
    and g_k = 1 the bilinear zero-sum game L_1 = -a_k x_k y_k = -L_2.
    Coordinate k contributes the Jacobian eigenvalues (1 - g_k) b_k +- i g_k a_k.

    Args:
      gamma_max: in [0, 1] (default 1); ``gammas = linspace(0, gamma_max, dim)``
        (so gamma_1 = 0 and gamma_dim = gamma_max): gamma_max = 0 gives two
        independent minimisations; gamma_max = 1 makes the last coordinate
        purely bilinear while the first stays a pure minimisation.  It may be a
        traced array, so ``jax.vmap`` sweeps the family.
      gammas: alternatively, each coordinate's adversarialness, shape (dim,)
        (not checked against [0, 1]).  For a purely bilinear game pass
        ``gammas=jnp.ones(dim)``.  Pass ``gamma_max`` or ``gammas``, not both.
      dim: the number of coordinates per player (ignored with ``gammas``).

    Params: ``(x, y)``, each of shape (dim,).  The unique equilibrium is the
    origin (``equilibrium()``); it is locally attracting for small-step
    gradient descent when every g_k < 1 (all eigenvalues have positive real
    parts) and purely rotational in coordinates with g_k = 1.

    >>> import games, jax, numpy as np
    >>> g = games.adversarial(0.5, dim=2)                    # gammas (0, 0.5), a = b = (1/4, 4)
    >>> J = np.asarray(jax.jit(games.jacobian)(g, g.equilibrium()))
    >>> sorted((round(float(z.real), 2), round(float(z.imag), 2)) for z in np.linalg.eigvals(J))
    [(0.25, 0.0), (0.25, 0.0), (2.0, -2.0), (2.0, 2.0)]

    References:
      Lorraine, Acuna, Vicol & Duvenaud (2022), "Complex Momentum for
      Optimization in Games", AISTATS (the adversarialness family).
    """
    if gammas is not None and gamma_max is not None:
        raise ValueError(f"pass gamma_max or gammas, not both; got gamma_max={gamma_max!r} "
                         f"and gammas={gammas!r}.")
    if gammas is None:
        gamma_max = 1.0 if gamma_max is None else gamma_max
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
            raise ValueError(f"dim must be a positive int; got {dim!r}.")
        dim = int(dim)
        gamma_max = as_real_scalar("gamma_max", gamma_max)
        if is_concrete(gamma_max) and not 0.0 <= float(gamma_max) <= 1.0:
            raise ValueError(f"gamma_max must lie in [0, 1]; got {float(gamma_max)}.")
        gammas = jnp.linspace(0.0, 1.0, dim, dtype=gamma_max.dtype) * gamma_max
    else:
        gammas = as_float_matrix("gammas", gammas, 1)
        dim = gammas.shape[0]
    gammas = jnp.asarray(gammas, dtype=jnp.result_type(float))
    ab = jnp.linspace(0.25, 4.0, dim, dtype=gammas.dtype)
    return Adversarial(gammas, ab, ab)
