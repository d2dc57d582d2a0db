"""Symplectic gradient adjustment (Balduzzi et al. 2018)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from dynamics._base import Dynamics, GradientState, axpy, make_dynamics, init_gradient_state, tree_vdot
from dynamics._gradients import xi_jvp_vjp
from games.checks import check_positive, check_real

__all__ = ["sga"]


def _step(hp, game, state, align):
    g, jvp, vjp = xi_jvp_vjp(game, state.params)
    jt_g = vjp(g)                                   # J^T xi = grad of 1/2 |xi|^2
    at_g = axpy(-0.5, jvp(g), jax.tree_util.tree_map(lambda a: 0.5 * a, jt_g))  # A^T xi
    lam = hp["lam"]
    if align:
        d = sum(x.size for x in jax.tree_util.tree_leaves(g))
        s = tree_vdot(g, jt_g) * tree_vdot(at_g, jt_g) / d + 0.1
        lam = lam * jnp.sign(s)
    return GradientState(axpy(-hp["lr"], axpy(lam, at_g, g), state.params), state.count + 1)


def _step_aligned(hp, game, state):
    return _step(hp, game, state, True)


def _step_plain(hp, game, state):
    return _step(hp, game, state, False)


def sga(lr, lam=1.0, align=True) -> Dynamics:
    """Descend xi + lambda A^T xi, with A = (J - J^T)/2 the antisymmetric part of J.

    With ``align=True`` lambda's sign follows Balduzzi et al.'s rule
    sign(<xi, grad H> <A^T xi, grad H> / d + 1/10), grad H = J^T xi.
    """
    step = _step_aligned if align else _step_plain
    return make_dynamics(init_gradient_state, step, lr=check_positive("lr", lr),
                         lam=check_real("lam", lam))
