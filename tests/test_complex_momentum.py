"""Complex momentum family: closed forms, equivalences, optax versions, theorems."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dynamics
import games
from _reference import augmented_simultaneous, complex_momentum_step
from games.strategies import bilinear_games

BETA = 0.85 * np.exp(1j * np.pi / 8)


def _random_linear_game(seed, m=2, n=3):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(m, n))
    b = rng.normal(size=m)
    c = rng.normal(size=n)
    # A general (non-zero-sum) linear game: add a symmetric part for each player.
    S1, S2 = rng.normal(size=(m, m)), rng.normal(size=(n, n))
    x0, y0 = rng.normal(size=m), rng.normal(size=n)

    def l1(p):
        x, y = p
        return 0.5 * (x - x0) @ (S1 @ S1.T) @ (x - x0) + x @ A @ y + b @ x

    def l2(p):
        x, y = p
        return 0.5 * (y - y0) @ (S2 @ S2.T) @ (y - y0) - x @ A @ y + c @ y
    g = games.from_losses(l1, l2, init=(jnp.zeros(m), jnp.zeros(n)))
    return g, (jnp.asarray(rng.normal(size=m)), jnp.asarray(rng.normal(size=n)))


def _state_to_augmented(m, n):
    """Row order of linearize's state [x, y, Re mu_x, Im mu_x, Re mu_y, Im mu_y]
    rearranged to augmented_matrix's [Re mu; Im mu; omega]."""
    d = m + n
    x, y = np.arange(m), m + np.arange(n)
    re_x, im_x = d + np.arange(m), d + m + np.arange(m)
    re_y, im_y = d + 2 * m + np.arange(n), d + 2 * m + n + np.arange(n)
    return np.concatenate([re_x, re_y, im_x, im_y, x, y])


@pytest.mark.parametrize("alternating", [False, True])
@pytest.mark.parametrize("seed, lr", [(0, 0.3), (1, 0.05 + 0.02j)])
def test_linearize_equals_augmented_matrix(seed, lr, alternating):
    g, p = _random_linear_game(seed)
    dyn = dynamics.complex_momentum(lr, BETA, alternating=alternating)
    L = np.asarray(dynamics.linearize(g, dyn, p))       # linear game: any point
    J = np.asarray(games.jacobian(g, p))
    R = np.asarray(dynamics.augmented_matrix(J, lr, BETA, alternating=alternating,
                                             sizes=(2, 3)))
    perm = _state_to_augmented(2, 3)
    np.testing.assert_allclose(L[np.ix_(perm, perm)], R, atol=1e-10)


@pytest.mark.parametrize("alternating", [False, True])
@pytest.mark.parametrize("lr", [0.3, 0.05 + 0.02j])
def test_augmented_matrix_is_one_numpy_step(lr, alternating):
    # R x must equal one step of the update equations, run in NumPy on xi = J w.
    rng = np.random.default_rng(7)
    J = rng.normal(size=(5, 5))
    w, mu = rng.normal(size=5), rng.normal(size=5) + 1j * rng.normal(size=5)
    blocks = [np.arange(2), np.arange(2, 5)] if alternating else None
    w1, mu1 = complex_momentum_step(J, w, mu, lr, BETA, blocks)
    R = np.asarray(dynamics.augmented_matrix(J, lr, BETA, alternating=alternating,
                                             sizes=(2, 3)))
    x1 = R @ np.concatenate([mu.real, mu.imag, w])
    np.testing.assert_allclose(x1, np.concatenate([mu1.real, mu1.imag, w1]), atol=1e-12)


def test_augmented_matrix_by_hand_for_scalar_bilinear():
    # L = s x y: J = [[0, s], [-s, 0]]; write R from the update equations directly.
    s, a, b = 1.3, 0.2, 0.7 * np.exp(0.4j)
    J = np.array([[0, s], [-s, 0]])
    I = np.eye(2)
    R = np.block([[b.real * I, -b.imag * I, -J], [b.imag * I, b.real * I, 0 * I],
                  [(a * b).real * I, -(a * b).imag * I, I - a * J]])
    np.testing.assert_allclose(dynamics.augmented_matrix(J, a, b), R, atol=1e-14)
    with pytest.raises(ValueError, match="square"):
        dynamics.augmented_matrix(np.ones((2, 3)), a, b)
    with pytest.raises(ValueError, match="add up"):
        dynamics.augmented_matrix(J, a, b, alternating=True, sizes=(1, 2))
    # J alone does not say how many players there are: alternating needs sizes.
    with pytest.raises(ValueError, match=r"needs sizes=\(d_1, ..., d_n\)"):
        dynamics.augmented_matrix(np.eye(3), a, b, alternating=True)


def _run(g, dyn, p, steps):
    return np.asarray(jax.flatten_util.ravel_pytree(
        dynamics.simulate(g, dyn, p, steps, metrics=()).params)[0]).reshape(steps + 1, -1)


def test_two_real_buffers_and_conjugate_pair_give_the_same_trajectory():
    g, p = _random_linear_game(3)
    lr = 0.04 + 0.01j
    ref = _run(g, dynamics.complex_momentum(lr, BETA), p, 60)
    B = np.array([[BETA.real, -BETA.imag], [BETA.imag, BETA.real]])
    rec = _run(g, dynamics.recurrent_momentum(B, np.array([lr.real, -lr.imag])), p, 60)
    agg = _run(g, dynamics.aggregated_momentum([lr / 2, np.conj(lr) / 2],
                                               [BETA, np.conj(BETA)]), p, 60)
    np.testing.assert_allclose(rec, ref, atol=1e-10)
    np.testing.assert_allclose(agg, ref, atol=1e-10)


def test_aggregated_and_recurrent_momentum_match_numpy_loops():
    Q = np.array([[2.0, 0.3], [0.3, 0.5]])
    w0 = np.array([1.0, -2.0])
    g = games.from_losses(lambda p: 0.5 * p[0] @ jnp.asarray(Q) @ p[0], init=(jnp.zeros(2),))
    lrs, betas = np.array([0.05, 0.03 - 0.01j]), np.array([0.6, -0.4 + 0.3j])
    B, a = np.array([[0.7, -0.3], [0.25, 0.6]]), np.array([0.1, 0.02])
    w, mus = w0.copy(), np.zeros((2, 2), complex)
    v, M = w0.copy(), np.zeros((2, 2))
    ref_agg, ref_rec = [w.copy()], [v.copy()]
    for _ in range(30):
        mus = betas[:, None] * mus - Q @ w
        w = w + (lrs @ mus).real
        M = B @ M
        M[0] -= Q @ v
        v = v + a @ M
        ref_agg.append(w.copy())
        ref_rec.append(v.copy())
    start = (jnp.asarray(w0),)
    np.testing.assert_allclose(_run(g, dynamics.aggregated_momentum(lrs, betas), start, 30),
                               np.array(ref_agg), atol=1e-12)
    np.testing.assert_allclose(_run(g, dynamics.recurrent_momentum(B, a), start, 30),
                               np.array(ref_rec), atol=1e-12)


def _numpy_complex_momentum(grad, w, lr, beta, steps):
    mu = np.zeros_like(w, dtype=complex)
    out = [w.copy()]
    for _ in range(steps):
        mu = beta * mu - grad(w)
        w = w + (lr * mu).real
        out.append(w.copy())
    return np.array(out)


def test_complex_momentum_matches_numpy_and_optax_on_one_player():
    Q = np.array([[2.0, 0.3], [0.3, 0.5]])
    w0 = np.array([1.0, -2.0])
    g = games.from_losses(lambda p: 0.5 * p[0] @ jnp.asarray(Q) @ p[0],
                          init=(jnp.zeros(2),))
    ref = _numpy_complex_momentum(lambda w: Q @ w, w0, 0.1, BETA, 40)
    ours = _run(g, dynamics.complex_momentum(0.1, BETA), (jnp.asarray(w0),), 40)
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    opt = optax.chain(optax.identity(), dynamics.optax_complex_momentum(0.1, BETA))
    w, s = jnp.asarray(w0), opt.init(jnp.asarray(w0))
    for t in range(40):
        u, s = opt.update(jnp.asarray(Q) @ w, s, w)
        w = optax.apply_updates(w, u)
        np.testing.assert_allclose(w, ref[t + 1], atol=1e-12)


def _numpy_complex_adam(grad, w, lr, b1, b2, eps, steps):
    mu = np.zeros_like(w, dtype=complex)
    v = np.zeros_like(w)
    out = [w.copy()]
    for t in range(1, steps + 1):
        g = grad(w)
        mu = b1 * mu - (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w + lr * (mu / (1 - b1**t)).real / (np.sqrt(v / (1 - b2**t)) + eps)
        out.append(w.copy())
    return np.array(out)


def test_complex_adam_is_adam_for_real_beta1_and_matches_numpy_for_complex():
    Q = np.array([[2.0, 0.3], [0.3, 0.5]])
    w0 = np.array([1.0, -2.0])
    g = games.from_losses(lambda p: 0.5 * p[0] @ jnp.asarray(Q) @ p[0], init=(jnp.zeros(2),))
    ours = _run(g, dynamics.complex_adam(0.05, 0.9), (jnp.asarray(w0),), 30)
    opt, w = optax.adam(0.05, b1=0.9), jnp.asarray(w0)
    s = opt.init(w)
    for t in range(30):
        u, s = opt.update(jnp.asarray(Q) @ w, s)
        w = optax.apply_updates(w, u)
        np.testing.assert_allclose(ours[t + 1], w, atol=1e-10)
    ref = _numpy_complex_adam(lambda w: Q @ w, w0, 0.05, BETA, 0.999, 1e-8, 30)
    ours = _run(g, dynamics.complex_adam(0.05, BETA), (jnp.asarray(w0),), 30)
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    opt, w = dynamics.optax_complex_adam(0.05, BETA), jnp.asarray(w0)
    s = opt.init(w)
    for t in range(30):
        u, s = opt.update(jnp.asarray(Q) @ w, s)
        w = optax.apply_updates(w, u)
    np.testing.assert_allclose(w, ref[-1], atol=1e-10)


def test_bad_complex_hyperparameters():
    with pytest.raises(ValueError, match="lr must be positive.*got -0.1"):
        dynamics.complex_momentum(-0.1, BETA)
    with pytest.raises(ValueError, match="lr must be positive.*got 0j"):
        dynamics.complex_momentum(0j, BETA)
    with pytest.raises(ValueError, match="beta must be finite"):
        dynamics.complex_momentum(0.1, complex("nan"))
    with pytest.raises(TypeError, match="beta must be"):
        dynamics.complex_momentum(0.1, "0.9")
    with pytest.raises(ValueError, match="one entry per buffer; got 2 lrs and 1 betas"):
        dynamics.aggregated_momentum([0.1, 0.1], [0.9])
    with pytest.raises(ValueError, match=r"B must be square.*\(2, 3\)"):
        dynamics.recurrent_momentum(np.ones((2, 3)), np.ones(2))
    with pytest.raises(TypeError, match="beta2 must be real"):
        dynamics.complex_adam(0.1, BETA, beta2=0.9j)


# ---- theorems over random bilinear zero-sum games (Gidel et al. 2019; Lorraine et al. 2022) ----

LRS = np.logspace(-2, 0.5, 12)
REAL_BETAS = np.linspace(-0.99, 0.99, 23)
_momentum_radius = jax.jit(jax.vmap(
    lambda g, lr, b: dynamics.spectral_radius(g, dynamics.momentum(lr, b), g.equilibrium()),
    in_axes=(None, 0, 0)))


@settings(deadline=None, max_examples=12)
@given(bilinear_games(min_size=2, max_size=2, sigma_range=(0.1, 2.0), offsets=True))
def test_no_real_momentum_converges_with_simultaneous_updates(game):
    L, B = np.meshgrid(LRS, REAL_BETAS, indexing="ij")
    rho = np.asarray(_momentum_radius(game, jnp.asarray(L.ravel()), jnp.asarray(B.ravel())))
    assert rho.min() >= 1 - 1e-9, (rho.min(), np.unravel_index(rho.argmin(), L.shape))


MAGS = np.linspace(0.1, 0.99, 12)
ARGS = np.linspace(0, np.pi, 25)


def _envelope_rate(d):
    """Per-step rate from the decay of the windowed maximum over the second half."""
    T = len(d) - 1
    window = T // 8
    a = np.max(d[T // 2 - window: T // 2])
    b = np.max(d[T - window: T])
    return (b / a) ** (1.0 / (T // 2))


@settings(deadline=None, max_examples=6)
@given(bilinear_games(min_size=2, max_size=2, sigma_range=(0.1, 2.0)))
def test_some_complex_beta_converges_and_simulation_contracts_at_that_rate(game):
    rho = dynamics.spectral_radius_grid(game, LRS, MAGS, ARGS)
    i, j, k = np.unravel_index(np.argmin(rho), rho.shape)
    beta = MAGS[j] * np.exp(1j * ARGS[k])
    # The rate from NumPy: J = [[0, A], [-A^T, 0]] from the game's matrix.
    A = np.asarray(game.A)
    J = np.block([[np.zeros_like(A), A], [-A.T, np.zeros_like(A)]])
    expect = np.max(np.abs(np.linalg.eigvals(augmented_simultaneous(J, LRS[i], beta))))
    assert rho[i, j, k] == pytest.approx(expect, abs=1e-10)
    assert expect < 1
    start = game.init(jax.random.key(0))
    # The best setting often has coalescing eigenvalues (a Jordan block), whose decay
    # t rho^t biases a short fit by ~2 ln 2 / T: run long, decaying by ~e^-300 towards
    # the equilibrium at 0 (the norm squares entries: 1e-130 squared is still normal).
    steps = int(np.clip(-300 / np.log(rho[i, j, k]), 400, 8000)) // 8 * 8
    d = np.asarray(dynamics.simulate(game, dynamics.complex_momentum(LRS[i], beta), start,
                                     steps, metrics=("distance",)).metrics["distance"])
    assert abs(_envelope_rate(d) - expect) < 1e-3


@settings(deadline=None, max_examples=12)
@given(bilinear_games(min_size=2, max_size=2, sigma_range=(0.1, 2.0)),
       st.floats(0.01, 0.95))
def test_alternating_gd_has_spectral_radius_exactly_one(game, lr):
    # Stable while lr * sigma_max < 2; sigma_max <= 2 here.
    rho = dynamics.spectral_radius(game, dynamics.alternating(lr), game.equilibrium())
    assert abs(float(rho) - 1.0) < 1e-9


def test_dirac_gan_complex_momentum_converges_where_gd_does_not():
    g = games.dirac_gan()
    lr = 0.5
    rho = dynamics.spectral_radius_grid(g, [lr], MAGS, ARGS)
    j, k = np.unravel_index(np.argmin(rho[0]), rho[0].shape)
    assert rho[0, j, k] < 0.95
    beta = MAGS[j] * np.exp(1j * ARGS[k])
    start = (jnp.asarray(0.3), jnp.asarray(-0.4))
    steps = 600
    final = {}
    for name, dyn in [("complex", dynamics.complex_momentum(lr, beta)),
                      ("simgd", dynamics.simgd(lr)), ("alternating", dynamics.alternating(lr))]:
        final[name] = float(dynamics.simulate(g, dyn, start, steps,
                                              metrics=("distance",)).metrics["distance"][-1])
    assert final["complex"] < 1e-8, final
    assert final["simgd"] > 0.3 and final["alternating"] > 0.1, final


def test_sweep_steps_agree_with_spectral_radius_on_a_linear_game():
    g = games.bilinear(jnp.eye(1))
    grid = dynamics.rate_grid(g, [0.3], [0.3, 0.8, 1.0], [0.2, 1.5],
                              start=g.init(jax.random.key(1)),
                              steps=3000)
    assert (grid.spectral_radius < 0.99).any() and (grid.spectral_radius >= 1).any()
    for j in range(3):
        for k in range(2):
            rho, steps = grid.spectral_radius[0, j, k], grid.steps[0, j, k]
            if rho >= 1:
                assert np.isinf(steps)
            elif np.log(1e-6) / np.log(rho) < 1500:      # well within 3000 steps
                assert np.isfinite(steps)


_SHARD_SCRIPT = textwrap.dedent("""
    import jax, numpy as np
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp, games, dynamics
    g = games.dirac_gan()
    mags, args = np.linspace(0.1, 0.99, 6), np.linspace(0, np.pi, 5)
    rho = dynamics.spectral_radius_grid(g, [0.3, 0.5], mags, args)
    steps = dynamics.steps_to_tolerance_grid(g, (jnp.asarray(0.3), jnp.asarray(-0.2)),
                                             [0.3, 0.5], mags, args, steps=400, tol=1e-3)
    b = jnp.asarray((mags[:, None] * np.exp(1j * args)).ravel())
    raw = dynamics.grid_map(lambda ctx, lr, beta: jnp.abs(beta) * lr, None,
                            jnp.full(b.shape, 0.5), b)
    # the devices the last compiled program's grid index is sharded over
    index = next(reversed(dynamics._sweep._EXECUTABLES.values())).input_shardings[0][1]
    np.savez(__import__("sys").argv[1], rho=rho, steps=steps, raw=raw,
             want=0.5 * np.abs(np.asarray(b)), ndev=len(index.device_set),
             spec=str(index.spec))
""")


@pytest.mark.slow
def test_sharded_sweep_matches_single_device(tmp_path):
    script = tmp_path / "sweep.py"
    script.write_text(_SHARD_SCRIPT)
    out = {}
    for ndev in (1, 4):
        env = dict(os.environ,
                   XLA_FLAGS=f"--xla_force_host_platform_device_count={ndev}",
                   JAX_PLATFORMS="cpu")
        path = tmp_path / f"out{ndev}.npz"
        subprocess.run([sys.executable, str(script), str(path)], check=True, env=env,
                       cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        out[ndev] = np.load(path)
    assert int(out[1]["ndev"]) == 1 and int(out[4]["ndev"]) == 4
    assert "grid" in str(out[4]["spec"])
    np.testing.assert_allclose(out[4]["rho"], out[1]["rho"], atol=1e-12, rtol=0)
    np.testing.assert_array_equal(out[4]["steps"], out[1]["steps"])
    for n in (1, 4):
        np.testing.assert_allclose(out[n]["raw"], out[n]["want"], rtol=1e-15)


def test_a_new_tolerance_does_not_recompile_the_sweep():
    from dynamics._sweep import _EXECUTABLES
    g = games.dirac_gan()
    start = (jnp.asarray(0.1), jnp.asarray(0.0))
    a = dynamics.steps_to_tolerance_grid(g, start, [0.5], [0.7], [0.7], steps=300, tol=1e-2)
    before = list(_EXECUTABLES)
    b = dynamics.steps_to_tolerance_grid(g, start, [0.5], [0.7], [0.7], steps=300, tol=1e-3)
    assert list(_EXECUTABLES) == before           # the same program, reused
    assert a[0, 0, 0] < b[0, 0, 0] < np.inf
