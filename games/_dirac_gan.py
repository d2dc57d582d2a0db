"""The Dirac GAN of Mescheder, Geiger & Nowozin (2018).

Mescheder, Geiger & Nowozin (2018), "Which Training Methods for GANs do actually
Converge?", ICML: a one-parameter generator against a one-parameter linear
discriminator, data a point mass at 0.
"""

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
    Field: ``gradient_penalty`` (gamma), a 0-d data leaf.
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
    """The Dirac GAN; player 0 is the generator, player 1 the discriminator.

    Data is a point mass at 0, the generator's distribution a point mass at
    theta, the discriminator D(x) = psi x.  With f(t) = -log(1 + e^-t) =
    log sigmoid(t), the GAN objective of Mescheder et al. (2018) is
    L(theta, psi) = f(psi theta) + f(0), which the generator minimises and the
    discriminator maximises (the minimax, saturating form), plus a gradient
    penalty on the discriminator (R1, which here equals R2)::

        L_G = f(psi theta)
        L_D = -f(psi theta) - f(0) + gamma/2 psi^2      (gamma = gradient_penalty)

    Args:
      gradient_penalty: gamma >= 0, the weight of the penalty
        gamma/2 |grad_x D|^2 = gamma/2 psi^2; may be traced.

    Params: ``(theta, psi)``, two 0-d arrays (float32, or float64 under x64).
    The unique equilibrium is (0, 0), where J = [[0, 1/2], [-1/2, gamma]] with
    eigenvalues gamma/2 +- sqrt(gamma^2/4 - 1/4): +-i/2 without the penalty
    (purely rotational: simultaneous gradient descent diverges, alternating
    descent cycles) and positive real parts for every gamma > 0.

    >>> import games, jax
    >>> g = games.dirac_gan(gradient_penalty=1.0)
    >>> jax.jit(games.jacobian)(g, g.equilibrium()).tolist()   # jit: one compile
    [[0.0, 0.5], [-0.5, 1.0]]

    References:
      Mescheder, Geiger & Nowozin (2018), "Which Training Methods for GANs do
      actually Converge?", ICML.
    """
    gradient_penalty = as_real_scalar("gradient_penalty", gradient_penalty)
    if is_concrete(gradient_penalty) and float(gradient_penalty) < 0:
        raise ValueError(f"gradient_penalty must be >= 0; got {float(gradient_penalty)}.")
    return DiracGAN(gradient_penalty)
