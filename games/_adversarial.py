"""The adversarialness family of quadratic games (complex momentum paper)."""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp

from games._base import Game, register_game
from games.checks import as_float_matrix, as_real_scalar, is_concrete

__all__ = ["adversarial"]


@register_game
class Adversarial(Game):
    """Per coordinate k:
    L_1 = 1/2 (1 - g_k) b_k x_k^2 - g_k a_k x_k y_k,
    L_2 = 1/2 (1 - g_k) b_k y_k^2 + g_k a_k x_k y_k.
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

    ``gammas`` default to ``linspace(0, gamma_max, dim)`` (so gamma_1 = 0 and
    gamma_dim = gamma_max): gamma_max = 0 gives two independent minimisations;
    gamma_max = 1 makes the last coordinate purely bilinear while the first stays
    a pure minimisation.  For a purely bilinear game pass ``gammas=jnp.ones(dim)``.
    Coordinate k contributes the Jacobian eigenvalues (1 - g_k) b_k +- i g_k a_k.
    ``gamma_max`` (default 1) may be a traced array, so ``jax.vmap`` sweeps the family.
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
