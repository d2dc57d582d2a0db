"""Complex Adam: Adam whose first moment uses a complex beta_1.

Convention (ours, PAPERS.md section 2): with xi the simultaneous gradient,

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


def adam_direction(hp, mu, v, g, count):
    """New (mu, v) and the update Re(mu_hat) / (sqrt(v_hat) + eps) at step ``count``."""
    b1, b2 = hp["beta1"], hp["beta2"]
    t = count + 1
    mu = jax.tree_util.tree_map(lambda m, gi: (b1 * m - (1 - b1) * gi).astype(m.dtype), mu, g)
    v = jax.tree_util.tree_map(lambda s, gi: (b2 * s + (1 - b2) * gi**2).astype(s.dtype), v, g)
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
    """Complex Adam on every player simultaneously (see the module docstring)."""
    return make_dynamics(_init, _step, **adam_hyper(lr, beta1, beta2, eps))
