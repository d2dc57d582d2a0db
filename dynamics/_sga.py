"""Symplectic gradient adjustment (Balduzzi et al. 2018, "The Mechanics of n-Player
Differentiable Games")."""

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
    """Descend xi + lambda A^T xi, with A = (J - J^T)/2 the antisymmetric part of J::

        omega <- omega - lr * (xi(omega) + lambda * A(omega)^T xi(omega))

    One evaluation of xi, one J v and one J^T v product per step.

    Args:
      lr: step size, real and > 0; may be traced.
      lam: lambda, real (default 1; 0 is simgd).
      align: with True (default) lambda's sign follows Balduzzi et al.'s rule
        lambda = lam * sign(<xi, grad H> <A^T xi, grad H> / d + 1/10), with
        grad H = J^T xi (H = 1/2 |xi|^2) and d the total number of parameters;
        with False, lambda = lam.

    State: ``GradientState(params, count)``, no buffers.

    At an equilibrium (xi = 0) the aligned sign is +1.  On a bilinear zero-sum
    game J is antisymmetric, so A = J and SGA is consensus optimisation with
    gamma = lam; on L = xy the rate is sqrt((1 - lr lam)^2 + lr^2).

    >>> import games, dynamics, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))                      # L_1 = xy = -L_2
    >>> dyn = dynamics.sga(0.5, lam=1.0)
    >>> round(float(dynamics.spectral_radius(g, dyn, g.equilibrium())), 4)
    0.7071

    References:
      Balduzzi, Racanière, Martens, Foerster, Tuyls & Graepel (2018), "The
      Mechanics of n-Player Differentiable Games", ICML.  Letcher, Balduzzi,
      Racanière, Martens, Foerster, Tuyls & Graepel (2019), "Differentiable
      Game Mechanics", JMLR.
    """
    step = _step_aligned if align else _step_plain
    return make_dynamics(init_gradient_state, step, lr=check_positive("lr", lr),
                         lam=check_real("lam", lam))
