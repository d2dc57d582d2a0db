"""The Dirac GAN of Mescheder et al. (2018)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from games._base import Game, register_game
from games.checks import as_real_scalar, is_concrete

__all__ = ["dirac_gan"]


@register_game
class DiracGAN(Game):
    """Data at 0, generator theta, discriminator D(x) = psi x, f(t) = -log(1 + e^-t).

    L_G = f(psi theta), L_D = -f(psi theta) - f(0) + (gamma / 2) psi^2.
    At (0, 0), J = [[0, 1/2], [-1/2, gamma]]: eigenvalues gamma/2 +- sqrt(gamma^2/4 - 1/4).
    """

    gradient_penalty: jax.Array
    num_players = 2

    def losses(self, params):
        theta, psi = params
        f = lambda t: -jax.nn.softplus(-t)
        lg = f(psi * theta)
        ld = -lg - f(0.0) + 0.5 * self.gradient_penalty * psi**2
        return jnp.stack([lg, ld])

    def init(self, key):
        kt, kp = jax.random.split(key)
        dt = jnp.result_type(self.gradient_penalty)
        return (jax.random.normal(kt, (), dt), jax.random.normal(kp, (), dt))

    def equilibrium(self):
        z = jnp.zeros((), jnp.result_type(self.gradient_penalty))
        return (z, z)


def dirac_gan(gradient_penalty=0.0) -> DiracGAN:
    """The Dirac GAN; player 0 is the generator, player 1 the discriminator."""
    gradient_penalty = as_real_scalar("gradient_penalty", gradient_penalty)
    if is_concrete(gradient_penalty) and float(gradient_penalty) < 0:
        raise ValueError(f"gradient_penalty must be >= 0; got {float(gradient_penalty)}.")
    return DiracGAN(gradient_penalty)
