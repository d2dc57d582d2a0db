"""The Dynamics type and the small pieces every dynamics shares.

A dynamics is an optax-like pair of pure functions ``init(params) -> State`` and
``step(game, state) -> State``.  Both are ``jax.tree_util.Partial`` objects whose
bound argument is a dict of hyperparameters, so hyperparameters are pytree
*leaves*: ``simgd(0.1)`` and ``simgd(0.2)`` share one compiled ``simulate``, and a
dynamics built from traced values inside ``jax.vmap`` just works.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.tree_util import Partial

from games.checks import complex_dtype

__all__ = ["Dynamics", "GradientState", "make_dynamics"]


class Dynamics(NamedTuple):
    """``init(params) -> State`` and ``step(game, state) -> State``.

    Every State is a NamedTuple with ``.params`` (the current Params), the
    dynamics' buffers and ``.count`` (steps taken).
    """

    init: Callable[[Any], Any]
    step: Callable[[Any, Any], Any]


class GradientState(NamedTuple):
    """The state of dynamics without buffers (simgd, alternating, extragradient,
    consensus, sga, lola)."""

    params: tuple       # Params
    count: jax.Array    # int32 scalar, steps taken


def init_gradient_state(hp, params):
    return GradientState(params, zero_count())


@functools.lru_cache(maxsize=None)
def _array_init(init_fn: Callable) -> Callable:
    # Cached so the wrapper's identity (part of the dynamics' treedef) is stable.
    def init(hyper, params):
        return init_fn(hyper, jax.tree_util.tree_map(jnp.asarray, params))
    return init


def make_dynamics(init_fn: Callable, step_fn: Callable, **hyper) -> Dynamics:
    """Bind hyperparameters (pytree leaves) to module-level ``init_fn(hyper, params)``
    and ``step_fn(hyper, game, state)``.  Python-number parameters become arrays."""
    return Dynamics(Partial(_array_init(init_fn), hyper), Partial(step_fn, hyper))


def axpy(a, x, y):
    """y + a * x leafwise, keeping y's dtype (hyperparameters may be wider)."""
    return jax.tree_util.tree_map(lambda xi, yi: (yi + a * xi).astype(yi.dtype), x, y)


def tree_scale(a, x):
    return jax.tree_util.tree_map(lambda xi: (a * xi).astype(xi.dtype), x)


def tree_zeros_like(x):
    return jax.tree_util.tree_map(jnp.zeros_like, x)


def complex_zeros_like(tree):
    """Complex zeros shaped, placed (sharding) and sized like each real leaf: float64
    leaves of any shape, 0-d included, get complex128 buffers."""
    return jax.tree_util.tree_map(lambda p: jnp.zeros_like(p, dtype=complex_dtype(p.dtype)),
                                  tree)


def zero_count():
    return jnp.zeros((), jnp.int32)


def tree_vdot(x, y):
    return sum(jnp.vdot(a, b) for a, b in zip(jax.tree_util.tree_leaves(x),
                                             jax.tree_util.tree_leaves(y)))
