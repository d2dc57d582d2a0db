"""Names the command line accepts for games and dynamics, with their defaults."""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp

import dynamics
import games

__all__ = ["GAMES", "DYNAMICS", "UsageError", "resolve"]


class UsageError(ValueError):
    """Bad command-line input: the CLI prints the message and exits with status 2.

    Other exceptions keep their traceback, so internal bugs are not mistaken
    for user errors.
    """

# Games with a known equilibrium, so distances and rates are defined.
GAMES: dict[str, Callable[[], games.Game]] = {
    "bilinear": lambda: games.bilinear(jnp.eye(1)),                 # L = xy, 2-D
    "dirac_gan": lambda: games.dirac_gan(),
    "adversarial": lambda: games.adversarial(0.5),
    "matching_pennies": lambda: games.matching_pennies(),
    "dirac_gan_gp": lambda: games.dirac_gan(gradient_penalty=0.3),
    "bilinear_3d": lambda: games.bilinear(jnp.diag(jnp.array([1.0, 0.5, 0.25]))),
}

# name -> (dynamics built from a step size, description for tables)
DYNAMICS: dict[str, tuple[Callable[[float], dynamics.Dynamics], str]] = {
    "simgd": (dynamics.simgd, "simultaneous GD"),
    "alternating": (dynamics.alternating, "alternating GD"),
    "momentum": (lambda lr: dynamics.momentum(lr, -0.5), "momentum beta=-0.5"),
    "positive_momentum": (lambda lr: dynamics.momentum(lr, 0.5), "momentum beta=+0.5"),
    "extragradient": (dynamics.extragradient, "extragradient"),
    "optimistic": (dynamics.optimistic, "optimistic GD"),
    "consensus": (lambda lr: dynamics.consensus(lr, 1.0), "consensus gamma=1"),
    "sga": (lambda lr: dynamics.sga(lr, 1.0), "SGA lambda=1, aligned"),
    "lola": (lambda lr: dynamics.lola(lr, 1.0), "exact LOLA eta=1"),
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
