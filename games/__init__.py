"""Differentiable n-player games.

Each game is a frozen dataclass registered as a JAX pytree; ``Params`` is a tuple
with one pytree per player and player ``i`` minimises ``game.losses(params)[i]``.
"""

from games._base import (Game, Params, check_params, jacobian, jacobian_operator,
                         player_gradient, register_game, simultaneous_gradient)
from games.adversarial import adversarial
from games.bilinear import bilinear
from games.custom import from_losses
from games.dirac_gan import dirac_gan
from games.gan_mixture import GANMixture, gan_mixture
from games.ipd import IPD_STRATEGIES, ipd, ipd_strategy
from games.matching_pennies import matching_pennies

__all__ = [
    "Game", "Params", "check_params", "jacobian", "jacobian_operator",
    "player_gradient", "register_game", "simultaneous_gradient",
    "adversarial", "bilinear", "from_losses", "dirac_gan", "gan_mixture", "GANMixture",
    "IPD_STRATEGIES", "ipd", "ipd_strategy", "matching_pennies",
]
