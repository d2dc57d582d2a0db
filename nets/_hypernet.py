"""Hypernetworks: maps from hyperparameters lambda to a weight pytree (pure JAX).

A hypernetwork is a pair of pure functions, like ``nets.mlp``:

    phi = init(key, weights, center=None)   # apply(phi, lam) = weights for every lam
    w   = apply(phi, lam)         # w = unravel(b + f_phi(ravel(lam) - c))

where ``ravel``/``unravel`` flatten a pytree to a vector (as
``jax.flatten_util.ravel_pytree``), b (the flat weights at init) is part of phi,
and c = ravel(center) (zeros by default) is a fixed input offset kept in phi
(``phi["center"]``: ``dynamics.hypernetwork`` and ``dynamics.fit_best_response``
leave it where it is; a hand-written training loop should too).  Centre a hypernetwork at the
hyperparameters it will be used around: f then sees lam - c, of the size of the
perturbations, instead of lam itself, whose size (e.g. log decays near -7 on
thousands of entries) would make its training badly conditioned.
The three kinds differ in f_phi, a map from d_lam to d_w numbers:

* ``linear_hypernet``:     f(lam) = W lam                         (d_w x d_lam weights)
* ``factorized_hypernet``: f(lam) = U (V lam), bottleneck k          (k (d_w + d_lam))
* ``mlp_hypernet``:        f(lam) = MLP(lam) with hidden widths     (an MLP's weights)

The last layer of f starts at zero (W, U and the MLP's output layer), so a new
hypernetwork outputs exactly the given weights and learns how they should move
with lambda.  ``init`` and ``apply`` compare and hash equal whenever built from the
same structure, so a hypernetwork stored as a static field does not recompile.

References:
  Ha, Dai & Le (2017), "HyperNetworks", ICLR.  Lorraine & Duvenaud (2018),
  "Stochastic Hyperparameter Optimization through Hypernetworks", arXiv:1802.09419
  (hypernetworks as best responses; linear and factorised-linear ones locally).
  MacKay, Vicol, Lorraine, Duvenaud & Grosse (2019), "Self-Tuning Networks",
  ICLR.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from nets._mlp import _Bound, _activation, _apply, _init

__all__ = ["Hypernet", "linear_hypernet", "factorized_hypernet", "mlp_hypernet"]


class Hypernet(NamedTuple):
    """``init(key, weights, center=None) -> phi`` and ``apply(phi, lam) -> weights``,
    both pure."""

    init: Callable[[jax.Array, Any], Any]
    apply: Callable[[Any, Any], Any]


def _spec(name, tree):
    """(treedef, ((shape, dtype), ...)) of an example pytree (arrays or ShapeDtypeStructs)."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    if not leaves:
        raise ValueError(f"{name} must be a pytree with at least one array; got {tree!r}.")
    spec = []
    for leaf in leaves:
        shape, dtype = tuple(jnp.shape(leaf)), jnp.dtype(getattr(leaf, "dtype", None)
                                                         or jnp.result_type(leaf))
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(f"{name} must hold real floating-point arrays; got a leaf of "
                            f"dtype {dtype} and shape {shape}.")
        spec.append((shape, dtype.name))
    return treedef, tuple(spec)


def _size(spec):
    return sum(math.prod(shape) for shape, _ in spec[1])


def _describe(spec):
    return str(jax.tree_util.tree_unflatten(spec[0], [f"{d}{list(s)}" for s, d in spec[1]]))


def _flatten(name, spec, tree):
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    if treedef != spec[0] or [tuple(jnp.shape(x)) for x in leaves] != [s for s, _ in spec[1]]:
        got = (treedef, tuple((tuple(jnp.shape(x)), jnp.result_type(x).name) for x in leaves))
        raise ValueError(f"{name} has structure {_describe(got)} but this hypernetwork was "
                         f"built for {_describe(spec)}; build it from the same weights and "
                         f"hyperparameters it is used with.")
    dtype = spec[1][0][1]
    return jnp.concatenate([jnp.ravel(x).astype(dtype) for x in leaves])


def _unflatten(spec, flat):
    out, start = [], 0
    for shape, dtype in spec[1]:
        n = math.prod(shape)
        out.append(flat[start:start + n].reshape(shape).astype(dtype))
        start += n
    return jax.tree_util.tree_unflatten(spec[0], out)


def _hinit(kind, wspec, lspec, extra, key, weights, center=None):
    if not isinstance(key, jax.Array):
        raise TypeError(f"init needs a PRNG key such as jax.random.key(0); got "
                        f"{type(key).__name__}.")
    b = _flatten("weights", wspec, weights)
    dw, dl, dtype = _size(wspec), _size(lspec), b.dtype
    c = (jnp.zeros(dl, dtype) if center is None
         else _flatten("center (a lambda)", lspec, center).astype(dtype))
    if kind == "linear":
        return {"b": b, "W": jnp.zeros((dw, dl), dtype), "center": c}
    if kind == "factorized":
        (k,) = extra
        v = jax.random.normal(key, (k, dl), dtype) / math.sqrt(dl)
        return {"b": b, "U": jnp.zeros((dw, k), dtype), "V": v, "center": c}
    hidden, activation = extra
    layers = _init((dl, *hidden, dw), activation, dtype, key)
    w_last, b_last = layers[-1]
    layers[-1] = (jnp.zeros_like(w_last), jnp.zeros_like(b_last))
    return {"b": b, "mlp": layers, "center": c}


def _happly(kind, wspec, lspec, extra, phi, lam):
    x = _flatten("lam", lspec, lam)
    b = phi.get("b") if isinstance(phi, dict) else None
    if b is None or jnp.shape(b) != (_size(wspec),):
        raise ValueError(f"phi does not belong to this hypernetwork: its 'b' has shape "
                         f"{None if b is None else tuple(jnp.shape(b))}, this network outputs "
                         f"{_size(wspec)} weights ({_describe(wspec)}); use the phi its own "
                         f"init returned.")
    if "center" in phi:                  # optional, so hand-built phi work too
        x = x - phi["center"].astype(x.dtype)
    if kind == "linear":
        out = phi["b"] + phi["W"] @ x.astype(phi["W"].dtype)
    elif kind == "factorized":
        out = phi["b"] + phi["U"] @ (phi["V"] @ x.astype(phi["V"].dtype))
    else:
        hidden, activation = extra
        out = phi["b"] + _apply((x.size, *hidden, phi["b"].size), activation, None,
                                phi["mlp"], x.astype(phi["b"].dtype))
    return _unflatten(wspec, out)


def _make(kind, weights, hyper, extra):
    wspec, lspec = _spec("weights", weights), _spec("hyper", hyper)
    return Hypernet(_Bound(_hinit, kind, wspec, lspec, extra),
                    _Bound(_happly, kind, wspec, lspec, extra))


def linear_hypernet(weights, hyper) -> Hypernet:
    """w(lam) = unravel(b + W ravel(lam)): d_w x d_lam weights plus a bias.

    ``weights`` and ``hyper`` are example pytrees (arrays or
    ``jax.ShapeDtypeStruct``) fixing the output's and the input's structure,
    shapes and dtype (the weights' dtype).  A local best response: enough around
    one lambda (Lorraine & Duvenaud 2018).

    >>> import jax, jax.numpy as jnp
    >>> w0 = {"a": jnp.ones(3), "b": jnp.zeros(())}
    >>> net = linear_hypernet(w0, jnp.zeros(2))
    >>> phi = net.init(jax.random.key(0), w0)
    >>> phi["W"].shape, net.apply(phi, jnp.array([5.0, -1.0]))["a"].tolist()
    ((4, 2), [1.0, 1.0, 1.0])
    """
    return _make("linear", weights, hyper, ())


def factorized_hypernet(weights, hyper, bottleneck: int = 10) -> Hypernet:
    """w(lam) = unravel(b + U V ravel(lam)) through a ``bottleneck`` of k units:
    k (d_w + d_lam) weights instead of d_w d_lam.

    >>> import jax, jax.numpy as jnp
    >>> net = factorized_hypernet(jnp.zeros(100), jnp.zeros(100), bottleneck=4)
    >>> phi = net.init(jax.random.key(0), jnp.zeros(100))
    >>> phi["U"].shape, phi["V"].shape
    ((100, 4), (4, 100))
    """
    if isinstance(bottleneck, bool) or not isinstance(bottleneck, numbers.Integral) \
            or bottleneck < 1:
        raise ValueError(f"bottleneck must be a positive int; got {bottleneck!r}.")
    return _make("factorized", weights, hyper, (int(bottleneck),))


def mlp_hypernet(weights, hyper, hidden: Sequence[int] = (50,), *,
                 activation: str | Callable = "relu") -> Hypernet:
    """w(lam) = unravel(b + MLP(ravel(lam))) with hidden widths ``hidden``: a global
    best response over a distribution of lambda (the thesis uses 50 hidden units).

    >>> import jax, jax.numpy as jnp
    >>> net = mlp_hypernet(jnp.zeros(6), jnp.zeros(()), hidden=(8,))
    >>> phi = net.init(jax.random.key(0), jnp.arange(6.0))
    >>> net.apply(phi, jnp.asarray(2.0)).tolist()            # starts at the weights
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    """
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__len__") or any(
            isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1
            for h in hidden):
        raise ValueError(f"hidden must be a sequence of positive ints such as (50,); got "
                         f"{hidden!r}.")
    return _make("mlp", weights, hyper, (tuple(int(h) for h in hidden),
                                         _activation("activation", activation)))
