"""Finite-time Lyapunov exponents of a dynamics' step map, and bifurcation search.

For the iteration omega_{t+1} = F(omega_t) of a dynamics on a game (omega the
whole real-ified state: parameters and buffers, complex buffers as real and
imaginary parts), the k-step exponents are (1/k) log of the singular values of
dF(omega_{k-1}) ... dF(omega_0).  The top ``num`` are computed by the QR
(Benettin) method: Q_0 is a random d x num orthonormal frame; each step
Z = dF(omega_t) Q_t by ``num`` Jacobian-vector products, Q_{t+1} R_{t+1} = qr(Z),
and lambda_i = (1/k) sum_t log |R_t[i, i]|.  For a linear map M they tend to
log |eig(M)| (largest first); at a fixed point of simultaneous GD to
log |1 - lr eig(J)|.  Starts whose trajectories separate (near a separatrix, a
bifurcation of the outcome) have large exponents: ``find_bifurcation`` ascends
them over the start.

References:
  Benettin, Galgani, Giorgilli & Strelcyn (1980), "Lyapunov Characteristic
  Exponents for smooth dynamical systems and for Hamiltonian systems; a method
  for computing all of them", Meccanica 15.
  Lorraine, Vicol, Parker-Holder, Kachman, Metz & Foerster (2022), "Lyapunov Exponents for
  Diversity in Differentiable Games", AAMAS.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from dynamics._base import Dynamics
from dynamics._linearize import realify
from games import check_params
from games.checks import check_key, check_positive

__all__ = ["lyapunov_exponents", "LyapunovResult", "find_bifurcation", "BifurcationResult"]

OBJECTIVES = ("max", "sum")


class LyapunovResult(NamedTuple):
    """``exponents`` (num,), in the QR frame's order (largest first once the
    frame has aligned); ``jvps``, the Jacobian-vector products spent (steps x
    num); ``state``, the dynamics' state after ``steps`` steps."""

    exponents: jax.Array
    jvps: int
    state: Any


class BifurcationResult(NamedTuple):
    """``params``, the start found; ``exponents`` there (num,); ``objective``,
    the objective before each ascent step and at the end (iters + 1,)."""

    params: Any
    exponents: jax.Array
    objective: jax.Array


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an int >= 1; got {value!r}.")
    return int(value)


def _exponents(game, dyn, params, key, steps, num):
    state = dyn.init(params)
    vec, _ = realify(state)
    d = vec.shape[0]
    q, _ = jnp.linalg.qr(jax.random.normal(key, (d, num), vec.dtype))

    def body(carry, _):
        state, q, total = carry
        x, rebuild = realify(state)

        def f(v):
            return realify(dyn.step(game, rebuild(v)))[0]
        z = jax.vmap(lambda t: jax.jvp(f, (x,), (t,))[1], in_axes=1, out_axes=1)(q)
        q, r = jnp.linalg.qr(z)
        total = total + jnp.log(jnp.abs(jnp.diagonal(r)))
        return (dyn.step(game, state), q, total), None

    (state, _, total), _ = jax.lax.scan(body, (state, q, jnp.zeros(num, vec.dtype)), None,
                                        length=steps)
    return total / steps, state


@functools.partial(jax.jit, static_argnames=("steps", "num"))
def _lyapunov(game, dyn, params, key, steps, num):
    return _exponents(game, dyn, params, key, steps, num)


def _check_dyn(dyn):
    if not isinstance(dyn, Dynamics):
        raise TypeError(f"dyn must be a dynamics.Dynamics (e.g. dynamics.simgd(1.0)); got "
                        f"{type(dyn).__name__}.")


def _state_size(dyn, params) -> int:
    return jax.eval_shape(lambda p: realify(dyn.init(p))[0], params).shape[0]


def lyapunov_exponents(game, dyn: Dynamics, params, steps: int, num: int = 1, *,
                       key) -> LyapunovResult:
    """The top ``num`` finite-time Lyapunov exponents of ``dyn`` on ``game`` from
    ``params``, over ``steps`` steps, by the QR method (module docstring).

    The state is ``dyn.init(params)``; every float leaf of it (parameters,
    momentum buffers, complex buffers as real and imaginary parts) is a
    coordinate, counters and keys are carried as they are.  Each step costs one
    step of the dynamics plus ``num`` JVPs of it.  Differentiable with respect
    to ``params`` (and the game's and dynamics' traced values), and
    ``jax.vmap``-able over starts and keys.  ``key`` draws the initial frame.
    A trajectory that leaves the finite numbers gives non-finite exponents.

    >>> import jax, jax.numpy as jnp, games, dynamics
    >>> g = games.bilinear(jnp.eye(1))                 # simGD: I - lr J, |eig| = sqrt(1 + lr^2)
    >>> res = dynamics.lyapunov_exponents(g, dynamics.simgd(0.5), g.equilibrium(), 200, 2,
    ...                                   key=jax.random.key(0))
    >>> [round(float(e), 4) for e in res.exponents], res.jvps   # log sqrt(1.25) = 0.1116
    ([0.1116, 0.1116], 400)

    References:
      Benettin, Galgani, Giorgilli & Strelcyn (1980), Meccanica 15.
      Lorraine, Vicol, Parker-Holder, Kachman, Metz & Foerster (2022), "Lyapunov Exponents for
      Diversity in Differentiable Games", AAMAS.
    """
    check_params(game, params)
    _check_dyn(dyn)
    steps, num = _positive_int("steps", steps), _positive_int("num", num)
    check_key(key)
    d = _state_size(dyn, params)
    if num > d:
        raise ValueError(f"num={num} exponents asked of a state with {d} real coordinates; "
                         f"pass num <= {d}.")
    exponents, state = _lyapunov(game, dyn, params, key, steps, num)
    return LyapunovResult(exponents, steps * num, state)


@functools.partial(jax.jit, static_argnames=("steps", "num", "iters", "objective",
                                             "optimizer"))
def _ascend(game, dyn, params, key, steps, num, iters, objective, optimizer):
    def value(p):
        e, _ = _exponents(game, dyn, p, key, steps, num)
        return (jnp.max(e) if objective == "max" else jnp.sum(e)), e

    def body(carry, _):
        p, opt_state = carry
        (v, _), g = jax.value_and_grad(value, has_aux=True)(p)
        ascent = jax.tree_util.tree_map(jnp.negative, g)      # optax minimises
        updates, opt_state = optimizer.update(ascent, opt_state, p)
        p = jax.tree_util.tree_map(lambda x, u: (x + u).astype(x.dtype), p, updates)
        return (p, opt_state), v

    (params, _), history = jax.lax.scan(body, (params, optimizer.init(params)), None,
                                        length=iters)
    v, e = value(params)
    return params, e, jnp.append(history, v)


def find_bifurcation(game, dyn: Dynamics, params, *, objective: str = "max", num: int = 1,
                     steps: int = 20, lr: float = 0.1, iters: int = 100, optimizer=None,
                     key) -> BifurcationResult:
    """Gradient ascent on the finite-time exponents over the start point.

    Maximises the top exponent (``objective="max"``) or the sum of the top
    ``num`` (``"sum"``) of :func:`lyapunov_exponents` over ``steps`` steps, by
    ``iters`` steps of ``optimizer`` on every player's parameters, with the same
    initial frame (``key``) throughout.  The default optimiser is Adam with a
    step of ``lr`` decayed to 0 along a cosine over the ``iters`` steps: the
    exponent is flat far from a separatrix and sharply peaked on it, so plain
    gradient steps crawl there and overshoot here, while Adam's steps have the
    size ``lr`` wherever the gradient points.  Pass any optax optimiser (it
    minimises the negated objective; ``lr`` is then unused).  A start near a
    separatrix, where nearby trajectories part for different outcomes, has a
    large exponent: this finds such bifurcations, where a branching search
    should split.  Short horizons (``steps``) can put the maximiser off the
    separatrix, and the ascent is local: from one start, different ``key``s (frames)
    can stop at different points (on the small IPD from (1, 1), some reach the
    saddle near (0.42, 0.42) and others stop 0.05-0.1 short of it); check that
    the point found is stable across horizons and keys.

    Returns ``BifurcationResult(params, exponents, objective)``.

    >>> import jax, jax.numpy as jnp, games, dynamics
    >>> well = games.from_losses(lambda p: (p[0][0] ** 2 - 1) ** 2 / 4,
    ...                          init=(jnp.zeros(1),))    # basins x < 0 and x > 0
    >>> res = dynamics.find_bifurcation(well, dynamics.simgd(0.1), (jnp.array([0.3]),),
    ...                                 steps=20, lr=0.05, iters=200, key=jax.random.key(0))
    >>> abs(float(res.params[0][0])) < 0.05              # the separatrix x = 0
    True

    References:
      Lorraine, Vicol, Parker-Holder, Kachman, Metz & Foerster (2022), "Lyapunov Exponents for
      Diversity in Differentiable Games", AAMAS.
    """
    check_params(game, params)
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(map(repr, OBJECTIVES))}; "
                         f"got {objective!r}.")
    steps, num = _positive_int("steps", steps), _positive_int("num", num)
    iters = _positive_int("iters", iters)
    check_key(key)
    _check_dyn(dyn)
    check_positive("lr", lr)
    if optimizer is not None and not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(f"optimizer must be an optax.GradientTransformation (e.g. "
                        f"optax.adam(1e-2)); got {type(optimizer).__name__}.")
    d = _state_size(dyn, params)
    if num > d:
        raise ValueError(f"num={num} exponents asked of a state with {d} real coordinates; "
                         f"pass num <= {d}.")
    if optimizer is None:
        optimizer = _default_optimizer(float(lr), iters)
    return BifurcationResult(*_ascend(game, dyn, params, key, steps, num, iters, objective,
                                      optimizer))


@functools.lru_cache(maxsize=64)
def _default_optimizer(lr: float, iters: int):
    # cached: the same settings give the same (hashable) optimiser, so no recompile
    return optax.adam(optax.cosine_decay_schedule(lr, iters))
