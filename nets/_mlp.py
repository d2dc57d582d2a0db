"""A multilayer perceptron as a pair of pure functions (pure JAX).

``mlp(sizes)`` returns ``MLP(init, apply)``:

    params = init(key)             # [(W_1, b_1), ..., (W_L, b_L)], W_l of shape (n_{l-1}, n_l)
    y      = apply(params, x)      # h_0 = x;  h_l = act(h_{l-1} W_l + b_l) for l < L;
                                   # y = final(h_{L-1} W_L + b_L)   (no act on the last layer)

``x`` may be one input of shape ``(sizes[0],)`` or a batch ``(..., sizes[0])``.
Initialisation: biases are zero; a weight matrix followed by a ReLU-family
activation is He-normal, W ~ N(0, 2 / fan_in); every other one (tanh and other
activations, and the last layer) is Glorot-normal, W ~ N(0, 2 / (fan_in + fan_out)).
Here n_0 = sizes[0], ..., n_L = sizes[-1]; "ReLU family" means jax.nn.relu,
leaky_relu, elu and gelu (as in ``ACTIVATIONS``; other callables get Glorot).

References for the initialisations: He, Zhang, Ren & Sun (2015), "Delving Deep
into Rectifiers: Surpassing Human-Level Performance on ImageNet Classification",
ICCV; Glorot & Bengio (2010), "Understanding the difficulty of training deep
feedforward neural networks", AISTATS.

``init`` and ``apply`` compare equal (and hash equal) whenever they were built
from the same sizes, activations and dtype, so a network stored as a static
field of a game does not make ``jit`` recompile when the game is rebuilt.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["mlp", "MLP", "ACTIVATIONS"]

ACTIVATIONS: dict[str, Callable] = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "leaky_relu": jax.nn.leaky_relu,      # negative slope 0.01
    "elu": jax.nn.elu,
    "gelu": jax.nn.gelu,
    "sigmoid": jax.nn.sigmoid,
    "softplus": jax.nn.softplus,
}
_HE = (jax.nn.relu, jax.nn.leaky_relu, jax.nn.elu, jax.nn.gelu)


class MLP(NamedTuple):
    """``init(key) -> params`` and ``apply(params, x) -> y``, both pure."""

    init: Callable[[jax.Array], list]
    apply: Callable[[Any, jax.Array], jax.Array]


class _Bound:
    """``fn(*bound, *args)``, equal and hashable by value (not by identity)."""

    def __init__(self, fn: Callable, *bound):
        self.fn, self.bound = fn, bound

    def __call__(self, *args, **kwargs):
        return self.fn(*self.bound, *args, **kwargs)

    def __eq__(self, other):
        return isinstance(other, _Bound) and (self.fn, self.bound) == (other.fn, other.bound)

    def __hash__(self):
        return hash((self.fn, self.bound))

    def __repr__(self):
        return f"{self.fn.__name__}{self.bound!r}"


def _init(sizes, activation, dtype, key):
    if not isinstance(key, jax.Array):
        raise TypeError(f"init needs a PRNG key such as jax.random.key(0); got "
                        f"{type(key).__name__}.")
    # One draw for all weights (each extra PRNG call site costs compile time).
    shapes = list(zip(sizes[:-1], sizes[1:]))
    z = jax.random.normal(key, (sum(a * b for a, b in shapes),), dtype)
    params, start = [], 0
    for layer, (fan_in, fan_out) in enumerate(shapes):
        hidden = layer < len(shapes) - 1
        var = 2.0 / fan_in if hidden and activation in _HE else 2.0 / (fan_in + fan_out)
        w = z[start:start + fan_in * fan_out].reshape(fan_in, fan_out) * math.sqrt(var)
        start += fan_in * fan_out
        params.append((w, jnp.zeros((fan_out,), dtype)))
    return params


# One compiled program per architecture instead of one per eager op.
_init_jit = jax.jit(_init, static_argnums=(0, 1, 2))


def _apply(sizes, activation, final_activation, params, x):
    x = jnp.asarray(x)
    if x.ndim < 1 or x.shape[-1] != sizes[0]:
        raise ValueError(f"this MLP takes inputs of shape ({sizes[0]},) or a batch "
                         f"(..., {sizes[0]}); got shape {x.shape}.")
    if len(params) != len(sizes) - 1:
        raise ValueError(f"this MLP has {len(sizes) - 1} layers (sizes {list(sizes)}) but "
                         f"params holds {len(params)}; use the init of the same mlp(...).")
    for layer, (w, b) in enumerate(params):
        x = x @ w + b
        if layer < len(params) - 1:
            x = activation(x)
    return x if final_activation is None else final_activation(x)


def _activation(name: str, value) -> Callable | None:
    if value is None and name == "final_activation":
        return None
    if isinstance(value, str):
        if value not in ACTIVATIONS:
            raise ValueError(f"unknown {name} {value!r}; choose from "
                             f"{', '.join(ACTIVATIONS)} or pass a function.")
        return ACTIVATIONS[value]
    if not callable(value):
        raise TypeError(f"{name} must be a name ({', '.join(ACTIVATIONS)}) or a function; "
                        f"got {value!r}.")
    return value


def mlp(sizes: Sequence[int], *, activation: str | Callable = jax.nn.relu,
        final_activation: str | Callable | None = None, dtype=jnp.float32) -> MLP:
    """A fully connected network with layer widths ``sizes`` (input first, output last).

    ``apply(params, x)`` computes h_l = act(h_{l-1} W_l + b_l) for the hidden
    layers and y = final(h_{L-1} W_L + b_L); ``params`` is a list of L pairs
    (W_l of shape (sizes[l-1], sizes[l]), b_l of shape (sizes[l],)), biases zero
    and weights He- or Glorot-normal at init (module docstring).

    Args:
      sizes: at least two positive ints, e.g. ``(2, 64, 64, 1)``.
      activation: between layers; a function or one of ``ACTIVATIONS``' names.
      final_activation: applied to the output (``None``: linear output).
      dtype: the parameters' floating dtype (float32 by default, also under x64).

    >>> import jax, jax.numpy as jnp
    >>> net = mlp((3, 16, 2), activation="tanh")
    >>> params = net.init(jax.random.key(0))
    >>> [w.shape for w, b in params]
    [(3, 16), (16, 2)]
    >>> net.apply(params, jnp.ones(3)).shape, net.apply(params, jnp.ones((5, 4, 3))).shape
    ((2,), (5, 4, 2))
    """
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise ValueError(f"sizes must be a sequence of layer widths such as (2, 64, 1); got "
                         f"{sizes!r}.")
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least an input and an output width, e.g. "
                         f"(2, 64, 1); got {list(sizes)}.")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
            raise ValueError(f"every layer width must be a positive int; got {list(sizes)} "
                             f"(bad entry {s!r}).")
    sizes = tuple(int(s) for s in sizes)
    dt = jnp.dtype(dtype)
    if not jnp.issubdtype(dt, jnp.floating):
        raise TypeError(f"dtype must be a real floating dtype such as jnp.float32; got {dt}.")
    act = _activation("activation", activation)
    final = _activation("final_activation", final_activation)
    return MLP(_Bound(_init_jit, sizes, act, dt.name), _Bound(_apply, sizes, act, final))
