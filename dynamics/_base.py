"""The Dynamics type and the small pieces every dynamics shares.

A dynamics is an optax-like pair of pure functions ``init(params) -> State`` and
``step(game, state) -> State``.  Both are ``jax.tree_util.Partial`` objects whose
bound argument is a dict of hyperparameters, so hyperparameters are pytree
*leaves*: ``simgd(0.1)`` and ``simgd(0.2)`` share one compiled ``simulate``, and a
dynamics built from traced values inside ``jax.vmap`` just works.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import Partial

__all__ = ["Dynamics", "GradientState", "make_dynamics", "check_positive", "check_real"]


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


def _concrete_values(value):
    if isinstance(value, jax.core.Tracer):
        return None
    return np.asarray(value)


def check_scalar(name: str, value):
    """Hyperparameters are scalars (per example under vmap): an array would
    broadcast into the parameters and silently change their shapes."""
    if jnp.ndim(value) != 0:
        raise ValueError(f"{name} must be a scalar; got shape {jnp.shape(value)}. To sweep "
                         f"values, jax.vmap over a function that builds the dynamics.")
    return value


def check_real(name: str, value, what: str = "", *, scalar: bool = True):
    """Reject complex, boolean or non-numeric hyperparameters given as concrete values."""
    if isinstance(value, bool) or (not isinstance(value, (numbers.Number, jax.Array, np.ndarray))
                                   and not isinstance(value, jax.core.Tracer)):
        raise TypeError(f"{name} must be a real number or array; got {value!r} "
                        f"({type(value).__name__}).")
    dt = jnp.result_type(value)
    if jnp.issubdtype(dt, jnp.complexfloating):
        raise TypeError(f"{name} must be real; got complex {value!r}. {what}".rstrip())
    vals = _concrete_values(value)
    if vals is not None and not np.all(np.isfinite(vals)):
        raise ValueError(f"{name} must be finite; got {value!r}.")
    return check_scalar(name, value) if scalar else value


def check_positive(name: str, value):
    """Step sizes given as concrete numbers must be real, finite and > 0."""
    check_real(name, value)
    vals = _concrete_values(value)
    if vals is not None and not np.all(vals > 0):
        raise ValueError(f"{name} must be positive; got {value!r}. Pass a step size "
                         f"such as {name}=0.1.")
    return value


def axpy(a, x, y):
    """y + a * x leafwise, keeping y's dtype (hyperparameters may be wider)."""
    return jax.tree_util.tree_map(lambda xi, yi: (yi + a * xi).astype(yi.dtype), x, y)


def tree_scale(a, x):
    return jax.tree_util.tree_map(lambda xi: (a * xi).astype(xi.dtype), x)


def tree_zeros_like(x):
    return jax.tree_util.tree_map(jnp.zeros_like, x)


def zero_count():
    return jnp.zeros((), jnp.int32)


def tree_vdot(x, y):
    return sum(jnp.vdot(a, b) for a, b in zip(jax.tree_util.tree_leaves(x),
                                             jax.tree_util.tree_leaves(y)))
