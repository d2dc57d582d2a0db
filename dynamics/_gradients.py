"""Game derivatives the dynamics use, without per-call input checks.

``simulate`` and ``linearize`` check params once at trace time; inside a step we
use the unchecked versions.
"""

from __future__ import annotations

import jax

from games import player_gradient  # noqa: F401  (re-exported)
from games import unchecked_simultaneous_gradient as xi

__all__ = ["xi", "player_gradient", "xi_jvp_vjp"]


def xi_jvp_vjp(game, params):
    """xi(params) plus the functions v -> J v and u -> J^T u on Params pytrees."""
    f = lambda p: xi(game, p)
    g, vjp = jax.vjp(f, params)

    def jvp(v):
        return jax.jvp(f, (params,), (v,))[1]
    return g, jvp, lambda u: vjp(u)[0]
