"""Aggregated and recurrently linked momentum (the generalisations of complex momentum).

Aggregated momentum with real coefficients is that of Lucas, Sun, Zemel & Grosse
(2019); Lorraine, Acuna, Vicol & Duvenaud (2022) allow complex coefficients and
show complex momentum to be both aggregated momentum over a conjugate pair and
recurrently linked momentum over two real buffers.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dynamics._base import Dynamics, make_dynamics, zero_count
from dynamics._gradients import xi
from games.checks import check_complex, check_complex_step, check_real, complex_dtype

__all__ = ["aggregated_momentum", "AggregatedMomentumState", "recurrent_momentum",
           "RecurrentMomentumState"]


class AggregatedMomentumState(NamedTuple):
    params: tuple       # Params (real)
    mu: tuple           # Params-shaped buffers with a leading axis of K (complex)
    count: jax.Array    # int32 scalar


def _agg_init(hp, params):
    k = hp["betas"].shape[0]
    return AggregatedMomentumState(
        params,
        jax.tree_util.tree_map(lambda p: jnp.zeros((k,) + p.shape, complex_dtype(p.dtype)),
                               params),
        zero_count())


def _agg_step(hp, game, state):
    g = xi(game, state.params)
    lrs, betas = hp["lrs"], hp["betas"]

    def upd(m, gi):
        return (betas.reshape((-1,) + (1,) * gi.ndim) * m - gi).astype(m.dtype)

    def move(p, m):
        return (p + jnp.real(jnp.tensordot(lrs, m, axes=1))).astype(p.dtype)
    mu = jax.tree_util.tree_map(upd, state.mu, g)
    return AggregatedMomentumState(jax.tree_util.tree_map(move, state.params, mu), mu,
                                   state.count + 1)


def _vector(name, value):
    if isinstance(value, jax.core.Tracer):
        arr = value
    else:
        check_complex(name, value, scalar=False)
        arr = jnp.asarray(value)
    if arr.ndim != 1 or arr.shape[0] < 1:
        raise ValueError(f"{name} must be a non-empty 1-D sequence; got shape {arr.shape}.")
    return arr


def aggregated_momentum(lrs, betas) -> Dynamics:
    """K momentum buffers, one per (lr_k, beta_k):

        mu_k <- beta_k mu_k - xi;   omega <- omega + Re(sum_k lr_k mu_k).

    Every buffer sees the same simultaneous gradient xi(omega_t).  Betas and
    lrs may be complex.  Complex momentum (lr, beta) is the special case
    lrs = (lr/2, conj(lr)/2), betas = (beta, conj(beta)); real lrs = (lr/K, ...)
    with real betas is the aggregated momentum of Lucas et al. (2019).

    Args:
      lrs: K step sizes, a 1-D sequence, each real > 0 or complex non-zero.
      betas: K momentum coefficients, same length, real or complex.

    State: ``AggregatedMomentumState(params, mu, count)``: ``mu`` is
    Params-shaped with a leading axis of K, complex (complex64 for float32
    parameters, complex128 for float64), zeros at init.

    >>> import games, dynamics, numpy as np, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))                      # L_1 = xy = -L_2
    >>> lr, b = 0.5, 0.72 * np.exp(3j * np.pi / 8)
    >>> agg = dynamics.aggregated_momentum([lr / 2, lr / 2], [b, np.conj(b)])
    >>> round(float(dynamics.spectral_radius(g, agg, g.equilibrium())), 2)   # as complex momentum
    0.92

    References:
      Lucas, Sun, Zemel & Grosse (2019), "Aggregated Momentum: Stability
      Through Passive Damping", ICLR.  Lorraine, Acuna, Vicol & Duvenaud
      (2022), "Complex Momentum for Optimization in Games", AISTATS.
    """
    lrs, betas = _vector("lrs", lrs), _vector("betas", betas)
    if lrs.shape != betas.shape:
        raise ValueError(f"lrs and betas need one entry per buffer; got {lrs.shape[0]} lrs "
                         f"and {betas.shape[0]} betas.")
    for k in range(lrs.shape[0]):
        if not isinstance(lrs, jax.core.Tracer):
            check_complex_step(f"lrs[{k}]", np.asarray(lrs)[k])
    dt = jnp.result_type(lrs, betas, jnp.complex64)
    return make_dynamics(_agg_init, _agg_step, lrs=lrs.astype(dt), betas=betas.astype(dt))


class RecurrentMomentumState(NamedTuple):
    params: tuple       # Params (real)
    M: tuple            # Params-shaped real buffers with a leading axis of K
    count: jax.Array    # int32 scalar


def _rec_init(hp, params):
    k = hp["B"].shape[0]
    return RecurrentMomentumState(
        params, jax.tree_util.tree_map(lambda p: jnp.zeros((k,) + p.shape, p.dtype), params),
        zero_count())


def _rec_step(hp, game, state):
    g = xi(game, state.params)
    B, a = hp["B"], hp["a"]

    def upd(m, gi):
        new = jnp.tensordot(B, m, axes=1)
        return new.at[0].add(-gi).astype(m.dtype)

    def move(p, m):
        return (p + jnp.tensordot(a, m, axes=1)).astype(p.dtype)
    M = jax.tree_util.tree_map(upd, state.M, g)
    return RecurrentMomentumState(jax.tree_util.tree_map(move, state.params, M), M,
                                  state.count + 1)


def recurrent_momentum(B, a) -> Dynamics:
    """Recurrently linked real momentum buffers M (K of them):

        M <- B M - e_1 (x) xi;   omega <- omega + sum_k a_k M_k.

    That is, M_k <- sum_l B_kl M_l - [k = 1] xi(omega): only the first buffer
    receives the gradient, the others are fed through B.  Complex momentum
    (lr, beta) is B = [[Re b, -Im b], [Im b, Re b]], a = (Re lr, -Im lr): the
    buffers are Re mu and Im mu.

    Args:
      B: real (K, K) matrix linking the buffers.
      a: real (K,) step sizes applied to the buffers.

    State: ``RecurrentMomentumState(params, M, count)``: ``M`` is Params-shaped
    with a leading axis of K, real, in the parameters' dtype, zeros at init.

    >>> import games, dynamics, numpy as np, jax.numpy as jnp
    >>> g = games.bilinear(jnp.eye(1))                      # L_1 = xy = -L_2
    >>> lr, b = 0.5, 0.72 * np.exp(3j * np.pi / 8)
    >>> rec = dynamics.recurrent_momentum([[b.real, -b.imag], [b.imag, b.real]], [lr, 0.0])
    >>> round(float(dynamics.spectral_radius(g, rec, g.equilibrium())), 2)   # as complex momentum
    0.92

    References:
      Lorraine, Acuna, Vicol & Duvenaud (2022), "Complex Momentum for
      Optimization in Games", AISTATS.
    """
    B, a = jnp.asarray(B), jnp.asarray(a)
    check_real("B", B, scalar=False)
    check_real("a", a, scalar=False)
    if B.ndim != 2 or B.shape[0] != B.shape[1] or a.shape != (B.shape[0],):
        raise ValueError(f"B must be square (K, K) and a of shape (K,); got B {B.shape} and "
                         f"a {a.shape}.")
    return make_dynamics(_rec_init, _rec_step, B=B, a=a)
