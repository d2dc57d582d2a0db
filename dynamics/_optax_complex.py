"""Complex momentum and complex Adam as optax ``GradientTransformation``s.

They share their update equations with the dynamics ``complex_momentum`` and
``complex_adam`` (``momentum_buffer`` and ``adam_direction``, one implementation
each), so a JAX user can drop them into an existing training loop.  They follow
optax's contract for its own optimisers: the learning rate may be a schedule (and
zero), ``update`` accepts and ignores extra keyword arguments, parameters may be
Python scalars, abstract (``jax.ShapeDtypeStruct``), of any float dtype, sharded, or
complex, and the transforms compose with ``optax.chain``, ``optax.inject_hyperparams``,
``optax.MultiSteps``, ``optax.masked`` and ``optax.apply_if_finite``.

Complex parameters follow optax's convention: a complex leaf z = x + iy stands for
the pair of real parameters (x, y), and the gradient given to ``update`` is
g = dL/dx + i dL/dy, the complex conjugate of ``jax.grad(L)(z)`` (optax's own tests
conjugate ``jax.grad``'s output before ``update``).  Since complex momentum keeps a
*complex* buffer per real coordinate, a complex leaf's buffer holds the x and y
buffers stacked along a new leading axis of size 2.
"""

# No ``from __future__ import annotations``: the ``learning_rate`` annotation must be
# the object ``optax.ScalarOrSchedule`` itself, which is how optax (and its tests)
# recognise optimisers that take a schedule.

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dynamics._base import zero_count
from dynamics._complex_adam import adam_direction
from dynamics._momentum import momentum_buffer
from games.checks import (check_complex, check_complex_step, check_positive, check_real,
                          complex_dtype, is_concrete)

__all__ = ["optax_complex_momentum", "optax_complex_adam", "OptaxComplexMomentumState",
           "OptaxComplexAdamState"]

_tree_map = jax.tree_util.tree_map


# ---- leaves: Python scalars, dtypes, complex parameters as (Re, Im) pairs ----

def _as_array(x):
    """Python (and NumPy) scalars become arrays; arrays, tracers and abstract
    ``jax.ShapeDtypeStruct`` leaves pass unchanged (sharding included)."""
    return x if hasattr(x, "shape") and hasattr(x, "dtype") else jnp.asarray(x)


def _is_complex(x) -> bool:
    return jnp.issubdtype(x.dtype, jnp.complexfloating)


def _real_dtype(dtype):
    """The real float dtype of a leaf: itself for floats, the component dtype for
    complex, the default float for integer (Python int) leaves."""
    dtype = jnp.dtype(dtype)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        return jnp.finfo(dtype).dtype
    if jnp.issubdtype(dtype, jnp.floating):
        return dtype
    return jnp.dtype(jnp.result_type(float))


def _first_moment_like(p):
    """Zeros of the complex dtype matching the leaf's float dtype (complex128 for
    float64, 0-d included; complex64 for float32/float16/bfloat16), with the leaf's
    sharding; a complex leaf gets its x and y buffers stacked: shape (2, *shape)."""
    z = jnp.zeros_like(p, dtype=complex_dtype(_real_dtype(p.dtype)))
    return jnp.stack([z, z]) if _is_complex(p) else z


def _second_moment_like(p):
    return jnp.zeros_like(p, dtype=_real_dtype(p.dtype))


def _real_view(g):
    """A complex gradient dL/dx + i dL/dy as the stacked real pair (dL/dx, dL/dy)."""
    return jnp.stack([jnp.real(g), jnp.imag(g)]) if _is_complex(g) else g


def _from_real_view(u, g):
    """The update for a leaf whose gradient is ``g``, in ``g``'s dtype, from the
    update ``u`` of its real view (x + i y for a complex leaf)."""
    if _is_complex(g):
        real = _real_dtype(g.dtype)
        return jax.lax.complex(u[0].astype(real), u[1].astype(real))
    return u.astype(g.dtype if jnp.issubdtype(g.dtype, jnp.floating) else _real_dtype(g.dtype))


def _check_like_buffers(buffers, grads):
    """Gradients must match the parameters the state was built from (a complex
    gradient for a complex parameter, a real one for a real parameter)."""
    def check(m, g):
        want = (2, *g.shape) if _is_complex(g) else g.shape
        if m.shape != want:
            kind = "complex" if _is_complex(g) else "real"
            raise ValueError(
                f"gradient leaf of shape {g.shape} and dtype {g.dtype} ({kind}) does not "
                f"match the optimiser state (buffer shape {m.shape}, expected {want}): "
                f"pass gradients of the parameters' shapes and dtypes, complex for "
                f"complex parameters.")
    _tree_map(check, buffers, grads)


# ---- hyperparameters ----

def _real_hyper(name, value):
    """Accept a complex-typed hyperparameter with zero imaginary part as its real
    part: ``optax.inject_hyperparams`` casts float hyperparameters to the
    parameters' dtype, which is complex for complex parameters.  (Traced values
    cannot be checked; their real part is used.)"""
    if isinstance(value, complex) or (hasattr(value, "dtype") and _is_complex(value)):
        if not is_concrete(value) or not np.any(np.imag(np.asarray(value))):
            return jnp.real(value)
    return value


def _check_learning_rate(learning_rate, *, complex_ok: bool):
    """A schedule (a callable count -> learning rate, evaluated at each update), or a
    finite learning rate >= 0 (zero allowed: schedules warm up from and decay to it),
    or, with ``complex_ok``, any finite complex number."""
    if callable(learning_rate):
        return learning_rate
    if complex_ok:
        return check_complex_step("learning_rate", learning_rate, allow_zero=True)
    return check_positive("learning_rate", _real_hyper("learning_rate", learning_rate),
                          allow_zero=True)


def _learning_rate_at(learning_rate, count):
    return learning_rate(count) if callable(learning_rate) else learning_rate


# ---- complex momentum ----

class OptaxComplexMomentumState(NamedTuple):
    """``count``: int32 scalar, updates taken (a learning-rate schedule is evaluated
    at it).  ``mu``: complex buffer per parameter leaf: the leaf's shape and the
    complex dtype of its float dtype, or (2, *shape) for a complex leaf."""

    count: jax.Array
    mu: optax.Updates


def optax_complex_momentum(learning_rate: optax.ScalarOrSchedule,
                           beta: complex) -> optax.GradientTransformationExtraArgs:
    """Complex momentum as an optax ``GradientTransformation`` (updates are added).

    With g the gradient (``grads``), t the update count and lr = learning_rate(t)
    for a schedule::

        mu     <- beta mu - g            (complex buffer)
        update  = Re(lr mu)

    added with ``optax.apply_updates``.  ``beta`` is complex (real allowed: then this
    is ``optax.sgd(lr, momentum=beta)``); ``learning_rate`` is a number >= 0, a
    complex number, or an optax schedule (count -> learning rate).  Zero is allowed,
    so schedules may warm up from or decay to 0, also inside
    ``optax.inject_hyperparams``.  ``update(grads, state, params=None, **extra_args)``
    ignores ``params`` and any extra keyword arguments.

    State (``OptaxComplexMomentumState``): ``count``, int32 scalar; ``mu``, per
    parameter leaf a buffer of the leaf's shape (and sharding) in the complex dtype
    matching its float dtype: complex128 for float64 (0-d included), complex64 for
    float32, float16 and bfloat16.  Updates keep the gradient's dtype (the
    parameter's, for gradients of the parameters).  Python-scalar parameters are
    taken as arrays.

    Complex parameters (optax's convention, see the module docstring): z = x + iy is
    the real pair (x, y) with gradient g = dL/dx + i dL/dy (conjugate
    ``jax.grad``'s output).  Each of x and y gets its own complex buffer, stacked in
    ``mu`` with shape (2, *z.shape) (``mu[0]`` for x, ``mu[1]`` for y) and the
    complex dtype of z, and the update is Re(lr mu[0]) + i Re(lr mu[1]): exactly
    complex momentum on the pair (x, y), and ``optax.sgd(lr, momentum=beta)`` for
    real beta and lr.  ``optax.tree.map_params`` maps such a stacked buffer as one
    leaf.

    Reference: Lorraine, Acuna, Vicol & Duvenaud (2022), "Complex Momentum for
    Optimization in Games", AISTATS.

    >>> import jax, jax.numpy as jnp, numpy as np, optax, dynamics
    >>> loss = lambda p: jnp.sum((p["w"] - 1.0) ** 2)
    >>> opt = dynamics.optax_complex_momentum(
    ...     optax.linear_schedule(0.0, 0.1, 10), beta=0.8 * np.exp(0.3j))
    >>> params = {"w": jnp.array([3.0, -2.0])}
    >>> state = opt.init(params)
    >>> bool(jnp.iscomplexobj(state.mu["w"])), state.mu["w"].shape
    (True, (2,))
    >>> for _ in range(100):
    ...     updates, state = opt.update(jax.grad(loss)(params), state, params)
    ...     params = optax.apply_updates(params, updates)
    >>> bool(loss(params) < 1e-8), int(state.count)
    (True, 100)
    """
    learning_rate = _check_learning_rate(learning_rate, complex_ok=True)
    check_complex("beta", beta)

    def init(params):
        params = _tree_map(_as_array, params)
        return OptaxComplexMomentumState(zero_count(), _tree_map(_first_moment_like, params))

    def update(grads, state, params=None, **extra_args):
        del params, extra_args
        grads = _tree_map(jnp.asarray, grads)
        _check_like_buffers(state.mu, grads)
        lr = _learning_rate_at(learning_rate, state.count)
        mu = momentum_buffer(beta, state.mu, _tree_map(_real_view, grads))
        updates = _tree_map(lambda m, g: _from_real_view(jnp.real(lr * m), g), mu, grads)
        return updates, OptaxComplexMomentumState(optax.safe_increment(state.count), mu)

    return optax.GradientTransformationExtraArgs(init, update)


# ---- complex Adam ----

@functools.partial(jax.jit, inline=True)
def _adam_moments(hp, mu, v, g, g_sq, count):
    """``adam_direction``, jitted (and inlined under an outer jit): run eagerly,
    ``beta ** t`` with a concrete step t would compile a new integer power at every
    step (optax jits its bias correction for the same reason)."""
    return adam_direction(hp, mu, v, g, count, g_sq=g_sq)


class OptaxComplexAdamState(NamedTuple):
    """``count``: int32 scalar, updates taken.  ``mu``: complex first moment per
    parameter leaf (the leaf's shape, or (2, *shape) for a complex leaf, in the
    complex dtype of its float dtype).  ``v``: real second moment, the leaf's shape
    and real dtype."""

    count: jax.Array
    mu: optax.Updates
    v: optax.Updates


def optax_complex_adam(learning_rate: optax.ScalarOrSchedule, beta1: complex,
                       beta2: float = 0.999,
                       eps: float = 1e-8) -> optax.GradientTransformationExtraArgs:
    """Complex Adam as an optax ``GradientTransformation`` (updates are added).

    With g the gradient, t = count + 1 and lr = learning_rate(count) for a
    schedule::

        mu     <- beta1 mu - (1 - beta1) g           (complex)
        v      <- beta2 v + (1 - beta2) |g|^2        (real)
        mu_hat  = mu / (1 - beta1^t)                 (complex bias correction)
        v_hat   = v / (1 - beta2^t)
        update  = lr Re(mu_hat) / (sqrt(v_hat) + eps)

    For real ``beta1`` this is exactly ``optax.adam(lr, b1=beta1, b2=beta2,
    eps=eps)`` (with mu = -m), complex parameters included.  ``learning_rate`` is a
    real number >= 0 (zero allowed) or an optax schedule; ``beta1`` may be complex,
    ``beta2`` and ``eps`` are real.  ``update(grads, state, params=None,
    **extra_args)`` ignores ``params`` and extra keyword arguments.

    State (``OptaxComplexAdamState``): ``count``, int32 scalar; ``mu``, per parameter
    leaf the leaf's shape (and sharding) in the complex dtype of its float dtype
    (complex128 for float64, 0-d included; complex64 for float32, float16,
    bfloat16); ``v``, the leaf's shape and real dtype.  Updates keep the gradient's
    dtype (the parameter's, for gradients of the parameters).

    Complex parameters (optax's convention, see the module docstring): z = x + iy
    with gradient g = dL/dx + i dL/dy.  The first moment is kept per real
    coordinate, stacked as ``mu`` of shape (2, *z.shape) (x, then y); the second
    moment is shared, v <- beta2 v + (1 - beta2) |g|^2 with |g|^2 = (dL/dx)^2 +
    (dL/dy)^2 (shape z.shape), as in ``optax.adam``; the update is
    lr (Re(mu_hat[0]) + i Re(mu_hat[1])) / (sqrt(v_hat) + eps).  (So this is not
    ``optax.contrib.split_real_and_imaginary``, which keeps a second moment for x
    and for y.)  Under ``optax.inject_hyperparams`` with complex parameters optax
    casts the injected ``learning_rate``, ``beta2`` and ``eps`` to the complex
    dtype: their real parts are used.

    Step size: with a complex ``beta1`` use a smaller learning rate than Adam's
    usual 0.1.  On the parabola f(p) = |p - p*|^2 from p = (-1, 10, 1) to
    p* = (1, -1, 1) (optax's own test problem, float64, 10,000 steps) at
    learning_rate=0.1, ``optax.adam`` and beta1 = 0.9 converge to machine
    precision, but beta1 = 0.9 e^{i theta} for every phase theta tried from pi/16
    to pi/2 (pi/8 included) oscillates without converging, max |p - p*| staying
    between 0.37 and 0.67 over the last 1,000 steps; with |beta1| = 0.8 only
    theta = pi/2 failed (0.31).  At learning_rate=0.03 all of these converged.  On
    the Rosenbrock function (a=1, b=100, from (0, 0); float32, as in optax's tests)
    beta1 = 0.8 e^{0.3i} ends 1.0, 0.35, 0.04 and 0.005 from the minimum after
    10,000 steps at learning_rates 0.1, 0.03, 0.01 and 0.003 (``optax.adam(0.1)``:
    0.01).

    References: Kingma & Ba (2015), "Adam: A Method for Stochastic Optimization",
    ICLR; Lorraine, Acuna, Vicol & Duvenaud (2022), "Complex Momentum for
    Optimization in Games", AISTATS.

    >>> import jax, jax.numpy as jnp, numpy as np, optax, dynamics
    >>> loss = lambda p: jnp.sum((p - 1.0) ** 2)
    >>> opt = dynamics.optax_complex_adam(0.03, beta1=0.9 * np.exp(1j * np.pi / 8))
    >>> params = jnp.array([-1.0, 3.0, 1.0])
    >>> state = opt.init(params)
    >>> bool(jnp.iscomplexobj(state.mu)), bool(jnp.isrealobj(state.v))
    (True, True)
    >>> @jax.jit
    ... def step(params, state):
    ...     updates, state = opt.update(jax.grad(loss)(params), state)
    ...     return optax.apply_updates(params, updates), state
    >>> for _ in range(500):
    ...     params, state = step(params, state)
    >>> bool(jnp.max(jnp.abs(params - 1.0)) < 1e-3)
    True
    """
    learning_rate = _check_learning_rate(learning_rate, complex_ok=False)
    check_complex("beta1", beta1)
    hp = dict(beta1=beta1, beta2=check_real("beta2", _real_hyper("beta2", beta2)),
              eps=check_positive("eps", _real_hyper("eps", eps)))

    def init(params):
        params = _tree_map(_as_array, params)
        return OptaxComplexAdamState(zero_count(), _tree_map(_first_moment_like, params),
                                     _tree_map(_second_moment_like, params))

    def update(grads, state, params=None, **extra_args):
        del params, extra_args
        grads = _tree_map(jnp.asarray, grads)
        _check_like_buffers(state.mu, grads)
        # |g|^2 written as optax's abs_sq, (conj(g) g).real = Re^2 + Im^2, and g**2
        # (the default) for real leaves.
        g_sq = _tree_map(lambda g: jnp.real(jnp.conj(g) * g) if _is_complex(g) else g**2,
                         grads)
        mu, v, d = _adam_moments(hp, state.mu, state.v, _tree_map(_real_view, grads), g_sq,
                                 state.count)
        lr = _learning_rate_at(learning_rate, state.count)
        updates = _tree_map(lambda di, g: _from_real_view(lr * di, g), d, grads)
        return updates, OptaxComplexAdamState(optax.safe_increment(state.count), mu, v)

    return optax.GradientTransformationExtraArgs(init, update)
