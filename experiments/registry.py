"""Names the command line accepts for games and dynamics: what each is, and its settings.

Every entry carries a description (shown by ``--help`` and written to
results.json) and the keyword arguments it passes to its factory, so a run
records exactly which game and which dynamics it used.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax.numpy as jnp

import dynamics
import games

__all__ = ["GAMES", "DYNAMICS", "GameEntry", "DynamicsEntry", "UsageError", "resolve",
           "describe_choices"]


class UsageError(ValueError):
    """Bad command-line input: the CLI prints the message and exits with status 2.

    Other exceptions keep their traceback, so internal bugs are not mistaken
    for user errors.
    """


@dataclasses.dataclass(frozen=True)
class GameEntry:
    factory: Callable[..., games.Game]
    kwargs: dict
    description: str

    def build(self) -> games.Game:
        return self.factory(**{k: jnp.asarray(v) if isinstance(v, list) else v
                               for k, v in self.kwargs.items()})

    def record(self) -> dict:
        return {"factory": f"games.{self.factory.__name__}", "kwargs": self.kwargs,
                "description": self.description}


# A dynamics keyword whose value comes from a command-line option, e.g. --beta.
@dataclasses.dataclass(frozen=True)
class Option:
    name: str


@dataclasses.dataclass(frozen=True)
class DynamicsEntry:
    factory: Callable[..., dynamics.Dynamics]
    kwargs: dict
    description: str

    def hyperparameters(self, lr: float, options: dict[str, Any]) -> dict:
        return {"lr": lr, **{k: options[v.name] if isinstance(v, Option) else v
                             for k, v in self.kwargs.items()}}

    def build(self, lr: float, options: dict[str, Any]) -> dynamics.Dynamics:
        return self.factory(**self.hyperparameters(lr, options))

    def record(self, lr: float, options: dict[str, Any]) -> dict:
        return {"factory": f"dynamics.{self.factory.__name__}",
                "hyperparameters": self.hyperparameters(lr, options),
                "description": self.description}


# Games with a known equilibrium, so distances and rates are defined.
GAMES: dict[str, GameEntry] = {
    "bilinear": GameEntry(
        games.bilinear, {"A": [[1.0]]},
        "L = xy: bilinear zero-sum game, x and y of shape (1,); equilibrium (0, 0); "
        "Jacobian eigenvalues +-i"),
    "dirac_gan": GameEntry(
        games.dirac_gan, {"gradient_penalty": 0.0},
        "Dirac GAN (Mescheder et al. 2018): data at 0, generator theta, discriminator "
        "D(x) = psi x, both scalars; equilibrium (0, 0); eigenvalues +-i/2"),
    "adversarial": GameEntry(
        games.adversarial, {"gamma_max": 0.5},
        "adversarialness family (Lorraine et al. 2022), gamma_max = 0.5: 7 coordinates "
        "per player, gamma_k = linspace(0, 0.5, 7), a = b = linspace(1/4, 4, 7)"),
    "matching_pennies": GameEntry(
        games.matching_pennies, {"scale": 1.0},
        "matching pennies with sigmoid mixed strategies, one logit per player; "
        "equilibrium (0, 0), purely rotational"),
    "dirac_gan_gp": GameEntry(
        games.dirac_gan, {"gradient_penalty": 0.3},
        "Dirac GAN with the gradient penalty (gamma/2) psi^2 on the discriminator, "
        "gamma = 0.3 (for D(x) = psi x this is the R1 penalty gamma/2 |grad_x D|^2 of "
        "Mescheder et al. 2018); eigenvalues gamma/2 +- sqrt(gamma^2/4 - 1/4)"),
    "bilinear_3d": GameEntry(
        games.bilinear, {"A": [[1.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 0.25]]},
        "L = x^T diag(1, 0.5, 0.25) y: bilinear zero-sum game in 3 + 3 dimensions"),
}

BETA = Option("beta")

DYNAMICS: dict[str, DynamicsEntry] = {
    "simgd": DynamicsEntry(dynamics.simgd, {}, "simultaneous gradient descent"),
    "alternating": DynamicsEntry(dynamics.alternating, {},
                                 "alternating (Gauss-Seidel) gradient descent"),
    "momentum": DynamicsEntry(dynamics.momentum, {"beta": BETA},
                              "heavy-ball momentum, simultaneous, beta from --beta"),
    "momentum_alternating": DynamicsEntry(
        dynamics.momentum, {"beta": BETA, "alternating": True},
        "heavy-ball momentum with alternating updates, beta from --beta (Gidel et al. 2019: "
        "negative beta converges on bilinear games)"),
    "positive_momentum": DynamicsEntry(dynamics.momentum, {"beta": 0.5},
                                       "heavy-ball momentum, simultaneous, beta = +0.5"),
    "extragradient": DynamicsEntry(dynamics.extragradient, {}, "extragradient"),
    "optimistic": DynamicsEntry(dynamics.optimistic, {}, "optimistic gradient descent"),
    "consensus": DynamicsEntry(dynamics.consensus, {"gamma": 1.0},
                               "consensus optimisation, gamma = 1"),
    "sga": DynamicsEntry(dynamics.sga, {"lam": 1.0, "align": True},
                         "symplectic gradient adjustment, lambda = 1 with the alignment sign"),
    "lola": DynamicsEntry(dynamics.lola, {"eta": 1.0}, "exact LOLA, eta = 1"),
}


def resolve(kind: str, requested, registry: dict) -> list[str]:
    """Split comma-separated names and check each against ``registry``."""
    names: list[str] = []
    for item in requested:
        names += [n.strip() for n in str(item).split(",") if n.strip()]
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise UsageError(f"unknown {kind} name{'s' if len(unknown) > 1 else ''} "
                         f"{', '.join(map(repr, unknown))}; choose from "
                         f"{', '.join(registry)} (comma-separated or repeated).")
    if not names:
        raise UsageError(f"no {kind} given; choose from {', '.join(registry)}.")
    return list(dict.fromkeys(names))


def describe_choices(title: str, registry: dict) -> str:
    """An argparse epilog listing each name with its description."""
    width = max(map(len, registry))
    return f"{title}:\n" + "\n".join(f"  {n:<{width}}  {e.description}"
                                     for n, e in registry.items())
