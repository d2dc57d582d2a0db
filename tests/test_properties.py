"""Convergence facts as hypothesis properties over random games (games.strategies).

Expected values come from numpy, computed from the matrices that define each
drawn game (never from ``games.jacobian``).  Sizes are 1..3, so each property
compiles at most three programs; values are traced data.
"""

import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dynamics
from games.strategies import (adversarial_games, bilinear_games, normal_form_games,
                              quadratic_games)

T = 16
lrs = st.floats(0.01, 1.0)


def _start(data, n):
    vec = hnp.arrays(np.float64, (n,), elements=st.floats(-2.0, 2.0))
    x = data.draw(vec)
    y = data.draw(vec.filter(lambda v: np.linalg.norm(v) + np.linalg.norm(x) > 1e-3))
    return jnp.asarray(x), jnp.asarray(y)


def _flat_params(traj):
    return np.concatenate([np.asarray(p) for p in traj.params], axis=1)   # (T+1, d)


@settings(deadline=None, max_examples=20)
@given(bilinear_games(offsets=True), lrs, st.data())
def test_simgd_never_decreases_distance_on_bilinear(game, lr, data):
    A, b, c = (np.asarray(v) for v in (game.A, game.b, game.c))
    n = A.shape[0]
    # xi = (A y + b, -(A^T x + c)) = 0  at  x* = -A^-T c,  y* = -A^-1 b
    eq = np.concatenate([-np.linalg.solve(A.T, c), -np.linalg.solve(A, b)])
    J = np.block([[np.zeros((n, n)), A], [-A.T, np.zeros((n, n))]])
    traj = dynamics.simulate(game, dynamics.simgd(lr), _start(data, n), T, metrics=())
    e = _flat_params(traj) - eq
    dist2 = np.sum(e**2, axis=1)
    # J is antisymmetric: |e - lr J e|^2 = |e|^2 + lr^2 |J e|^2 >= |e|^2.
    expected_next = dist2[:-1] + lr**2 * np.sum((e[:-1] @ J.T) ** 2, axis=1)
    np.testing.assert_allclose(dist2[1:], expected_next, rtol=1e-9, atol=1e-12)
    assert np.all(dist2[1:] >= dist2[:-1] * (1 - 1e-12))


@settings(deadline=None, max_examples=20)
@given(quadratic_games(), lrs, st.data())
def test_gd_on_quadratic_game_is_matrix_power(game, lr, data):
    d = {k: np.asarray(v) for k, v in game.data.items()}
    g, n = float(d["gamma"]), d["A"].shape[0]
    J = np.block([[(1 - g) * d["S1"], g * d["A"]], [-g * d["A"].T, (1 - g) * d["S2"]]])
    p0 = _start(data, n)
    w0 = np.concatenate([np.asarray(p) for p in p0])
    traj = dynamics.simulate(game, dynamics.simgd(lr), p0, T, metrics=())
    M = np.eye(2 * n) - lr * J
    expected = np.stack([np.linalg.matrix_power(M, t) @ w0 for t in range(T + 1)])
    scale = np.max(np.abs(expected), axis=1, keepdims=True)
    np.testing.assert_allclose(_flat_params(traj), expected, rtol=1e-9, atol=1e-12 * scale.max())


@settings(deadline=None, max_examples=15)
@given(bilinear_games(), lrs)
def test_bilinear_rates_follow_singular_values(game, lr):
    s = np.linalg.svd(np.asarray(game.A), compute_uv=False)
    eq = game.equilibrium()
    # eigenvalues of J are +-i sigma_k: simGD |1 - i lr s| = sqrt(1 + lr^2 s^2) and
    # extragradient |1 - i lr s - lr^2 s^2| = sqrt(1 - lr^2 s^2 + lr^4 s^4).
    np.testing.assert_allclose(dynamics.spectral_radius(game, dynamics.simgd(lr), eq),
                               np.sqrt(1 + lr**2 * s.max() ** 2), rtol=1e-10)
    np.testing.assert_allclose(dynamics.spectral_radius(game, dynamics.extragradient(lr), eq),
                               np.max(np.sqrt(1 - lr**2 * s**2 + lr**4 * s**4)), rtol=1e-10)
    if lr * s.max() < 1.9:     # alternating: per singular value det 1, |trace| < 2
        np.testing.assert_allclose(
            dynamics.spectral_radius(game, dynamics.alternating(lr), eq), 1.0, rtol=1e-9)


@settings(deadline=None, max_examples=15)
@given(adversarial_games(max_size=4), lrs)
def test_simgd_rate_on_adversarial_family(game, lr):
    # coordinate k: J_k = [[(1-g) b, -g a], [g a, (1-g) b]], eigenvalues (1-g) b +- i g a.
    g, a, b = (np.asarray(v) for v in (game.gammas, game.a, game.b))
    lam = (1 - g) * b + 1j * g * a
    expected = np.max(np.abs(1 - lr * lam))
    got = dynamics.spectral_radius(game, dynamics.simgd(lr), game.equilibrium())
    np.testing.assert_allclose(got, expected, rtol=1e-10)


@settings(deadline=None, max_examples=10)
@given(normal_form_games(zero_sum=True))
def test_normal_form_strategy_draws_zero_sum_payoffs(payoffs):
    r1, r2 = payoffs
    assert r1.shape == r2.shape and 2 <= r1.shape[0] <= 3 and 2 <= r1.shape[1] <= 3
    np.testing.assert_array_equal(r1, -r2)
    assert np.all(np.abs(r1) <= 1.0)
