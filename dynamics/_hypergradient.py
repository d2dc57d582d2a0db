"""Hypergradients of bilevel problems by the implicit function theorem, matrix-free.

A leader chooses ``lam``; a follower's parameters ``w`` satisfy a stationarity
condition F(lam, w) = 0: the gradient of an inner loss (``hypergradient``) or
any condition shaped like ``w`` (``hypergradient_of_root``, e.g. the followers'
simultaneous gradient when they play a game among themselves).  With the outer
loss L(lam, w), the hypergradient at a solution w*(lam) is::

    dL/dlam = dL/dlam|direct + (dL/dw) dw*/dlam,    dw*/dlam = -A^-1 B,
    A = dF/dw,  B = dF/dlam

so, with u solving A^T u = dL/dw, the indirect term is -u^T B (one vector-Jacobian
product of F with respect to ``lam``).  The methods below solve for u
(or differentiate through inner steps instead) without forming A, except
``Exact``.  For ``hypergradient``, A is the inner loss's Hessian H.  Products
with A^T are vector-Jacobian products of F linearised once at (lam, w), so every
solver iteration reuses the same residuals (for a Hessian: reverse-over-reverse
Hessian-vector products).

References:
  Lorraine, Vicol & Duvenaud (2020), "Optimizing Millions of Hyperparameters by
  Implicit Differentiation", AISTATS (the Neumann approximation).  Pedregosa
  (2016), "Hyperparameter optimization with approximate gradient", ICML (CG).
  Saad & Schultz (1986), "GMRES: A Generalized Minimal Residual Algorithm for
  Solving Nonsymmetric Linear Systems", SIAM J. Sci. Stat. Comput.  Shaban, Cheng,
  Hatch & Boots (2019), "Truncated Back-propagation for Bilevel Optimization",
  AISTATS.  Lorraine (2024), "Scalable Nested Optimization for Deep Learning",
  PhD thesis, University of Toronto.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from games.checks import check_int, check_positive, is_concrete

__all__ = ["hypergradient", "hypergradient_of_root", "hessian_top_eigenvalue",
           "HypergradientInfo", "Exact", "CG", "GMRES", "Neumann", "Identity", "Unrolled",
           "Truncated"]


# ------------------------------------------------------------------ method configurations

class _Method:
    """Frozen configuration registered as a pytree: ``_data`` fields are leaves (so
    ``jax.vmap`` can sweep them), ``_static`` fields (loop lengths) are static."""

    _data: tuple = ()
    _static: tuple = ()

    def tree_flatten(self):
        return (tuple(getattr(self, f) for f in self._data),
                tuple(getattr(self, f) for f in self._static))

    @classmethod
    def tree_unflatten(cls, static, leaves):
        # Bypasses __init__: JAX rebuilds methods with tracers or placeholders.
        obj = object.__new__(cls)
        for f, v in zip(cls._data + cls._static, tuple(leaves) + tuple(static)):
            object.__setattr__(obj, f, v)
        return obj


def _method(cls):
    cls = dataclasses.dataclass(frozen=True)(cls)
    return jax.tree_util.register_pytree_node_class(cls)


def _count(name, value, low=1):
    try:
        return check_int(name, value, low=low)
    except TypeError as err:
        raise TypeError(f"{err} It fixes a loop length, so it must be a Python int.") from None


@_method
class Exact(_Method):
    """Materialise A = dF/dw (d x d, d = size of w) and solve A^T u = dL/dw densely.

    For small problems and as a reference; memory O(d^2), time O(d^3).
    """


@_method
class Identity(_Method):
    """Replace A^-1 by the identity: u = dL/dw (no solve; a cheap, biased estimate)."""


@dataclasses.dataclass(frozen=True)
class _Krylov(_Method):
    """Shared fields of the Krylov solvers: ``iters`` (static) and ``tol`` (a leaf)."""

    iters: int
    tol: Any = 1e-10
    _data = ("tol",)
    _static = ("iters",)

    def __post_init__(self):
        object.__setattr__(self, "iters", _count("iters", self.iters))
        check_positive("tol", self.tol)


@_method
class CG(_Krylov):
    """Conjugate gradients on A^T u = dL/dw from u = 0: ``iters`` iterations of
    one product with A each (none is spent on A u_0), the iterate frozen once the
    relative residual is below ``tol``.

    Valid only when A is symmetric positive definite: the Hessian of an inner
    loss at a strict local minimum.  On a non-symmetric condition (followers
    playing a game) CG is invalid: ``HypergradientInfo.symmetry_error`` flags it
    (and an eager call warns); use ``GMRES`` there.
    """


@_method
class GMRES(_Krylov):
    """GMRES on A^T u = dL/dw with a Krylov space of ``iters`` vectors (one cycle,
    ``iters`` products with A at most), stopping early at relative residual
    ``tol``; valid for any non-singular A, symmetric or not."""


@_method
class Neumann(_Method):
    """The Neumann series A^-1 ~ alpha sum_{j < terms} (I - alpha A)^j.

    Ours counts ``terms`` as the number of powers summed (j = 0 .. terms - 1),
    which costs ``terms - 1`` products with A; libraries that count K
    Hessian-vector products sum K + 1 terms, i.e. ``terms = K + 1`` here.
    ``Neumann(alpha, k)`` equals differentiating k inner gradient steps of size
    ``alpha`` started at the solution (``Unrolled(k, alpha)``).

    It converges only when every eigenvalue of I - alpha A lies strictly inside
    the unit circle: for a positive definite Hessian, 0 < alpha < 2 / lambda_max
    (``hessian_top_eigenvalue`` estimates lambda_max; alpha = 1 / lambda_max is a
    safe choice).  A growing series is flagged: ``HypergradientInfo.ok`` is False
    (and an eager call warns).
    """

    alpha: Any
    terms: int
    _data = ("alpha",)
    _static = ("terms",)

    def __post_init__(self):
        check_positive("alpha", self.alpha)
        object.__setattr__(self, "terms", _count("terms", self.terms))


@_method
class Unrolled(_Method):
    """Differentiate through ``steps`` inner steps w <- w - lr F(lam, w) started at
    w (reverse mode: memory grows with ``steps``).  The gradient with respect to
    the starting point is zero by construction: only ``lam``'s effect on the
    steps counts."""

    steps: int
    lr: Any
    _data = ("lr",)
    _static = ("steps",)

    def __post_init__(self):
        object.__setattr__(self, "steps", _count("steps", self.steps))
        check_positive("lr", self.lr)


@_method
class Truncated(_Method):
    """Like ``Unrolled`` for ``steps`` inner steps, but only the last ``keep`` are
    differentiated (memory grows with ``keep``, not ``steps``)."""

    steps: int
    keep: int
    lr: Any
    _data = ("lr",)
    _static = ("steps", "keep")

    def __post_init__(self):
        object.__setattr__(self, "steps", _count("steps", self.steps))
        object.__setattr__(self, "keep", _count("keep", self.keep))
        if self.keep > self.steps:
            raise ValueError(f"keep ({self.keep}) cannot exceed steps ({self.steps}); "
                             f"e.g. Truncated(steps={self.steps}, keep={self.steps}, ...).")
        check_positive("lr", self.lr)


_SOLVERS = (Exact, Identity, CG, GMRES, Neumann)
_UNROLLERS = (Unrolled, Truncated)


# ------------------------------------------------------------------ the computation

class HypergradientInfo(NamedTuple):
    """Diagnostics of a hypergradient.

    residual: relative residual |A^T u - dL/dw| / |dL/dw| of the linear solve
      (one more product with A, computed only with ``info=True``; NaN for
      Unrolled/Truncated, which solve nothing; large for Identity and for Neumann
      with few terms by design).
    symmetry_error: |A x - A^T x| / |A x| for a fixed random x when CG was used
      on a general condition (CG needs a symmetric A), else 0.
    ok: False when the result is not finite or the method's assumptions
      visibly fail: the Neumann series grew (alpha too large, or A not positive
      definite), CG met a curvature p^T A p <= 0 (A singular or indefinite), or
      CG ran on a non-symmetric A (symmetry_error > 1e-6).
    """

    residual: jax.Array
    symmetry_error: jax.Array
    ok: jax.Array


def _tmap(f, *trees):
    return jax.tree_util.tree_map(f, *trees)


def _vdot(a, b):
    return sum(jnp.vdot(x, y) for x, y in zip(jax.tree_util.tree_leaves(a),
                                             jax.tree_util.tree_leaves(b)))


def _norm(a):
    return jnp.sqrt(jnp.maximum(_vdot(a, a), 0.0))


def _check_structures(outer, condition, lam, w, what):
    """Trace-time checks: scalar outer loss; a condition shaped like ``w``."""
    for name, tree in (("lam", lam), ("w", w)):
        if not jax.tree_util.tree_leaves(tree):
            raise ValueError(f"{name} must hold at least one array; got {tree!r}.")
        for leaf in jax.tree_util.tree_leaves(tree):
            dt = jnp.result_type(leaf)
            if not jnp.issubdtype(dt, jnp.floating):
                raise TypeError(f"{name} must hold real floating-point arrays; got a leaf of "
                                f"dtype {dt} and shape {jnp.shape(leaf)}.")
    try:
        out = jax.eval_shape(outer, lam, w)
    except Exception as err:
        raise type(err)(f"outer(lam, w) failed on the given lam and w: {err}") from err
    if not hasattr(out, "shape") or out.shape != ():
        raise ValueError(f"outer(lam, w) must return a scalar; got "
                         f"{jax.tree_util.tree_map(lambda x: x.shape, out)}.")
    try:
        cond = jax.eval_shape(condition, lam, w)
    except Exception as err:
        raise type(err)(f"{what} failed on the given lam and w: {err}") from err
    want = jax.eval_shape(lambda x: x, w)
    if jax.tree_util.tree_structure(cond) != jax.tree_util.tree_structure(want) or any(
            a.shape != b.shape for a, b in zip(jax.tree_util.tree_leaves(cond),
                                               jax.tree_util.tree_leaves(want))):
        raise ValueError(f"{what} must return a pytree shaped like w "
                         f"({_shapes(want)}); got {_shapes(cond)}. Pass the w that the "
                         f"condition is about, with the same structure and shapes.")
    dtypes = lambda t: [str(x.dtype) for x in jax.tree_util.tree_leaves(t)]
    if dtypes(cond) != dtypes(want):
        raise TypeError(f"{what} must return w's dtypes ({dtypes(want)}); got "
                        f"{dtypes(cond)}. Cast its result, e.g. with .astype(w.dtype).")


def _shapes(tree):
    return str(jax.tree_util.tree_map(lambda x: tuple(x.shape), tree))


def _cg(matvec, b, iters: int, tol):
    """Conjugate gradients from x0 = 0: exactly one product per iteration (none is
    spent on A x0), frozen once the residual is below ``tol`` |b|.  A fixed-length
    loop, so it is differentiable in both modes.  Also returns whether every
    curvature p^T A p it met was positive (False: A is not positive definite)."""
    dot = lambda a, c: jnp.real(_vdot(a, c))
    bb = dot(b, b)
    stop = (tol ** 2) * bb

    def body(_, carry):
        x, r, p, rr, definite = carry
        active = rr > stop
        ap = matvec(p)
        pap = dot(p, ap)
        definite = definite & ~(active & (pap <= 0))
        alpha = jnp.where(active & (pap != 0), rr / jnp.where(pap != 0, pap, 1), 0)
        # (astype: leaves of different dtypes keep theirs; alpha is the widest)
        x = _tmap(lambda xi, pi: (xi + alpha * pi).astype(xi.dtype), x, p)
        r = _tmap(lambda ri, ai: (ri - alpha * ai).astype(ri.dtype), r, ap)
        rr_new = dot(r, r)
        beta = jnp.where(active & (rr != 0), rr_new / jnp.where(rr != 0, rr, 1), 0)
        p = _tmap(lambda ri, pi: jnp.where(active, ri + beta * pi, pi).astype(pi.dtype), r, p)
        return x, r, p, jnp.where(active, rr_new, rr), definite

    zero = _tmap(jnp.zeros_like, b)
    x, _, _, _, definite = jax.lax.fori_loop(0, iters, body, (zero, b, b, bb, jnp.bool_(True)))
    return x, definite


def _solve(method, matvec_t, v, dense_t, symmetric, probe, with_residual):
    """u with A^T u = v by ``method``; and (residual, symmetry error, ok).  The
    residual costs one more product with A, so it is computed only when asked."""
    ok = jnp.bool_(True)
    sym_err = jnp.zeros((), jnp.result_type(*jax.tree_util.tree_leaves(v)))
    if isinstance(method, Identity):
        u = v
    elif isinstance(method, Exact):
        flat, unravel = ravel_pytree(v)
        u = unravel(jnp.linalg.solve(dense_t(), flat))
    elif isinstance(method, Neumann):
        def body(carry, _):
            cur, acc = carry
            cur = _tmap(lambda c, a: c - method.alpha * a, cur, matvec_t(cur))
            return (cur, _tmap(jnp.add, acc, cur)), None
        (last, acc), _ = jax.lax.scan(body, (v, v), None, length=method.terms - 1)
        u = _tmap(lambda a: method.alpha * a, acc)
        ok = ok & (_norm(last) <= _norm(v) * (1 + 1e-6))
    elif isinstance(method, CG):
        u, definite = _cg(matvec_t, v, method.iters, method.tol)
        ok = ok & definite
        if not symmetric:
            forward, transposed = probe()
            sym_err = _norm(_tmap(jnp.subtract, forward, transposed)) / jnp.maximum(
                _norm(forward), jnp.finfo(sym_err.dtype).tiny)
            ok = ok & (sym_err <= 1e-6)
    else:                              # GMRES
        if len({x.dtype for x in jax.tree_util.tree_leaves(v)}) > 1:
            # jax.scipy's GMRES needs one dtype: solve on the flat vector (ravel
            # promotes, unravel casts each leaf back).
            flat, unravel = ravel_pytree(v)
            u, _ = jax.scipy.sparse.linalg.gmres(
                lambda x: ravel_pytree(matvec_t(unravel(x)))[0], flat, tol=method.tol,
                restart=method.iters, maxiter=1)
            u = unravel(u)
        else:
            u, _ = jax.scipy.sparse.linalg.gmres(matvec_t, v, tol=method.tol,
                                                 restart=method.iters, maxiter=1)
    if with_residual:
        residual = _norm(_tmap(jnp.subtract, matvec_t(u), v)) / jnp.maximum(
            _norm(v), jnp.finfo(sym_err.dtype).tiny)
    else:
        residual = jnp.full((), jnp.nan, sym_err.dtype)
    return u, HypergradientInfo(residual, sym_err, ok)


def _unrolled(method, outer, condition, lam, w):
    keep = method.steps if isinstance(method, Unrolled) else method.keep

    def step(lam_, w_):
        return _tmap(lambda a, f: a - method.lr * f, w_, condition(lam_, w_))

    def through(lam_):
        w_ = w
        if method.steps > keep:           # run, not differentiated
            w_ = jax.lax.stop_gradient(jax.lax.fori_loop(
                0, method.steps - keep, lambda _, x: step(jax.lax.stop_gradient(lam_), x), w_))
        w_, _ = jax.lax.scan(lambda x, _: (step(lam_, x), None), w_, None, length=keep)
        return outer(lam_, w_)

    g = jax.grad(through)(lam)
    nan = jnp.full((), jnp.nan, jnp.result_type(*jax.tree_util.tree_leaves(g)))
    return g, HypergradientInfo(nan, jnp.zeros_like(nan), jnp.bool_(True))


def _hypergradient(outer, condition, lam, w, method, symmetric, with_info):
    # Not jitted here: a jit with the loss functions static would freeze whatever
    # they read (a global target, a minibatch) at the first call.  Under the
    # caller's jit (or simulate's) it compiles like any other code.
    if isinstance(method, _UNROLLERS):
        grad, info = _unrolled(method, outer, condition, lam, w)
        return grad, info._replace(ok=info.ok & _finite(grad))
    g_lam, v = jax.grad(outer, argnums=(0, 1))(lam, w)
    # Products A^T u by a vjp of the condition linearised once.  For a Hessian
    # (A = A^T) this reverse-over-reverse product measured 15-20% faster than
    # forward-over-reverse jvps on the CPU at 1M weights, with the same memory
    # (benchmarks/hypergrad.py), as every solver iteration reuses the residuals.
    _, vjp_w = jax.vjp(lambda w_: condition(lam, w_), w)

    def matvec_t(u):
        return vjp_w(u)[0]

    def dense_t():
        flat, unravel = ravel_pytree(w)
        jac = jax.jacfwd(lambda x: ravel_pytree(condition(lam, unravel(x)))[0])(flat)
        return jac.T

    def probe():
        flat, unravel = ravel_pytree(w)
        x = unravel(jax.random.normal(jax.random.key(0), flat.shape, flat.dtype))
        forward = jax.jvp(lambda w_: condition(lam, w_), (w,), (x,))[1]
        return forward, matvec_t(x)

    u, info = _solve(method, matvec_t, v, dense_t, symmetric, probe, with_info)
    _, vjp_lam = jax.vjp(lambda l_: condition(l_, w), lam)
    grad = _tmap(jnp.subtract, g_lam, vjp_lam(u)[0])
    return grad, info._replace(ok=info.ok & _finite(grad))


def _finite(tree):
    return functools.reduce(jnp.logical_and, [jnp.all(jnp.isfinite(x)) for x in
                                              jax.tree_util.tree_leaves(tree)], jnp.bool_(True))


def _check_method(method):
    if not isinstance(method, _SOLVERS + _UNROLLERS):
        raise TypeError(f"method must be one of Exact(), CG(iters), GMRES(iters), "
                        f"Neumann(alpha, terms), Identity(), Unrolled(steps, lr) or "
                        f"Truncated(steps, keep, lr); got {method!r} "
                        f"({type(method).__name__}).")


def _finish(result, with_info, method):
    grad, diag = result
    if is_concrete(diag.ok) and not bool(diag.ok):
        if not bool(_finite(grad)):
            why = ("the result is not finite (a singular H, or w or the losses not "
                   "finite); add a ridge to inner or check w.")
        elif isinstance(method, Neumann):
            why = ("the Neumann series grew; lower alpha below 2 / lambda_max (see "
                   "hessian_top_eigenvalue) or check that w is a minimum.")
        elif float(diag.symmetry_error) > 1e-6:
            why = (f"the Jacobian is not symmetric (symmetry error "
                   f"{float(diag.symmetry_error):.2e}) and CG needs a symmetric positive "
                   f"definite one; use GMRES.")
        else:
            why = ("CG met a direction of non-positive curvature: H is singular or "
                   "indefinite (is w a minimum?); add a ridge to inner or use GMRES.")
        warnings.warn(f"{type(method).__name__}: the hypergradient is unreliable: {why}",
                      RuntimeWarning, stacklevel=3)
    return (grad, diag) if with_info else grad


def hypergradient(outer: Callable, inner: Callable, lam, w, method, *, info: bool = False):
    """dL/dlam of ``outer(lam, w*(lam))`` where w*(lam) minimises ``inner(lam, .)``.

    ``outer(lam, w)`` and ``inner(lam, w)`` return scalars; ``lam`` and ``w`` are
    any pytrees of real floats; ``w`` is an (approximate) inner minimiser.  The
    result is shaped like ``lam``: the direct gradient plus the implicit-function
    term -(H^-1 dL/dw)^T d^2 inner/(dw dlam), H = d^2 inner/dw^2, with H^-1 applied
    by ``method`` (see the module docstring): ``Exact()``, ``CG(iters, tol)``,
    ``GMRES(iters, tol)``, ``Neumann(alpha, terms)``, ``Identity()``, or
    differentiation through inner gradient steps ``Unrolled(steps, lr)`` /
    ``Truncated(steps, keep, lr)``.  Products with H are Hessian-vector
    products of the gradient linearised once; only ``Exact`` forms H.

    With ``info=True`` it returns ``(hypergradient, HypergradientInfo)``.  An
    eager call whose method visibly failed (a growing Neumann series) warns.

    Pitfalls: the result is the hypergradient *at w*: if w is far from the inner
    solution, it is the IFT formula evaluated at the wrong point, silently; an
    ill-conditioned H needs more iterations (or a ridge in ``inner``).

    >>> import jax.numpy as jnp
    >>> inner = lambda lam, w: 0.5 * jnp.sum((w - lam) ** 2) + 0.5 * jnp.sum(w ** 2)
    >>> outer = lambda lam, w: 0.5 * jnp.sum((w - 1.0) ** 2)       # w*(lam) = lam / 2
    >>> lam = jnp.array([0.4]); w = lam / 2
    >>> round(float(hypergradient(outer, inner, lam, w, Exact())[0]), 6)   # (w* - 1) / 2
    -0.4
    >>> # H = 2: alpha (1 + (1 - 2 alpha)) = 3/8 instead of H^-1 = 1/2
    >>> round(float(hypergradient(outer, inner, lam, w, Neumann(alpha=0.25, terms=2))[0]), 6)
    -0.3
    """
    _check_method(method)
    condition = jax.grad(inner, argnums=1)
    _check_structures(outer, condition, lam, w, "grad of inner(lam, w) in w")
    return _finish(_hypergradient(outer, condition, lam, w, method, True, bool(info)), info,
                   method)


def hypergradient_of_root(outer: Callable, condition: Callable, lam, w, method, *,
                          info: bool = False):
    """dL/dlam of ``outer(lam, w*(lam))`` where ``condition(lam, w*(lam)) = 0``.

    ``condition`` returns a pytree shaped like ``w`` (jaxopt's optimality
    function), e.g. the followers' simultaneous gradient when several followers
    play a game among themselves; its Jacobian A = d condition / dw is then
    non-symmetric, so use ``Exact()`` or ``GMRES(iters)`` (``CG`` is valid only
    for symmetric positive definite A; a random-probe symmetry check flags it in
    ``HypergradientInfo`` and an eager call warns).  ``Neumann``, ``Unrolled``
    and ``Truncated`` take steps w <- w - alpha condition(lam, w), so they need
    the eigenvalues of A to have positive real parts.  Otherwise as
    :func:`hypergradient`.

    >>> import jax.numpy as jnp
    >>> A = jnp.array([[2.0, 1.0], [-1.0, 2.0]])                    # non-symmetric
    >>> condition = lambda lam, w: A @ w - lam                      # w* = A^-1 lam
    >>> outer = lambda lam, w: jnp.sum(w)
    >>> lam = jnp.array([1.0, 0.0]); w = jnp.linalg.solve(A, lam)
    >>> g = hypergradient_of_root(outer, condition, lam, w, GMRES(iters=2))
    >>> [round(float(x), 4) for x in g]                             # A^-T (1, 1)
    [0.6, 0.2]
    """
    _check_method(method)
    _check_structures(outer, condition, lam, w, "condition(lam, w)")
    return _finish(_hypergradient(outer, condition, lam, w, method, False, bool(info)), info,
                   method)


def hessian_top_eigenvalue(inner: Callable, lam, w, *, iters: int = 50, key=None):
    """The largest-magnitude eigenvalue of H = d^2 inner / dw^2 at (lam, w), by
    ``iters`` steps of power iteration with Hessian-vector products.

    Use it to pick Neumann's ``alpha``: the series converges for a positive
    definite H when 0 < alpha < 2 / lambda_max; ``1 / lambda_max`` is safe.
    Power iteration needs one eigenvalue strictly largest in magnitude: at a
    minimum (H positive semi-definite) that is lambda_max; where H has
    eigenvalues +-m of equal magnitude (a saddle) the result is meaningless.

    >>> import jax, jax.numpy as jnp
    >>> inner = lambda lam, w: 0.5 * (3.0 * w[0] ** 2 + w[1] ** 2) + lam * w[1]
    >>> round(float(hessian_top_eigenvalue(inner, 0.0, jnp.ones(2), key=jax.random.key(0))), 4)
    3.0
    """
    iters = _count("iters", iters)
    key = jax.random.key(0) if key is None else key
    condition = jax.grad(inner, argnums=1)
    flat, unravel = ravel_pytree(w)

    _, vjp_w = jax.vjp(lambda w_: condition(lam, w_), w)     # H = H^T: linearised once

    def hvp(x):
        return ravel_pytree(vjp_w(unravel(x))[0])[0]

    x0 = jax.random.normal(key, flat.shape, flat.dtype)

    def body(x, _):
        y = hvp(x)
        return y / jnp.maximum(jnp.linalg.norm(y), jnp.finfo(flat.dtype).tiny), None
    x, _ = jax.lax.scan(body, x0 / jnp.linalg.norm(x0), None, length=iters)
    return jnp.vdot(x, hvp(x))
