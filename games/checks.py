"""Input checks shared by games and dynamics.

Each check says what it received, why that is wrong and what to pass instead.
Values given as Python numbers or concrete arrays are checked in full; traced
values (under ``jit``/``vmap``) are checked for dtype and shape only, since
their values are unknown at trace time.

>>> from games import checks
>>> checks.check_positive("lr", 0.1)
0.1
>>> checks.check_positive("lr", -1.0)
Traceback (most recent call last):
...
ValueError: lr must be positive; got -1.0. Pass a step size such as lr=0.1.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["is_concrete", "check_scalar", "check_real", "check_positive", "check_complex",
           "check_complex_step", "check_int", "as_real_scalar", "as_float_matrix",
           "complex_dtype"]


def is_concrete(x) -> bool:
    """True when ``x`` is a Python number or a concrete (non-traced) array."""
    return not isinstance(x, jax.core.Tracer)


def _values(value):
    return np.asarray(value) if is_concrete(value) else None


def check_scalar(name: str, value):
    """Hyperparameters are scalars (per example under vmap): an array would
    broadcast into the parameters and silently change their shapes."""
    if jnp.ndim(value) != 0:
        raise ValueError(f"{name} must be a scalar; got shape {jnp.shape(value)}. To sweep "
                         f"values, jax.vmap over a function that builds the dynamics.")
    return value


def _is_number_like(value, scalar: bool) -> bool:
    if not scalar and isinstance(value, (list, tuple)):     # a sequence of numbers
        return all(_is_number_like(v, True) for v in value)
    return isinstance(value, (numbers.Number, jax.Array, np.ndarray, np.generic)) \
        or not is_concrete(value)


def check_real(name: str, value, hint: str = "", *, scalar: bool = True):
    """A real, finite number (or array with ``scalar=False``); returns ``value``."""
    if isinstance(value, (bool, np.bool_)) or not _is_number_like(value, scalar):
        raise TypeError(f"{name} must be a real number or array; got {value!r} "
                        f"({type(value).__name__}).")
    dt = jnp.result_type(value)
    if jnp.issubdtype(dt, jnp.complexfloating):
        raise TypeError(f"{name} must be real; got complex {value!r}. {hint}".rstrip())
    if dt == jnp.bool_:
        raise TypeError(f"{name} must be a real number or array; got booleans {value!r}.")
    vals = _values(value)
    if vals is not None and not np.all(np.isfinite(vals)):
        raise ValueError(f"{name} must be finite; got {value!r}.")
    return check_scalar(name, value) if scalar else value


def check_positive(name: str, value, *, allow_zero: bool = False):
    """A real, finite step size that is > 0 (>= 0 with ``allow_zero``) when concrete."""
    check_real(name, value)
    vals = _values(value)
    if vals is not None and not np.all(vals >= 0 if allow_zero else vals > 0):
        what = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {what}; got {value!r}. Pass a step size "
                         f"such as {name}=0.1.")
    return value


def check_complex(name: str, value, *, scalar: bool = True):
    """A real or complex, finite number (or array with ``scalar=False``)."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None \
            or not _is_number_like(value, scalar):
        raise TypeError(f"{name} must be a (complex) number or array; got {value!r}.")
    vals = _values(value)
    if vals is not None:
        if not np.issubdtype(vals.dtype, np.number):
            raise TypeError(f"{name} must be a (complex) number or array; got {value!r}.")
        if not np.all(np.isfinite(vals)):
            raise ValueError(f"{name} must be finite; got {value!r}.")
    return check_scalar(name, value) if scalar else value


def check_complex_step(name: str, value, *, allow_zero: bool = False):
    """A step size: real and > 0 (>= 0 with ``allow_zero``), or complex and non-zero."""
    check_complex(name, value)
    vals = _values(value)
    if vals is not None:
        if np.iscomplexobj(vals):
            bad = not allow_zero and np.any(vals == 0)
        else:
            bad = not np.all(vals >= 0 if allow_zero else vals > 0)
        if bad:
            what = "non-negative" if allow_zero else "positive"
            raise ValueError(f"{name} must be {what} (or a non-zero complex number); got "
                             f"{value!r}. Pass e.g. {name}=0.1.")
    return value


def check_key(key, name: str = "key"):
    """A JAX PRNG key (``jax.random.key(seed)``, or a legacy uint32 key array)."""
    if not isinstance(key, jax.Array):
        raise TypeError(f"{name} must be a PRNG key such as jax.random.key(0); got "
                        f"{type(key).__name__}.")
    return key


def check_int(name: str, value, *, low: int = 1, high: int | None = None) -> int:
    """A Python or NumPy int in [low, high]; returns it as ``int``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {value!r} ({type(value).__name__}).")
    if value < low or (high is not None and value > high):
        span = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an int {span}; got {value!r}.")
    return int(value)


def as_real_scalar(name: str, value, dtype=None):
    """Convert a scalar hyperparameter of a game to a real float array or raise clearly."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a real number; got {value!r} "
                        f"({type(value).__name__}).")
    arr = jnp.asarray(value)
    if jnp.issubdtype(arr.dtype, jnp.complexfloating) or arr.dtype == bool:
        raise TypeError(f"{name} must be a real number; got {value!r} (dtype {arr.dtype}).")
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar; got an array of shape {arr.shape}. "
                         f"To sweep over values, build the game inside jax.vmap.")
    arr = arr.astype(jnp.result_type(float) if dtype is None else dtype)
    if is_concrete(arr) and not bool(np.isfinite(np.asarray(arr))):
        raise ValueError(f"{name} must be finite; got {value!r}.")
    return arr


def as_float_matrix(name: str, value, ndim: int, shape=None):
    """Convert ``value`` to a real float array of rank ``ndim`` or raise clearly."""
    arr = jnp.asarray(value)
    if jnp.issubdtype(arr.dtype, jnp.complexfloating) or arr.dtype == bool:
        raise TypeError(f"{name} must be real; got dtype {arr.dtype}.")
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(jnp.result_type(float))
    if arr.ndim != ndim or (shape is not None and arr.shape != tuple(shape)):
        want = f"shape {tuple(shape)}" if shape is not None else f"rank {ndim}"
        raise ValueError(f"{name} must have {want}; got shape {arr.shape}.")
    if is_concrete(arr) and not bool(np.all(np.isfinite(np.asarray(arr)))):
        values = np.asarray(arr)
        where = [tuple(int(i) for i in ix) for ix in np.argwhere(~np.isfinite(values))]
        got = values.tolist() if values.size <= 16 else f"an array of shape {values.shape}"
        raise ValueError(
            f"{name} must be finite; got {got} with {len(where)} non-finite "
            f"entr{'y' if len(where) == 1 else 'ies'}, at "
            f"{', '.join(f'{ix} = {values[ix]}' for ix in where[:4])}"
            f"{', ...' if len(where) > 4 else ''}.")
    return arr


def complex_dtype(dtype):
    """The complex dtype that holds values of the real float ``dtype`` exactly.

    float64 -> complex128, float32 -> complex64; float16 and bfloat16 have no
    complex counterpart and get complex64.  Unlike ``jnp.result_type(x,
    jnp.complex64)`` this ignores weak typing, so a 0-d float64 parameter gets a
    complex128 buffer.
    """
    dtype = jnp.dtype(dtype)
    if jnp.issubdtype(dtype, jnp.complexfloating):
        return dtype
    return jnp.dtype(jnp.complex128) if dtype == jnp.float64 else jnp.dtype(jnp.complex64)
