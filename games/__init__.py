"""Differentiable n-player games.

Each game is a frozen dataclass registered as a JAX pytree; ``Params`` is a tuple
with one pytree per player and player ``i`` minimises ``game.losses(params)[i]``.
The implementation modules are private; every public name is exported here
(``games.checks``, the shared input checks, and ``games.strategies``, the
hypothesis strategies, are public modules).
"""

from games import checks
from games._adversarial import adversarial
from games._base import (Game, Params, check_params, jacobian, jacobian_operator,
                         player_gradient, register_game, simultaneous_gradient,
                         unchecked_simultaneous_gradient)
from games._bilinear import bilinear
from games._custom import CustomGame, from_losses
from games._digits import Digits, load_digits
from games._dirac_gan import DiracGAN, dirac_gan
from games._distillation import (DatasetDistillation, MinibatchDatasetDistillation,
                                 dataset_distillation)
from games._gan_mixture import KINDS as GAN_MIXTURE_KINDS
from games._gan_mixture import GANMixture, gan_mixture, mixture_modes
from games._hyperparameter import REGULARIZERS as HYPERPARAMETER_REGULARIZERS
from games._hyperparameter import (HyperparameterOptimization,
                                   MinibatchHyperparameterOptimization,
                                   hyperparameter_optimization)
from games._ipd import IPD_STRATEGIES, ipd, ipd_strategy
from games._ipd_interop import IPD_CLASSES, ipd_policy_class, ipd_policy_profile, to_axelrod
from games._matching_pennies import matching_pennies
from games._small_ipd import SmallIPD, small_ipd
from games._transforms import MixedGame, RandomSubspaceGame, mix, random_subspace

__all__ = [
    "Game", "Params", "check_params", "jacobian", "jacobian_operator",
    "player_gradient", "register_game", "simultaneous_gradient",
    "unchecked_simultaneous_gradient", "checks",
    "adversarial", "bilinear", "from_losses", "CustomGame", "dirac_gan", "DiracGAN",
    "gan_mixture", "GANMixture", "GAN_MIXTURE_KINDS", "mixture_modes",
    "IPD_STRATEGIES", "ipd", "ipd_strategy", "matching_pennies",
    "load_digits", "Digits", "hyperparameter_optimization", "HyperparameterOptimization",
    "MinibatchHyperparameterOptimization", "HYPERPARAMETER_REGULARIZERS",
    "dataset_distillation", "DatasetDistillation", "MinibatchDatasetDistillation",
    "IPD_CLASSES", "ipd_policy_class", "ipd_policy_profile", "to_axelrod",
    "small_ipd", "SmallIPD", "mix", "MixedGame", "random_subspace", "RandomSubspaceGame",
]
