"""Hypergradients against closed forms, finite differences and each other (x64).

Ridge regression with per-weight decay has the closed-form inner solution
w*(lam) = (X^T X + diag(e^lam))^-1 X^T y, so its hypergradient is known exactly:
with v = dL_V/dw at w* and u = H^-1 v, dL_V/dlam_i = -u_i e^lam_i w*_i.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dynamics
from dynamics import CG, GMRES, Exact, Identity, Neumann, Truncated, Unrolled

RNG = np.random.default_rng(0)
X, Y = RNG.normal(size=(40, 5)), RNG.normal(size=40)
XV, YV = RNG.normal(size=(25, 5)), RNG.normal(size=25)
LAM = RNG.normal(scale=0.5, size=5)


def inner(lam, w):
    return 0.5 * jnp.sum((X @ w - Y) ** 2) + 0.5 * jnp.sum(jnp.exp(lam) * w**2)


def outer(lam, w):
    return 0.5 * jnp.sum((XV @ w - YV) ** 2)


def ridge(lam):
    """NumPy: w*, H, and the analytic hypergradient."""
    H = X.T @ X + np.diag(np.exp(lam))
    w = np.linalg.solve(H, X.T @ Y)
    v = XV.T @ (XV @ w - YV)
    u = np.linalg.solve(H, v)
    return w, H, -u * np.exp(lam) * w, v


W, H, TRUE, V = ridge(LAM)
LAM_J, W_J = jnp.asarray(LAM), jnp.asarray(W)
LAMBDA_MAX = np.max(np.linalg.eigvalsh(H))


def hg(method, **kw):
    return np.asarray(dynamics.hypergradient(outer, inner, LAM_J, W_J, method, **kw))


def test_exact_and_cg_match_the_closed_form_and_finite_differences():
    np.testing.assert_allclose(hg(Exact()), TRUE, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(hg(CG(iters=20, tol=1e-13)), TRUE, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(hg(GMRES(iters=5, tol=1e-13)), TRUE, rtol=1e-8, atol=1e-10)
    # central differences of lam -> L_V(w*(lam)), w* solved in NumPy
    h = 1e-6
    fd = []
    for i in range(LAM.size):
        e = np.zeros_like(LAM)
        e[i] = h
        f = [0.5 * np.sum((XV @ ridge(LAM + s * e)[0] - YV) ** 2) for s in (1, -1)]
        fd.append((f[0] - f[1]) / (2 * h))
    np.testing.assert_allclose(TRUE, fd, rtol=1e-6, atol=1e-8)


def _numpy_cg(A, b, iters):
    x, r = np.zeros_like(b), b.copy()
    p, rr = r.copy(), r @ r
    for _ in range(iters):
        ap = A @ p
        alpha = rr / (p @ ap)
        x, r = x + alpha * p, r - alpha * ap
        rr, rr_old = r @ r, rr
        p = r + rr / rr_old * p
    return x


@pytest.mark.parametrize("k", [1, 3])
def test_cg_runs_exactly_iters_iterations_from_zero(k):
    # Stopped before convergence, CG(k) is k textbook CG iterations from u = 0:
    # the hypergradient's indirect term then uses that u.
    u = _numpy_cg(H, V, k)
    want = -u * np.exp(LAM) * W
    np.testing.assert_allclose(hg(CG(iters=k, tol=1e-13)), want, rtol=1e-9)
    assert np.abs(want - TRUE).max() > 1e-5       # genuinely unconverged


def test_neumann_error_falls_with_terms_and_reaches_1e_6():
    alpha = 1.0 / LAMBDA_MAX
    errors = [np.linalg.norm(hg(Neumann(alpha, k)) - TRUE) / np.linalg.norm(TRUE)
              for k in (1, 2, 4, 8, 16, 32)]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-6


@pytest.mark.parametrize("k", [1, 3, 10])
def test_unrolled_from_the_solution_equals_neumann(k):
    a = 0.8 / LAMBDA_MAX
    np.testing.assert_allclose(hg(Unrolled(steps=k, lr=a)), hg(Neumann(a, k)),
                               rtol=1e-8, atol=1e-12)
    # Truncation: steps not differentiated stay at w*, so only `keep` count.
    np.testing.assert_allclose(hg(Truncated(steps=k + 7, keep=k, lr=a)), hg(Neumann(a, k)),
                               rtol=1e-8, atol=1e-12)


def test_identity_is_the_direct_gradient_minus_the_mixed_term():
    # H^-1 replaced by I: u = v, so dL_V/dlam_i = -v_i e^lam_i w*_i.
    np.testing.assert_allclose(hg(Identity()), -V * np.exp(LAM) * W, rtol=1e-10)


def test_a_non_symmetric_condition_with_exact_and_gmres():
    # condition(lam, w) = A w - C lam - c with A non-symmetric, so w* = A^-1 (C lam + c);
    # L = 1/2 |w - t|^2 + 1/2 |lam|^2 gives dL/dlam = lam + C^T A^-T (w* - t).
    rng = np.random.default_rng(1)
    A = 3 * np.eye(4) + rng.normal(size=(4, 4))
    A[0, 1] += 2.0
    C, c, t = rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=4)
    lam = rng.normal(size=3)
    w = np.linalg.solve(A, C @ lam + c)
    true = lam + C.T @ np.linalg.solve(A.T, w - t)
    condition = lambda l_, w_: A @ w_ - C @ l_ - c
    loss = lambda l_, w_: 0.5 * jnp.sum((w_ - t) ** 2) + 0.5 * jnp.sum(l_**2)
    for method in (Exact(), GMRES(iters=4, tol=1e-13)):
        got = dynamics.hypergradient_of_root(loss, condition, jnp.asarray(lam),
                                             jnp.asarray(w), method)
        np.testing.assert_allclose(got, true, rtol=1e-8, atol=1e-10)
    # CG assumes symmetry: the diagnostic says so, and an eager call warns.
    with pytest.warns(RuntimeWarning, match="CG needs a symmetric"):
        _, info = dynamics.hypergradient_of_root(loss, condition, jnp.asarray(lam),
                                                 jnp.asarray(w), CG(iters=10), info=True)
    assert not bool(info.ok) and float(info.symmetry_error) > 1e-3


def test_diagnostics_and_a_diverging_neumann_series():
    g, info = dynamics.hypergradient(outer, inner, LAM_J, W_J, CG(20, 1e-13), info=True)
    assert bool(info.ok) and float(info.residual) < 1e-10 and float(info.symmetry_error) == 0
    with pytest.warns(RuntimeWarning, match="Neumann series grew"):
        _, info = dynamics.hypergradient(outer, inner, LAM_J, W_J,
                                         Neumann(3.0 / LAMBDA_MAX, 20), info=True)
    assert not bool(info.ok)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, info = dynamics.hypergradient(outer, inner, LAM_J, W_J,
                                         Neumann(1.0 / LAMBDA_MAX, 20), info=True)
    assert bool(info.ok) and 0 < float(info.residual) < 1


def test_a_singular_or_indefinite_h_is_flagged_not_trusted():
    # inner = 1/2 (w_0 - lam)^2: H = diag(1, 0) is singular in w_1.
    sing_inner = lambda lam, w: 0.5 * (w[0] - lam[0]) ** 2
    sing_outer = lambda lam, w: jnp.sum(w)
    lam, w = jnp.array([0.3]), jnp.array([0.3, 0.0])
    with pytest.warns(RuntimeWarning, match="not finite"):
        g, info = dynamics.hypergradient(sing_outer, sing_inner, lam, w, Exact(), info=True)
    assert not bool(info.ok) and not np.all(np.isfinite(g))
    with pytest.warns(RuntimeWarning, match="non-positive curvature"):
        _, info = dynamics.hypergradient(sing_outer, sing_inner, lam, w, CG(5), info=True)
    assert not bool(info.ok)


def test_weights_of_mixed_dtypes():
    # w = {"a": float32[2], "b": float64[3]}: the Krylov solvers keep each leaf's dtype
    pack = lambda w: jnp.concatenate([w["a"].astype(jnp.float64), w["b"]])
    i = lambda lam, w: inner(lam, pack(w))
    o = lambda lam, w: outer(lam, pack(w))
    w = {"a": jnp.asarray(W[:2], jnp.float32), "b": W_J[2:]}
    ref = dynamics.hypergradient(o, i, LAM_J, w, Exact())
    np.testing.assert_allclose(ref, TRUE, rtol=1e-5)        # w rounded to float32
    for method in (CG(20, 1e-12), GMRES(5, 1e-12)):
        np.testing.assert_allclose(dynamics.hypergradient(o, i, LAM_J, w, method), ref,
                                   rtol=1e-6, atol=1e-9)
    with pytest.raises(TypeError, match=r"must return w's dtypes \(\['float32', 'float64'\]\)"):
        dynamics.hypergradient_of_root(o, lambda l, w_: {"a": w_["a"].astype(jnp.float64),
                                                         "b": w_["b"]}, LAM_J, w, Exact())
    with pytest.raises(ValueError, match=r"w must hold at least one array; got \(\)"):
        dynamics.hypergradient(outer, inner, LAM_J, (), Exact())


def test_losses_are_read_afresh_at_every_call():
    # A loss that reads a global (a target, a minibatch) must see its current value.
    box = {"target": 1.0}
    o = lambda lam, w: 0.5 * jnp.sum((w - box["target"]) ** 2)
    i = lambda lam, w: 0.5 * jnp.sum((w - lam) ** 2) + 0.5 * jnp.sum(w ** 2)  # w* = lam / 2
    lam = jnp.array([0.4])
    for target in (1.0, 3.0):
        box["target"] = target
        g = dynamics.hypergradient(o, i, lam, lam / 2, Exact())
        np.testing.assert_allclose(g, (0.2 - target) / 2, rtol=1e-12)


def test_top_eigenvalue_picks_alpha():
    got = dynamics.hessian_top_eigenvalue(inner, LAM_J, W_J, iters=300,
                                          key=jax.random.key(1))
    assert float(got) == pytest.approx(LAMBDA_MAX, rel=1e-8)


def test_jit_and_vmap_over_the_method_hyperparameters():
    run = jax.jit(lambda m: dynamics.hypergradient(outer, inner, LAM_J, W_J, m))
    np.testing.assert_allclose(run(Neumann(0.5 / LAMBDA_MAX, 10)),
                               hg(Neumann(0.5 / LAMBDA_MAX, 10)), rtol=1e-12)
    alphas = jnp.array([0.2, 0.5, 0.9]) / LAMBDA_MAX
    batch = jax.vmap(lambda a: dynamics.hypergradient(outer, inner, LAM_J, W_J,
                                                      Neumann(a, 10)))(alphas)
    for a, row in zip(np.asarray(alphas), np.asarray(batch)):
        np.testing.assert_allclose(row, hg(Neumann(float(a), 10)), rtol=1e-12)


def test_pytree_hyperparameters_and_weights():
    # The same problem with lam and w as dicts of two blocks.
    split = lambda a: {"head": a[:2], "tail": a[2:]}
    join = lambda d: jnp.concatenate([d["head"], d["tail"]])
    got = dynamics.hypergradient(lambda l, w: outer(join(l), join(w)),
                                 lambda l, w: inner(join(l), join(w)),
                                 split(LAM_J), split(W_J), CG(20, 1e-13))
    np.testing.assert_allclose(join(got), TRUE, rtol=1e-8)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="alpha must be positive"):
        Neumann(0.0, 5)
    with pytest.raises(ValueError, match="alpha must be positive"):
        Neumann(-1.0, 5)
    with pytest.raises(ValueError, match=r"terms must be an int >= 1; got 0"):
        Neumann(0.1, 0)
    with pytest.raises(TypeError, match="terms must be an int; got 2.5.*Python int"):
        Neumann(0.1, 2.5)
    with pytest.raises(ValueError, match=r"iters must be an int >= 1; got 0"):
        CG(0)
    with pytest.raises(ValueError, match=r"iters must be an int >= 1; got -3"):
        GMRES(-3)
    with pytest.raises(ValueError, match=r"keep \(5\) cannot exceed steps \(3\)"):
        Truncated(3, 5, 0.1)
    with pytest.raises(TypeError, match="method must be one of"):
        dynamics.hypergradient(outer, inner, LAM_J, W_J, "cg")
    # w of the wrong shape for the losses
    with pytest.raises(TypeError, match="failed on the given lam and w"):
        dynamics.hypergradient(outer, inner, LAM_J, jnp.zeros(3), Exact())
    # a condition that is not shaped like w
    with pytest.raises(ValueError, match=r"must return a pytree shaped like w"):
        dynamics.hypergradient_of_root(outer, lambda l, w: w[:3], LAM_J, W_J, Exact())
    with pytest.raises(ValueError, match="outer\\(lam, w\\) must return a scalar"):
        dynamics.hypergradient(lambda l, w: XV @ w, inner, LAM_J, W_J, Exact())
    with pytest.raises(TypeError, match="lam must hold real floating-point arrays"):
        dynamics.hypergradient(outer, inner, jnp.arange(5), W_J, Exact())
