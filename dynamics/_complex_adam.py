"""Complex Adam: Adam whose first moment uses a complex beta_1.

Convention (ours: the complex-momentum paper gives the first moment, the rest
follows Adam): with xi the simultaneous gradient,

    mu <- beta1 mu - (1 - beta1) xi              (complex)
    v  <- beta2 v + (1 - beta2) xi^2             (real)
    mu_hat = mu / (1 - beta1^t),  v_hat = v / (1 - beta2^t)
    omega <- omega + lr Re(mu_hat) / (sqrt(v_hat) + eps)

The bias correction uses the complex factor (1 - beta1^t).  For real beta1 this
is exactly Adam (``optax.adam``), with mu = -m.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from dynamics._base import Dynamics, complex_zeros_like, make_dynamics, zero_count
from dynamics._gradients import xi
from games.checks import check_complex, check_positive, check_real

__all__ = ["complex_adam", "ComplexAdamState"]


def adam_direction(hp, mu, v, g, count, g_sq=None):
    """New (mu, v) and the update Re(mu_hat) / (sqrt(v_hat) + eps) at step ``count``.

    ``g_sq`` is what enters the second moment, ``g**2`` leafwise by default.  The
    optax version passes ``|z|^2`` for a complex parameter z, whose ``g`` and
    ``mu`` leaves then hold (Re, Im) along a leading axis of size 2 (``v`` does
    not, and broadcasts)."""
    b1, b2 = hp["beta1"], hp["beta2"]
    t = count + 1
    if g_sq is None:
        g_sq = jax.tree_util.tree_map(lambda gi: gi**2, g)
    mu = jax.tree_util.tree_map(lambda m, gi: (b1 * m - (1 - b1) * gi).astype(m.dtype), mu, g)
    v = jax.tree_util.tree_map(lambda s, q: (b2 * s + (1 - b2) * q).astype(s.dtype), v, g_sq)
    c1 = 1 - b1**t
    c2 = 1 - b2**t

    def direction(m, s):
        return jnp.real(m / c1) / (jnp.sqrt(s / c2) + hp["eps"])
    return mu, v, jax.tree_util.tree_map(direction, mu, v)


class ComplexAdamState(NamedTuple):
    params: tuple       # Params (real)
    mu: tuple           # complex first moment
    v: tuple            # real second moment
    count: jax.Array    # int32 scalar


def _init(hp, params):
    return ComplexAdamState(params, complex_zeros_like(params),
                            jax.tree_util.tree_map(jnp.zeros_like, params), zero_count())


def _step(hp, game, state):
    mu, v, d = adam_direction(hp, state.mu, state.v, xi(game, state.params), state.count)
    params = jax.tree_util.tree_map(lambda p, di: (p + hp["lr"] * di).astype(p.dtype),
                                    state.params, d)
    return ComplexAdamState(params, mu, v, state.count + 1)


def adam_hyper(lr, beta1, beta2, eps):
    check_positive("lr", lr)
    check_complex("beta1", beta1)
    check_real("beta2", beta2)
    check_positive("eps", eps)
    return dict(lr=lr, beta1=beta1, beta2=beta2, eps=eps)


def complex_adam(lr, beta1, beta2=0.999, eps=1e-8) -> Dynamics:
    """Complex Adam on every player simultaneously.

    With xi the simultaneous gradient and t the step (from 1)::

        mu <- beta1 mu - (1 - beta1) xi              (complex buffer)
        v  <- beta2 v + (1 - beta2) xi^2             (real buffer)
        omega <- omega + lr Re(mu / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)

    Args:
      lr: step size (> 0).
      beta1: first-moment coefficient, complex (|beta1| < 1); a real beta1 gives
        exactly Adam (``from_optax(optax.adam(lr, b1=beta1))``, with mu = -m).
      beta2: second-moment coefficient, real in [0, 1).
      eps: added to the root of the second moment (> 0).

    State: ``ComplexAdamState(params, mu, v, count)``; ``mu`` is shaped like the
    parameters with the matching complex dtype (complex128 for float64),
    ``v`` like the parameters in their real dtype.  Complex beta1 needs smaller
    steps than Adam's usual ones (see ``optax_complex_adam`` for measurements).

    >>> import games, dynamics, jax, jax.numpy as jnp
    >>> g = games.dirac_gan(0.3)
    >>> dyn = dynamics.complex_adam(0.05, 0.5 * jnp.exp(0.4j))
    >>> traj = dynamics.simulate(g, dyn, (jnp.asarray(1.0), jnp.asarray(1.0)), 400,
    ...                          every=400, metrics=("distance",))
    >>> bool(traj.metrics["distance"][-1] < 0.1 * traj.metrics["distance"][0])
    True

    References:
      Lorraine, Acuna, Vicol & Duvenaud (2022), "Complex Momentum for Optimization
      in Games", AISTATS.  Kingma & Ba (2015), "Adam: A Method for Stochastic
      Optimization", ICLR.
    """
    return make_dynamics(_init, _step, **adam_hyper(lr, beta1, beta2, eps))
